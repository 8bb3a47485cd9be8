#!/bin/sh
# make demo: privman's main job on a built-in default.
set -u
BUILD=${BUILD:-build}
PRIVMAN=$BUILD/privman
policy=examples/smtpd.conf

if [ -t 1 ]; then bold='\033[1m' plain='\033[0m'; else bold='' plain=''; fi
step() { printf "\n${bold}== %s${plain}\n" "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "privman check: validate a policy and print it back, each entry with its origin"
show "$PRIVMAN" check -c "$policy"

step "Explain an allowed and a refused request"
show "$PRIVMAN" check -q -c "$policy" \
	-r 'open_ro /etc/hostname' \
	-r 'bind 127.0.0.1:25' \
	-r 'open /etc/hostname O_RDWR' \
	-r 'open_ro /etc/shadow' \
	-r 'run_as root'
echo "(exit status $?: 3 means the policy is valid and a request was denied)"

step "A broken policy is refused with a located message, and grants nothing"
tmp=$(mktemp -d)
printf 'open_ro /etc/hostname\nopen_r0 /etc/shadow\nbind 70000\n' > "$tmp/broken.conf"
show "$PRIVMAN" check -c "$tmp/broken.conf"
echo "(exit status $?)"
rm -rf "$tmp"

for part in scripts/demo-run.sh scripts/demo-broker.sh scripts/demo-learn.sh \
	scripts/demo-monitor.sh; do
	[ -f "$part" ] && BUILD=$BUILD sh "$part"
done
exit 0
