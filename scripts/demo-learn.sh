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

# shellcheck source=scripts/nginx-common.sh
. "$(dirname "$0")/nginx-common.sh"
nginx_dirs
echo "hello from nginx, under a policy privman learn wrote" | nginx_page
nginx_logs
nginx_conf 2 256 "$tmp/run" notice

if nginx_port_busy; then
	echo "(port $PORT on 127.0.0.1 is in use: set DEMO_LEARN_PORT to a free port below 1024)"
	exit 0
fi

step "privman learn: nginx, unchanged, with no policy at all, learning (as nobody)"
echo "\$ $PRIVMAN learn -o $tmp/nginx.policy -- nginx -e $tmp/logs/error.log -c $tmp/nginx.conf &"
nginx_serve "$PRIVMAN" learn -o "$tmp/nginx.policy" \
	-- nginx -e "$tmp/logs/error.log" -c "$tmp/nginx.conf" || exit 0
show curl -s "http://127.0.0.1:$PORT/index.html"
nginx_stop
echo "\$ (privman learn's own output)"
cat "$tmp/server.log"

step "The policy it wrote: only what nobody could not do itself"
show cat "$tmp/nginx.policy"
show "$PRIVMAN" check -q -c "$tmp/nginx.policy"
echo "(exit status $?: the policy is valid)"

step "nginx under the learned policy: the same page, and no refusal in the audit"
echo "\$ PRIVMAN_AUDIT=$tmp/audit.json $PRIVMAN run -c $tmp/nginx.policy -- nginx -e $tmp/logs/error.log -c $tmp/nginx.conf &"
PRIVMAN_AUDIT="$tmp/audit.json" nginx_serve "$PRIVMAN" run -c "$tmp/nginx.policy" \
	-- nginx -e "$tmp/logs/error.log" -c "$tmp/nginx.conf" || exit 0
show curl -s "http://127.0.0.1:$PORT/index.html"
nginx_stop
echo "\$ grep -c '\"decision\":\"deny\"' $tmp/audit.json"
grep -c '"decision":"deny"' "$tmp/audit.json"
echo "\$ cut -c1-120 $tmp/audit.json"
cut -c1-120 "$tmp/audit.json"
exit 0
