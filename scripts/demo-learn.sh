#!/bin/sh
# make demo, part: privman learn. Debian's nginx, unchanged, runs under a
# learning broker as nobody: what nobody could not do itself (the privileged
# port, the root-owned logs, the pid file) is served and recorded, the rest
# is left to the kernel. The policy written is then the one nginx runs with.
set -u
BUILD=${BUILD:-build}
PRIVMAN=$(realpath "$BUILD/privman")
PORT=${DEMO_LEARN_PORT:-${DEMO_HTTP_PORT:-80}}

if [ -t 1 ]; then bold='\033[1m' plain='\033[0m'; else bold='' plain=''; fi
step() { printf "\n${bold}== %s${plain}\n" "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/nginx ] || ! command -v curl >/dev/null; then
	step "privman learn (skipped: needs root, nginx-light and curl)"
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
echo "hello from nginx, under a policy privman learn wrote" > "$tmp/www/index.html"
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

if curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null; then
	echo "(port $PORT on 127.0.0.1 is in use: set DEMO_LEARN_PORT to a free port below 1024)"
	exit 0
fi

# Start $@ in the background, wait until nginx answers; 1 if it never does.
serve() {
	"$@" >"$tmp/server.log" 2>&1 &
	server=$!
	tries=0
	until curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$PORT/"; do
		tries=$((tries + 1))
		if [ $tries -ge 50 ] || ! kill -0 "$server" 2>/dev/null; then
			echo "nginx did not answer; its output:"
			cat "$tmp/server.log"
			return 1
		fi
		sleep 0.1
	done
}

stop() {
	kill "$server"
	wait "$server" 2>/dev/null
	server=
}

step "privman learn: nginx, unchanged, with no policy at all, learning (as nobody)"
echo "\$ $PRIVMAN learn -o $tmp/nginx.policy -- nginx -e $tmp/logs/error.log -c $tmp/nginx.conf &"
serve "$PRIVMAN" learn -o "$tmp/nginx.policy" \
	-- nginx -e "$tmp/logs/error.log" -c "$tmp/nginx.conf" || exit 0
show curl -s "http://127.0.0.1:$PORT/index.html"
stop
echo "\$ (privman learn's own output)"
cat "$tmp/server.log"

step "The policy it wrote: only what nobody could not do itself"
show cat "$tmp/nginx.policy"
show "$PRIVMAN" check -q -c "$tmp/nginx.policy"
echo "(exit status $?: the policy is valid)"

step "nginx under the learned policy: the same page, and no refusal in the audit"
echo "\$ PRIVMAN_AUDIT=$tmp/audit.json $PRIVMAN run -c $tmp/nginx.policy -- nginx -e $tmp/logs/error.log -c $tmp/nginx.conf &"
PRIVMAN_AUDIT="$tmp/audit.json" serve "$PRIVMAN" run -c "$tmp/nginx.policy" \
	-- nginx -e "$tmp/logs/error.log" -c "$tmp/nginx.conf" || exit 0
show curl -s "http://127.0.0.1:$PORT/index.html"
stop
echo "\$ grep -c '\"decision\":\"deny\"' $tmp/audit.json"
grep -c '"decision":"deny"' "$tmp/audit.json"
echo "\$ cut -c1-120 $tmp/audit.json"
cut -c1-120 "$tmp/audit.json"
exit 0
