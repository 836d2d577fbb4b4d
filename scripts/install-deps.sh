#!/bin/sh
# Installs the Debian packages the tests need when they are missing:
# the real virsh (libvirt-clients), real qemu (qemu-system-x86, qemu-utils),
# the real libvirtd for the side-by-side benchmark (libvirt-daemon),
# libvirt-python (python3-libvirt, for Debian's /usr/bin/python3), and
# cpio for building the tiny test guest, openssl for the TLS tests'
# certificates, the real virt-install (virtinst), and virt-manager with
# an X server to show it (xvfb), for the network driver's tests dnsmasq
# (dnsmasq-base), nft (nftables), ip (iproute2), ping (iputils-ping) and
# iptables (libvirtd's network driver, compared with ours),
# and systemd's systemd-socket-activate and systemd-analyze (systemd) and
# make for the socket-activation and `make install` tests, Xen's
# xenstored with its clients (xen-harness.sh), Debian's Prometheus
# libvirt exporter (prometheus-libvirt-exporter) scraped side by side
# with libvirtd, and AT-SPI's Python binding (python3-pyatspi,
# gir1.2-atspi-2.0, at-spi2-core) to read virt-manager's windows.
#
# With the argument "bench", only what `make bench` needs: libvirt-daemon.
set -eu

missing=""
need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || missing="$missing $2"; }
case "${1:-all}" in
bench)
	need libvirtd libvirt-daemon
	;;
all)
	need virsh libvirt-clients
	need libvirtd libvirt-daemon
	need qemu-system-x86_64 qemu-system-x86
	need qemu-img qemu-utils
	need cpio cpio
	need openssl openssl
	need virt-install virtinst
	need virt-manager virt-manager
	need Xvfb xvfb
	need dnsmasq dnsmasq-base
	need nft nftables
	need ip iproute2
	need ping iputils-ping
	need iptables iptables
	need systemd-socket-activate systemd
	need systemd-analyze systemd
	need make make
	need prometheus-libvirt-exporter prometheus-libvirt-exporter
	need /usr/libexec/at-spi-bus-launcher at-spi2-core
	need dbus-daemon dbus
	/usr/bin/python3 -c 'import pyatspi' >/dev/null 2>&1 || missing="$missing python3-pyatspi gir1.2-atspi-2.0"
	/usr/bin/python3 -c 'import libvirt' >/dev/null 2>&1 || missing="$missing python3-libvirt"
	;;
*)
	echo "usage: $0 [all|bench]" >&2
	exit 2
	;;
esac

# The Xen driver's tests run Debian's real xenstored (scripts/xen-harness.sh).
if [ "${1:-all}" = all ]; then
	"$(dirname "$0")/xen-harness.sh"
fi

# scripts/mkguest.sh fetches the test guest's kernel and busybox with
# `apt-get download`, which needs the package lists.
lists_ok() { apt-cache show linux-image-cloud-amd64 busybox-static >/dev/null 2>&1; }

if [ -z "$missing" ]; then
	[ "${1:-all}" = bench ] && exit 0 # the benchmark builds no guest
	lists_ok && exit 0
	if [ "$(id -u)" -eq 0 ]; then
		apt-get update -qq || apt-get update -qq
	else
		echo "apt knows no linux-image-cloud-amd64: run apt-get update as root (the QEMU tests build their guest from it)" >&2
	fi
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages:$missing" >&2
	echo "install them as root: apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends $missing >/dev/null
