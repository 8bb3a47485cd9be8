#!/bin/sh
# make demo, part: the broker. Debian's nginx, unchanged, runs as nobody with
# no capability at all; `privman run`'s root monitor binds port 80 for it,
# opens its root-owned logs (append-only streams) and its pid file, as the
# policy grants, and lets the kernel decide everything else.
set -u
BUILD=${BUILD:-build}
PRIVMAN=$(realpath "$BUILD/privman")
PORT=${DEMO_HTTP_PORT:-80}

if [ -t 1 ]; then bold='\033[1m' plain='\033[0m'; else bold='' plain=''; fi
step() { printf "\n${bold}== %s${plain}\n" "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/nginx ]; then
	step "privman run's broker (skipped: needs root and nginx-light)"
	exit 0
fi

tmp=$(mktemp -d)
chmod 0755 "$tmp"
server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
mkdir "$tmp/www" "$tmp/logs" "$tmp/run" "$tmp/tmp"
chown nobody "$tmp/tmp"
echo "hello from nginx, which is not root and holds no capability" > "$tmp/www/index.html"
chmod -R a+rX "$tmp/www"
: > "$tmp/logs/access.log"
: > "$tmp/logs/error.log"
chmod 0600 "$tmp/logs/access.log" "$tmp/logs/error.log"
cat > "$tmp/nginx.conf" <<CONF
daemon off;
worker_processes 2;
pid $tmp/run/nginx.pid;
error_log $tmp/logs/error.log notice;
events { worker_connections 256; }
http {
    access_log $tmp/logs/access.log;
    client_body_temp_path $tmp/tmp/body;
    proxy_temp_path $tmp/tmp/proxy;
    fastcgi_temp_path $tmp/tmp/fastcgi;
    uwsgi_temp_path $tmp/tmp/uwsgi;
    scgi_temp_path $tmp/tmp/scgi;
    server { listen 127.0.0.1:$PORT; root $tmp/www; }
}
CONF
cat > "$tmp/nginx.policy" <<POLICY
# nginx as nobody (the default scope), with what only root could give it:
bind    127.0.0.1:$PORT
open_ao { $tmp/logs/error.log $tmp/logs/access.log }
open_rw $tmp/run/nginx.pid
unlink  $tmp/run/nginx.pid
POLICY

if curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null; then
	echo "(port $PORT on 127.0.0.1 is in use: set DEMO_HTTP_PORT to a free port below 1024)"
	exit 0
fi

step "The broker: an unmodified nginx on port $PORT, as nobody, with no capability"
show cat "$tmp/nginx.policy"
show ls -l "$tmp/logs"
show "$PRIVMAN" run --dry-run -c "$tmp/nginx.policy" -- nginx -c "$tmp/nginx.conf" 2>&1 |
	grep -E 'broker|execute'
echo "\$ PRIVMAN_AUDIT=$tmp/audit.json $PRIVMAN run -c $tmp/nginx.policy -- nginx -e $tmp/logs/error.log -c $tmp/nginx.conf &"
PRIVMAN_AUDIT="$tmp/audit.json" "$PRIVMAN" run -c "$tmp/nginx.policy" \
	-- nginx -e "$tmp/logs/error.log" -c "$tmp/nginx.conf" >"$tmp/server.log" 2>&1 &
server=$!
tries=0
until curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$PORT/"; do
	tries=$((tries + 1))
	if [ $tries -ge 50 ] || ! kill -0 "$server" 2>/dev/null; then
		echo "nginx did not answer; its output:"
		cat "$tmp/server.log"
		exit 0
	fi
	sleep 0.1
done
show curl -s "http://127.0.0.1:$PORT/index.html"
tree() { echo "$1"; for c in $(pgrep -P "$1"); do tree "$c"; done; }
echo "\$ ps -o pid,ppid,user,comm,args -p <privman run and every process below it>"
ps -o pid,ppid,user,comm,args -p "$(tree "$server" | paste -sd,)" | cut -c1-110
master=$(pgrep -x nginx -P "$(pgrep -d, -P "$server")" | head -1)
if [ -n "$master" ]; then
	echo "\$ grep -E '^(Uid|CapPrm|CapEff)' /proc/$master/status"
	grep -E '^(Uid|CapPrm|CapEff)' "/proc/$master/status"
fi
echo "(privman[broker] is the root monitor; privman-guard ends the tree if the"
echo " monitor dies; privman-append writes the logs; nginx and its workers are"
echo " nobody with no capability)"
kill "$server"
wait "$server" 2>/dev/null
server=

step "What the monitor did for nginx, and the logs it wrote through"
show cat "$tmp/logs/access.log"
show ls -l "$tmp/logs" "$tmp/run"
echo "\$ cut -c1-150 $tmp/audit.json"
cut -c1-150 "$tmp/audit.json"
echo "(the bind, the logs and the pid file came from the monitor, audited; every"
echo " other open was the kernel's to decide, with nginx's own rights)"
exit 0
