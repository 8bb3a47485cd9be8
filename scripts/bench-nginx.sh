#!/bin/sh
# make bench, part: Debian's nginx, unchanged, with one configuration, served
# by `privman run`'s broker (as nobody, no capability) and run as root (the
# master root, its workers nobody): requests per second with wrk against
# 127.0.0.1, each run BENCH_NGINX_SECONDS long, best of BENCH_NGINX_ROUNDS
# alternated runs of each. Goal: the broker serves at least 0.9x root.
# Three configurations: nginx's pid file granted by open_rw, so that every
# O_RDONLY open goes to the monitor, including the one of each request's
# file (which the kernel then performs); the pid file in a directory nginx
# may write itself, so that only the logs' opens go to the monitor; and the
# first with open_file_cache, as production servers run.
set -u
BUILD=${BUILD:-build}
PRIVMAN=$(realpath "$BUILD/privman")
PORT=${BENCH_HTTP_PORT:-752}
SECONDS_EACH=${BENCH_NGINX_SECONDS:-5}
ROUNDS=${BENCH_NGINX_ROUNDS:-3}

if [ ! -x /usr/sbin/nginx ] || ! command -v wrk >/dev/null; then
	echo "bench-nginx: nginx-light and wrk are needed (scripts/deps.sh)"
	exit 1
fi
tmp=$(mktemp -d /tmp/privman-bench.XXXXXX)
chmod 0755 "$tmp"
server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
mkdir "$tmp/www" "$tmp/logs" "$tmp/run" "$tmp/tmp"
chown nobody "$tmp/tmp"
head -c 612 /dev/zero | tr '\0' 'x' > "$tmp/www/index.html"
chmod -R a+rX "$tmp/www"
# $1: extra http directives; $2: the pid file's directory.
write_conf() {
cat > "$tmp/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $2/nginx.pid;
error_log $tmp/logs/error.log;
events { worker_connections 1024; }
http {
    access_log $tmp/logs/access.log;
    client_body_temp_path $tmp/tmp/body;
    proxy_temp_path $tmp/tmp/proxy;
    fastcgi_temp_path $tmp/tmp/fastcgi;
    uwsgi_temp_path $tmp/tmp/uwsgi;
    scgi_temp_path $tmp/tmp/scgi;
    $1
    server { listen 127.0.0.1:$PORT; root $tmp/www; }
}
CONF
}
cat > "$tmp/policy" <<POLICY
bind    127.0.0.1:$PORT
open_ao { $tmp/logs/error.log $tmp/logs/access.log }
open_rw $tmp/run/nginx.pid
unlink  $tmp/run/nginx.pid
POLICY
cat > "$tmp/policy-logs" <<POLICY
bind    127.0.0.1:$PORT
open_ao { $tmp/logs/error.log $tmp/logs/access.log }
POLICY

# Requests per second of one wrk run against the server started by "$@".
measure() {
	: > "$tmp/logs/access.log"
	: > "$tmp/logs/error.log"
	chmod 0600 "$tmp/logs/access.log" "$tmp/logs/error.log"
	"$@" >"$tmp/server.log" 2>&1 &
	server=$!
	tries=0
	until curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$PORT/index.html"; do
		tries=$((tries + 1))
		if [ $tries -ge 50 ]; then
			echo "bench-nginx: the server did not answer:" >&2
			cat "$tmp/server.log" >&2
			echo 0
			return
		fi
		sleep 0.1
	done
	wrk -t1 -c16 -d"${SECONDS_EACH}s" "http://127.0.0.1:$PORT/index.html" |
		awk '/^Requests\/sec:/ { print int($2) }'
	kill "$server"
	wait "$server" 2>/dev/null
	server=
}

# $1: the configuration's name; $2: its extra http directives; $3: the pid
# file's directory; $4: the policy.
compare() {
	write_conf "$2" "$3"
	best_root=0
	best_broker=0
	for round in $(seq "$ROUNDS"); do
		r=$(measure /usr/sbin/nginx -e "$tmp/logs/error.log" -c "$tmp/nginx.conf")
		b=$(measure "$PRIVMAN" run -c "$4" -- /usr/sbin/nginx \
			-e "$tmp/logs/error.log" -c "$tmp/nginx.conf")
		echo "$1, round $round: root $r req/s, broker $b req/s"
		[ "$r" -gt "$best_root" ] && best_root=$r
		[ "$b" -gt "$best_broker" ] && best_broker=$b
	done
	awk -v r="$best_root" -v b="$best_broker" -v name="$1" 'BEGIN {
		ratio = r ? b / r : 0
		printf "%-52s %10d/s\n", "nginx as root (workers nobody), " name, r
		printf "%-52s %10d/s\n", "nginx under the broker, " name, b
		printf "%-52s %11.2fx   >= 0.9x: %s\n", "  broker / root", ratio,
		       (ratio >= 0.9 ? "met" : "NOT MET")
	}'
}
compare "pid file by open_rw" "" "$tmp/run" "$tmp/policy"
compare "pid file its own" "" "$tmp/tmp" "$tmp/policy-logs"
compare "open_file_cache" "open_file_cache max=1000;" "$tmp/run" "$tmp/policy"
