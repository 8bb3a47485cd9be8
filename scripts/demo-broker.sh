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

# shellcheck source=scripts/nginx-common.sh
. "$(dirname "$0")/nginx-common.sh"
nginx_dirs
echo "hello from nginx, which is not root and holds no capability" | nginx_page
nginx_logs
nginx_conf 2 256 "$tmp/run" notice
{
	echo "# nginx as nobody (the default scope), with what only root could give it:"
	nginx_policy_logs
	nginx_policy_pid
} > "$tmp/nginx.policy"

if nginx_port_busy; then
	echo "(port $PORT on 127.0.0.1 is in use: set DEMO_HTTP_PORT to a free port below 1024)"
	exit 0
fi

step "The broker: an unmodified nginx on port $PORT, as nobody, with no capability"
show cat "$tmp/nginx.policy"
show ls -l "$tmp/logs"
show "$PRIVMAN" run --dry-run -c "$tmp/nginx.policy" -- nginx -c "$tmp/nginx.conf" 2>&1 |
	grep -E 'broker|execute'
echo "\$ PRIVMAN_AUDIT=$tmp/audit.json $PRIVMAN run -c $tmp/nginx.policy -- nginx -e $tmp/logs/error.log -c $tmp/nginx.conf &"
PRIVMAN_AUDIT="$tmp/audit.json" nginx_serve "$PRIVMAN" run -c "$tmp/nginx.policy" \
	-- nginx -e "$tmp/logs/error.log" -c "$tmp/nginx.conf" || exit 0
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
nginx_stop

step "What the monitor did for nginx, and the logs it wrote through"
show cat "$tmp/logs/access.log"
show ls -l "$tmp/logs" "$tmp/run"
echo "\$ cut -c1-150 $tmp/audit.json"
cut -c1-150 "$tmp/audit.json"
echo "(the bind, the logs and the pid file came from the monitor, audited; every"
echo " other open was the kernel's to decide, with nginx's own rights)"
exit 0
