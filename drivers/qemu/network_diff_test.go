package qemu_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"libvirt.org/go/libvirtxml"
)

// TestNetworkDifferential: the same real virsh net-* steps against
// govirtd's network driver and libvirtd 9.0's (each daemon in a network
// namespace of its own, libvirtd private: internal/libvirtdpriv), the
// outputs compared after normalising what each daemon picks at random
// (UUIDs, MACs) and the XML's quoting (both XMLs parsed and formatted
// again). Every step's output must be the same, but those in knownDiffs,
// which say why.
func TestNetworkDifferential(t *testing.T) {
	need(t, "iptables") // libvirt 9.0's network driver writes iptables rules
	d := newNetDaemon(t)
	d.configure("network_define_default = 0") // libvirtd's private /etc/libvirt has no network either
	d.start()

	lvNS := fmt.Sprintf("govirtd-lv-%d-%d", os.Getpid(), netnsSeq.Add(1))
	if out, err := runCmd("ip", "netns", "add", lvNS); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	runCmd("ip", "-n", lvNS, "link", "set", "lo", "up")
	t.Cleanup(func() { // after the private libvirtd stopped
		killInNetns(lvNS, "dnsmasq")
		runCmd("ip", "netns", "del", lvNS)
	})
	lvURI := startPrivLibvirtd(t, d.path("libvirtd"), lvNS).uri()

	write := func(name, text string) string {
		p := d.path(name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lab := write("diff-lab.xml", labNetworkXML)
	clash := write("diff-clash.xml", `<network><name>clash</name><bridge name='virbr0'/></network>`)
	tmp := write("diff-tmp.xml", `<network><name>tmpnet</name><bridge name='gvtmp'/><ip address='10.77.0.1' prefix='24'><dhcp><range start='10.77.0.10' end='10.77.0.20'/></dhcp></ip></network>`)
	badRange := write("diff-badrange.xml", `<network><name>bad</name><ip address='10.9.0.1' prefix='24'><dhcp><range start='10.8.0.10' end='10.8.0.20'/></dhcp></ip></network>`)
	steps := [][]string{
		{"net-list", "--all"},
		{"net-define", lab},
		{"net-dumpxml", "--inactive", "lab"},
		{"net-info", "lab"},
		{"net-autostart", "lab"},
		{"net-list", "--all", "--autostart"},
		{"net-start", "lab"},
		{"net-info", "lab"},
		{"net-dumpxml", "lab"},
		{"net-list"},
		{"net-start", "lab"},
		{"net-update", "lab", "add", "ip-dhcp-host", `<host mac='52:54:00:aa:00:10' name='fixed' ip='192.168.100.10'/>`, "--live", "--config"},
		{"net-dumpxml", "lab"},
		{"net-dumpxml", "--inactive", "lab"},
		{"net-update", "lab", "add", "ip-dhcp-host", `<host mac='52:54:00:aa:00:10' name='fixed' ip='192.168.100.10'/>`, "--live"},
		{"net-update", "lab", "delete", "ip-dhcp-host", `<host mac='52:54:00:aa:00:10'/>`, "--live", "--config"},
		{"net-update", "lab", "add", "ip-dhcp-host", `<host mac='52:54:00:aa:00:11' ip='192.168.100.11'/>`, "--live"},
		{"net-dumpxml", "lab"},
		{"net-dumpxml", "--inactive", "lab"},
		{"net-dhcp-leases", "lab"},
		{"net-define", clash},
		{"net-define", badRange},
		{"net-create", tmp},
		{"net-list", "--all"},
		{"net-undefine", "tmpnet"},
		{"net-destroy", "tmpnet"},
		{"net-list", "--all"},
		{"net-destroy", "lab"},
		{"net-dumpxml", "lab"},
		{"net-destroy", "lab"},
		{"net-autostart", "--disable", "lab"},
		{"net-undefine", "lab"},
		{"net-list", "--all"},
		{"net-info", "nosuch"},
	}
	var diffs []string
	for i, args := range steps {
		g := normalizeNetOut(virshOn(d.uri(), args...))
		l := normalizeNetOut(virshOn(lvURI, args...))
		if g == l {
			continue
		}
		key := strings.Join(args, " ")
		diffs = append(diffs, fmt.Sprintf("step %d: virsh %s\n--- govirtd\n%s\n--- libvirtd 9.0\n%s", i+1, key, g, l))
	}
	if len(diffs) > 0 {
		t.Errorf("%d of %d steps differ:\n%s", len(diffs), len(steps), strings.Join(diffs, "\n"))
	}
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// normalizeNetOut makes two daemons' virsh output comparable: a network
// XML formatted the same way, UUIDs and the bridges' MACs masked.
func normalizeNetOut(s string) string {
	status, body, _ := strings.Cut(s, "\n")
	if i := strings.Index(body, "<network"); i >= 0 {
		var n libvirtxml.Network
		if err := n.Unmarshal(body[i:]); err == nil {
			if n.MAC != nil {
				n.MAC.Address = "MAC"
			}
			n.UUID = "UUID"
			if x, err := n.Marshal(); err == nil {
				body = body[:i] + x + "\n"
			}
		}
	}
	body = uuidRE.ReplaceAllString(body, "UUID")
	return status + "\n" + strings.TrimRight(body, "\n")
}

// killInNetns kills the processes named comm running in network
// namespace ns: what a daemon there started and left (libvirtd's dnsmasq
// keeps its pid file in libvirtd's private /run/libvirt).
func killInNetns(ns, comm string) {
	want, err := os.Stat(filepath.Join("/run/netns", ns))
	if err != nil {
		return
	}
	wantIno := want.Sys().(*syscall.Stat_t).Ino
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		c, _ := os.ReadFile(p + "/comm")
		if strings.TrimSpace(string(c)) != comm {
			continue
		}
		st, err := os.Stat(p + "/ns/net")
		if err != nil || st.Sys().(*syscall.Stat_t).Ino != wantIno {
			continue
		}
		var pid int
		fmt.Sscan(filepath.Base(p), &pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
