#!/bin/sh
# make demo, part: a server split by priv_init. As root, examples/privman-demo
# binds 127.0.0.1:80 through the monitor, serves a root-only file it may read
# only through priv_open, is refused /etc/shadow, and shows that it runs as
# nobody with no capability. curl talks to it; the audit lines follow.
set -u
BUILD=${BUILD:-build}
DEMO=$BUILD/examples/privman-demo
PORT=80
DOCS=/run/privman-demo

if [ -t 1 ]; then bold='\033[1m' plain='\033[0m'; else bold='' plain=''; fi
step() { printf "\n${bold}== %s${plain}\n" "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

if [ "$(id -u)" != 0 ]; then
	step "privman-demo (skipped: priv_init must be called as root)"
	exit 0
fi
if ! command -v curl >/dev/null; then
	step "privman-demo (skipped: curl is missing; scripts/deps.sh installs it)"
	exit 0
fi
if [ ! -x "$DEMO" ]; then
	echo "demo-monitor.sh: $DEMO is not built (make $DEMO)" >&2
	exit 1
fi

tmp=$(mktemp -d)
server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	rm -rf "$tmp" "$DOCS"
}
trap cleanup EXIT INT TERM

# The policy names port 80; if something else holds it, use another
# privileged port and a copy of the policy that names that one.
conf=examples/privman.d
if ss -Htln "sport = :$PORT" 2>/dev/null | grep -q .; then
	PORT=81
	mkdir -p "$tmp/privman.d"
	sed "s/127.0.0.1:80/127.0.0.1:$PORT/" examples/privman.d/privman-demo \
		> "$tmp/privman.d/privman-demo"
	conf=$tmp/privman.d
fi

mkdir -p "$DOCS"
chmod 0700 "$DOCS"
echo "hello from a file only root can read" > "$DOCS/index.txt"
chmod 0600 "$DOCS/index.txt"

step "privman-demo: the policy"
cat "$conf/privman-demo"

step "Start the server as root; priv_init splits it into monitor (root) and program (nobody)"
echo "\$ PRIVMAN_CONF_DIR=$conf PRIVMAN_AUDIT=$tmp/audit.json $DEMO $PORT &"
PRIVMAN_CONF_DIR=$conf PRIVMAN_AUDIT=$tmp/audit.json "$DEMO" "$PORT" &
server=$!
for _ in $(seq 1 100); do
	curl -s -o /dev/null "http://127.0.0.1:$PORT/self" && break
	sleep 0.05
done

step "Two processes: the monitor stays root, the program runs as nobody"
show ps -o user,pid,ppid,comm,args --pid "$server" --ppid "$server"

step "Who the server is now: uid and gid 65534 (nobody), every capability set empty"
show curl -s "http://127.0.0.1:$PORT/self"

step "A root-only file (mode 0600), read through priv_open: granted by open_ro"
ls -l "$DOCS/index.txt"
show curl -s -w '(HTTP %{http_code})\n' "http://127.0.0.1:$PORT/file$DOCS/index.txt"

step "The same file with plain open(2): the server itself cannot read it"
show curl -s -w '(HTTP %{http_code})\n' "http://127.0.0.1:$PORT/direct$DOCS/index.txt"

step "A file the policy does not grant, through priv_open: refused"
show curl -s -w '(HTTP %{http_code})\n' "http://127.0.0.1:$PORT/file/etc/shadow"
show curl -s -w '(HTTP %{http_code})\n' "http://127.0.0.1:$PORT/file$DOCS/../../etc/shadow"

curl -s -o /dev/null "http://127.0.0.1:$PORT/quit"
wait "$server"
status=$?
server=
echo "(the server and its monitor exited with status $status)"

step "The monitor's audit trail (PRIVMAN_AUDIT; also to syslog, authpriv, when a daemon listens on /dev/log)"
cat "$tmp/audit.json"
exit 0
