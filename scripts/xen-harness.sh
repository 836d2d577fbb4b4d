#!/bin/sh
# Sets up the Xen test harness: Debian's real xenstored, unpacked (not
# installed: xen-utils-4.17's dependencies would pull in the hypervisor's
# tooling and upgrade systemd) into /var/cache/govirtd/xen/root, plus the
# libraries it links (libxenmisc4.17) and the real clients
# (xenstore-utils) as ordinary packages. Tests run that xenstored under
# drivers/xen/internal/xstest's fakexen shim. Called by install-deps.sh.
set -eu

root=${GOVIRTD_XEN_ROOT:-/var/cache/govirtd/xen}
bin="$root/root/usr/lib/xen-4.17/bin/xenstored"

missing=""
command -v xenstore-ls >/dev/null 2>&1 || missing="$missing xenstore-utils"
[ -e /usr/lib/x86_64-linux-gnu/libxenctrl.so.4.17 ] || missing="$missing libxenmisc4.17"
command -v gcc >/dev/null 2>&1 || missing="$missing gcc libc6-dev"

if [ -x "$bin" ] && [ -z "$missing" ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "the Xen test harness needs root to set up: run make deps as root (missing:${missing:-} $bin)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing" ]; then
	echo "installing:$missing"
	apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null; }
fi
if [ ! -x "$bin" ]; then
	echo "unpacking xen-utils-4.17 into $root"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && { apt-get download xen-utils-4.17 >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get download xen-utils-4.17 >/dev/null 2>&1; }; })
	mkdir -p "$root"
	rm -rf "$root/root"
	dpkg-deb -x "$tmp"/xen-utils-4.17_*.deb "$root/root"
	[ -x "$bin" ] || { echo "xen-utils-4.17 holds no $bin" >&2; exit 1; }
fi
