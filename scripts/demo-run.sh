#!/bin/sh
# make demo, part: `privman run` drops an unmodified server for good.
# python3's http.server binds port 80 as nobody holding only
# cap_net_bind_service; without that capability the same bind is refused.
set -u
BUILD=${BUILD:-build}
PRIVMAN=$BUILD/privman
PORT=${DEMO_HTTP_PORT:-80}

if [ -t 1 ]; then bold='\033[1m' plain='\033[0m'; else bold='' plain=''; fi
step() { printf "\n${bold}== %s${plain}\n" "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

if [ "$(id -u)" != 0 ]; then
	step "privman run (skipped: it drops root, so the demo must run as root)"
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
echo "hello from a server that is not root" > "$tmp/index.txt"
chmod 0644 "$tmp/index.txt"

port_free() {
	! curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null
}

step "privman run --dry-run: every step of the drop, nothing done"
show "$PRIVMAN" run --dry-run -u nobody --caps cap_net_bind_service+ep \
	-- python3 -m http.server "$PORT" --bind 127.0.0.1

if ! port_free; then
	echo "(port $PORT on 127.0.0.1 is in use: set DEMO_HTTP_PORT to a free port below 1024)"
	exit 0
fi

step "An unmodified web server on port $PORT, as nobody, with one capability"
echo "\$ $PRIVMAN run -u nobody --caps cap_net_bind_service+ep -- python3 -m http.server $PORT --bind 127.0.0.1 &"
"$PRIVMAN" run -u nobody --caps cap_net_bind_service+ep \
	-- python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$tmp" \
	>"$tmp/server.log" 2>&1 &
server=$!
tries=0
until curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$PORT/index.txt"; do
	tries=$((tries + 1))
	if [ $tries -ge 50 ] || ! kill -0 "$server" 2>/dev/null; then
		echo "the server did not answer; its log:"
		cat "$tmp/server.log"
		exit 0
	fi
	sleep 0.1
done
show curl -s "http://127.0.0.1:$PORT/index.txt"
echo "\$ grep -E 'Uid|Gid|Groups|Cap|NoNewPrivs' /proc/$server/status"
grep -E 'Uid|Gid|Groups|Cap|NoNewPrivs' "/proc/$server/status"
echo "(uid 65534 is nobody; 0x400 is cap_net_bind_service alone, in every set;"
echo " the bounding set holds nothing else, so no program it runs can get more)"
kill "$server"
wait "$server" 2>/dev/null
server=

step "The same server without the capability: the bind is refused"
echo "\$ $PRIVMAN run -u nobody -- python3 -m http.server $PORT --bind 127.0.0.1"
"$PRIVMAN" run -u nobody -- python3 -m http.server "$PORT" --bind 127.0.0.1 \
	>"$tmp/bare.log" 2>&1
status=$?
grep -E 'Error' "$tmp/bare.log" | tail -1
echo "(exit status $status: the server never held port $PORT)"

step "A refused scope changes nothing and runs nothing"
show "$PRIVMAN" run -u nobody --caps cap_net_bind_servce+ep -- id 2>&1
echo "(exit status $?: 78 means the scope was refused)"
exit 0
