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
# shellcheck source=scripts/nginx-common.sh
. "$(dirname "$0")/nginx-common.sh"
nginx_dirs /tmp/privman-bench.XXXXXX
head -c 612 /dev/zero | tr '\0' 'x' | nginx_page
{
	nginx_policy_logs
	nginx_policy_pid
} > "$tmp/policy"
nginx_policy_logs > "$tmp/policy-logs"

# Requests per second of one wrk run against the server started by "$@".
measure() {
	nginx_logs
	if ! nginx_start "$@"; then
		echo "bench-nginx: the server did not answer:" >&2
		cat "$tmp/server.log" >&2
		echo 0
		return
	fi
	wrk -t1 -c16 -d"${SECONDS_EACH}s" "http://127.0.0.1:$PORT/index.html" |
		awk '/^Requests\/sec:/ { print int($2) }'
	nginx_stop
}

# $1: the configuration's name; $2: its extra http directives; $3: the pid
# file's directory; $4: the policy.
compare() {
	nginx_conf 1 1024 "$3" "" "$2"
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
