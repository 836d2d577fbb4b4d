// Package libvirtdpriv runs Debian's real libvirtd 9.0 with its
// privileged drivers (QEMU, network, storage) as a private instance for
// benchmarks and differential tests, touching none of the host's files:
// a mount namespace of its own with tmpfs over every directory those
// drivers use (/etc/libvirt, /run/libvirt, /var/lib/libvirt,
// /var/log/libvirt, /var/cache/libvirt), the libvirt-qemu user its QEMU
// driver insists on added to a private copy of /etc/passwd and
// /etc/group, qemu run as root without relabelling and outside cgroups
// (as govirtd runs it), and virtlogd started first with its pid file in
// the instance's directory. Root only.
//
// Its guests outlive it: Restart runs a new libvirtd in the namespace of
// the old one (its tmpfs state kept alive by virtlogd and the guests),
// which re-attaches to them as after a host's daemon restart. Without
// cpuset among its cgroup controllers that re-attach failed on this host's mixed
// cgroup v1/v2 layout (libvirt read cgroup.threads in the v1 cpuset
// hierarchy) and libvirtd killed every guest.
package libvirtdpriv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// script is run by sh in the new mount namespace; it execs libvirtd, so
// the pid started is libvirtd's.
const script = `set -e
D=$1
cp /etc/passwd "$D/passwd"; cp /etc/group "$D/group"
grep -q '^libvirt-qemu:' "$D/group" || echo 'libvirt-qemu:x:64055:' >>"$D/group"
grep -q '^kvm:' "$D/group" || echo 'kvm:x:64056:' >>"$D/group"
grep -q '^libvirt-qemu:' "$D/passwd" || echo 'libvirt-qemu:x:64055:64056:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin' >>"$D/passwd"
mount --bind "$D/passwd" /etc/passwd
mount --bind "$D/group" /etc/group
for d in /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt; do
	mkdir -p "$d"
	mount -t tmpfs -o mode=0755 tmpfs "$d"
done
cat >/etc/libvirt/qemu.conf <<EOF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ "cpu", "cpuacct", "memory", "devices", "blkio" ]
EOF
"$2" -d -p "$D/virtlogd.pid"
exec "$3" -f "$D/libvirtd.conf" -p "$D/libvirtd.pid"
`

// Conf is the instance's libvirtd.conf: its sockets in dir (libvirt-sock
// and libvirt-sock-ro), no authentication, its log in dir.
func Conf(dir string) string {
	return fmt.Sprintf(`unix_sock_dir = %q
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_level = 3
log_outputs = "3:file:%s"
`, dir, filepath.Join(dir, "libvirtd.log"))
}

// Command writes the instance's files into dir and returns the command
// that runs it, with libvirtd (and virtlogd beside it) from bin's
// directory; netns, when not empty, is the network namespace (ip netns)
// it runs in. The caller starts it, and calls StopVirtlogd after
// stopping it.
func Command(bin, dir, netns string) (*exec.Cmd, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "libvirtd.conf"), []byte(Conf(dir)), 0o644); err != nil {
		return nil, err
	}
	sh := filepath.Join(dir, "run.sh")
	if err := os.WriteFile(sh, []byte(script), 0o755); err != nil {
		return nil, err
	}
	args := []string{"unshare", "--mount", "--propagation", "private", "sh", sh, dir, filepath.Join(filepath.Dir(bin), "virtlogd"), bin}
	if netns != "" {
		args = append([]string{"ip", "netns", "exec", netns}, args...)
	}
	return exec.Command(args[0], args[1:]...), nil
}

// Namespace holds the instance's mount namespace open, from its
// running libvirtd (pid), so that Restart can enter it after that
// libvirtd is gone. The caller closes it.
func Namespace(pid int) (*os.File, error) {
	return os.Open(fmt.Sprintf("/proc/%d/ns/mnt", pid))
}

// Restart returns the command that runs libvirtd (bin) again for the
// instance in dir, inside its mount namespace ns (from Namespace): the
// same tmpfs state, the same private /etc/passwd, the same virtlogd. The
// old libvirtd must have exited. The file ns stays open in the calling
// process, which nsenter reaches through /proc/PID/fd.
func Restart(bin, dir string, ns *os.File) *exec.Cmd {
	self := fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), ns.Fd())
	return exec.Command("nsenter", "--mount="+self, bin, "-f", filepath.Join(dir, "libvirtd.conf"), "-p", filepath.Join(dir, "libvirtd.pid"))
}

// Socket is the instance's read-write socket.
func Socket(dir string) string { return filepath.Join(dir, "libvirt-sock") }

// StopVirtlogd ends the instance's virtlogd, by its pid file.
func StopVirtlogd(dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "virtlogd.pid"))
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
		syscall.Kill(pid, syscall.SIGTERM)
	}
}
