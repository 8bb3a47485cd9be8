#!/bin/sh
# make bench: run each benchmark program given as an argument. Every figure
# is a ratio measured in one run on this machine (DESIGN.md "Performance
# method"). Needs root: the programs call priv_init.
set -u
if [ "$(id -u)" != 0 ]; then
	echo "bench.sh: run as root (priv_init must be called as root)" >&2
	exit 1
fi
echo "machine: $(nproc) CPUs, $(uname -r); $(date -u '+%Y-%m-%d %H:%M UTC')"
rc=0
for b in "$@"; do
	echo "== ${b##*/}"
	"$b" || rc=1
done
echo "== nginx (scripts/bench-nginx.sh)"
BUILD=${BUILD:-build} sh scripts/bench-nginx.sh || rc=1
exit $rc
