#!/bin/sh
# Install the Debian packages that privman's build, tests and tools need, when missing.
# Safe to run again: it does nothing when everything is present.
set -eu

packages="make gcc clang pkg-config libcap-dev libcap2-bin libpam0g-dev libpam-modules
libpam-runtime libseccomp-dev libcriterion-dev libpam-wrapper util-linux passwd curl llvm
python3 procps iproute2 libclang-rt-14-dev libpam-modules-bin nginx-light wrk"

missing=""
for p in $packages; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$missing" >&2
	echo "deps.sh: run as root (or: sudo apt-get install$missing)" >&2
	exit 1
fi

echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
