#!/bin/sh
# mkguest.sh OUTDIR: builds the tiny Linux guest the QEMU driver's tests
# boot: OUTDIR/vmlinuz (Debian's cloud kernel) and OUTDIR/initrd.gz (a
# busybox initramfs). Nothing is installed: the two Debian packages are
# fetched with `apt-get download` and unpacked in a scratch directory.
#
# The guest prints GUEST-UP on its serial console (ttyS0) once booted and
# GUEST-READY once it listens to the ACPI power button; pressing the
# button (QMP system_powerdown, `virsh shutdown`) makes it power off.
# Then a shell runs on the console.
#
# With govirt.net on its kernel command line the guest also brings its
# virtio NIC up: it asks for an address by DHCP (busybox udhcpc, sending
# govirt.host=NAME as its host name when given) and prints GUEST-IP ADDR
# once it has one, then pings each address of govirt.ping=A,B,… until it
# answers, printing GUEST-PING ADDR for each.
#
# With govirt.agent it loads the virtio console and balloon drivers (so
# the balloon follows the host's target, and qemu reports it), opens the
# virtio-serial port named org.qemu.guest_agent.0 as a guest agent would
# and prints GUEST-AGENT-OPEN; once the host writes a line into the
# channel it closes the port and prints GUEST-AGENT-CLOSED.
set -eu

out=${1:?usage: mkguest.sh OUTDIR}
for tool in apt-get apt-cache dpkg-deb cpio gzip; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "mkguest.sh: $tool is missing (run \`make deps\`, which installs cpio)" >&2
		exit 1
	}
done

work=$(mktemp -d)
chmod 755 "$work" # apt-get download runs as _apt where it can
trap 'rm -rf "$work"' EXIT
cd "$work"

# The cloud kernel metapackage depends on the versioned kernel image.
kernel=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
if [ -z "$kernel" ]; then
	echo "mkguest.sh: apt knows no linux-image-cloud-amd64 (run apt-get update)" >&2
	exit 1
fi
apt-get download -q "$kernel" busybox-static >/dev/null
for deb in ./*.deb; do dpkg-deb -x "$deb" root; done

mkdir -p initrd/bin initrd/dev initrd/proc initrd/sys
cp root/bin/busybox initrd/bin/
for applet in sh mount insmod poweroff cat sleep dd echo ls grep udhcpc ip ping sed tr; do
	ln -s busybox "initrd/bin/$applet"
done
# The power button reaches userspace through these two modules.
cp "$(find root/lib/modules -name evdev.ko | head -n1)" initrd/
cp "$(find root/lib/modules -path '*acpi*' -name button.ko | head -n1)" initrd/
# The virtio NIC's driver and what it needs, in load order.
netmods="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net"
for m in $netmods virtio_console virtio_balloon; do
	cp "$(find root/lib/modules -name "$m.ko" | head -n1)" initrd/
done
cat >initrd/udhcpc.sh <<'SCRIPT'
#!/bin/sh
case "$1" in
bound | renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	echo "GUEST-IP $ip"
	;;
esac
SCRIPT
chmod 755 initrd/udhcpc.sh

cat >initrd/init <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
insmod /evdev.ko
insmod /button.ko
echo "GUEST-UP"
button=""
while [ -z "$button" ]; do
	for dev in /sys/class/input/event*; do
		case "$(cat "$dev/device/name" 2>/dev/null)" in
		*"Power Button"*) button=/dev/input/${dev##*/} ;;
		esac
	done
	[ -n "$button" ] || sleep 0.1
done
# One key event (24 bytes) from the button powers the guest off.
(dd if="$button" bs=24 count=1 of=/dev/null 2>/dev/null; echo "GUEST-POWEROFF"; poweroff -f) &
# Ready once dd holds the device open: a press is not lost.
until ls -l /proc/[0-9]*/fd 2>/dev/null | grep -q "$button"; do sleep 0.05; done
echo "GUEST-READY"
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p"; }
if grep -q govirt.net /proc/cmdline; then
	(
		for m in NETMODS; do insmod "/$m.ko"; done
		ip link set lo up
		until ip link set eth0 up 2>/dev/null; do sleep 0.1; done
		host=$(arg govirt.host)
		until udhcpc -i eth0 -s /udhcpc.sh -q -n -t 5 -T 1 ${host:+-x hostname:$host} 2>/dev/null; do sleep 0.5; done
		for target in $(arg govirt.ping | tr , ' '); do
			(until ping -c 1 -W 1 "$target" >/dev/null 2>&1; do sleep 0.2; done; echo "GUEST-PING $target") &
		done
	) &
fi
if grep -q govirt.agent /proc/cmdline; then
	(
		for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_console virtio_balloon; do
			insmod "/$m.ko" 2>/dev/null
		done
		port=""
		until [ -n "$port" ] && [ -e "$port" ]; do
			for p in /sys/class/virtio-ports/*; do
				[ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] && port=/dev/${p##*/}
			done
			[ -e "$port" ] || sleep 0.1
		done
		exec 3<>"$port"
		echo "GUEST-AGENT-OPEN"
		# A read returns at once while no host end is connected.
		until read -r line <&3; do sleep 0.2; done
		exec 3<&-
		echo "GUEST-AGENT-CLOSED"
	) &
fi
# A shell on the console, for `virsh console`: what is typed at it runs.
while true; do sh; sleep 1; done
INIT
sed -i "s/NETMODS/$netmods/" initrd/init
chmod 755 initrd/init

(cd initrd && find . | cpio -o -H newc 2>/dev/null | gzip -1) >initrd.gz
mkdir -p "$out"
cp root/boot/vmlinuz-* "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
cp initrd.gz "$out/initrd.gz.tmp"
mv "$out/initrd.gz.tmp" "$out/initrd.gz"
echo "mkguest.sh: $out/vmlinuz and $out/initrd.gz ($kernel)"
