package qemu_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/govirt/govirtd/internal/testutil"
)

// The network driver's tests run the daemon in a network namespace the
// test makes (ip netns add), so its bridges, nftables tables, dnsmasq
// and the guests' taps never touch the host's network; the namespace
// outlives a daemon restart (kill -9) and is deleted at cleanup, after
// the dnsmasq processes the daemon started (found by their pid files).

var netnsSeq atomic.Int32

// newNetDaemon is a test daemon in a network namespace of its own, with
// the network default defined on its first start as on a fresh host.
func newNetDaemon(t *testing.T) *testDaemon {
	t.Helper()
	need(t, "ip", "nft", "dnsmasq", "ping")
	if os.Geteuid() != 0 {
		t.Fatal("the network tests need root (network namespaces, bridges, taps)")
	}
	d := newTestDaemon(t)
	d.netns = fmt.Sprintf("govirtd-test-%d-%d", os.Getpid(), netnsSeq.Add(1))
	if out, err := runCmd("ip", "netns", "add", d.netns); err != nil {
		d.netns = ""
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	if out, err := runCmd("ip", "-n", d.netns, "link", "set", "lo", "up"); err != nil {
		t.Fatalf("lo up: %v\n%s", err, out)
	}
	d.configure("network_define_default = 1")
	// dnsmasq runs as nobody once started, and re-reads its hosts files
	// from network_state_dir below this directory.
	for _, dir := range []string{filepath.Dir(d.dir), d.dir} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// cleanupNetns stops the dnsmasq processes of the daemon's networks and
// deletes its namespace.
func (d *testDaemon) cleanupNetns() {
	pids, _ := filepath.Glob(d.path("run", "network", "*.pid"))
	for _, f := range pids {
		data, _ := os.ReadFile(f)
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		conf := strings.TrimSuffix(f, ".pid") + ".conf"
		if err == nil && pid > 0 && cmdlineHas(pid, "--conf-file="+conf) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if out, err := runCmd("ip", "netns", "del", d.netns); err != nil {
		d.t.Errorf("ip netns del %s: %v\n%s", d.netns, err, out)
	}
}

func cmdlineHas(pid int, arg string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(append(data, 0), []byte(arg+"\x00"))
}

// inNetns runs a command in the daemon's namespace.
func (d *testDaemon) inNetns(args ...string) (string, error) {
	return runCmd("ip", append([]string{"netns", "exec", d.netns}, args...)...)
}

func (d *testDaemon) linkExists(name string) bool {
	_, err := runCmd("ip", "-n", d.netns, "link", "show", name)
	return err == nil
}

func (d *testDaemon) nftTable(name string) (string, error) {
	return d.inNetns("nft", "list", "table", "inet", name)
}

// dnsmasqPID is the pid of the network's dnsmasq, 0 when none runs.
func (d *testDaemon) dnsmasqPID(network string) int {
	data, err := os.ReadFile(d.path("run", "network", network+".pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if pid <= 0 || !processAlive(pid) || !cmdlineHas(pid, "--conf-file="+d.path("run", "network", network+".conf")) {
		return 0
	}
	return pid
}

// netEvents is `virsh net-event --loop --event lifecycle` against the
// daemon.
type netEvents struct {
	d   *testDaemon
	out *testutil.SyncBuffer
	cmd *exec.Cmd
}

// watchNetEvents starts virsh net-event and returns once it is
// subscribed: a sentinel network is defined and undefined until virsh
// reports it.
func (d *testDaemon) watchNetEvents() *netEvents {
	d.t.Helper()
	w := &netEvents{d: d, out: &testutil.SyncBuffer{}}
	w.cmd = exec.Command("virsh", "-c", d.uri(), "net-event", "--loop", "--event", "lifecycle")
	w.cmd.Stdout, w.cmd.Stderr = w.out, w.out
	if err := w.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { w.cmd.Wait(); close(done) }()
	d.t.Cleanup(func() { w.cmd.Process.Kill(); <-done })
	sentinel := d.path("sentinel-net.xml")
	os.WriteFile(sentinel, []byte(`<network><name>sentinel</name><bridge name='gvsentinel'/></network>`), 0o644)
	deadline := time.Now().Add(hang)
	for !strings.Contains(w.out.String(), "sentinel") {
		select {
		case <-done:
			d.t.Fatalf("virsh net-event exited:\n%s", w.out)
		default:
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("virsh net-event reports nothing:\n%s", w.out)
		}
		d.mustVirsh("net-define", sentinel)
		d.mustVirsh("net-undefine", "sentinel")
		time.Sleep(50 * time.Millisecond)
	}
	return w
}

// lines is what virsh printed about network name's lifecycle, as
// "Started".
func (w *netEvents) lines(name string) []string {
	var out []string
	for _, l := range strings.Split(w.out.String(), "\n") {
		if _, ev, ok := strings.Cut(l, "event 'lifecycle' for network "+name+": "); ok {
			out = append(out, strings.TrimSpace(ev))
		}
	}
	return out
}

// expect waits until virsh printed exactly want for name.
func (w *netEvents) expect(name string, want ...string) {
	w.d.t.Helper()
	deadline := time.Now().Add(hang)
	for len(w.lines(name)) < len(want) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // an unexpected extra event shows too
	if got := w.lines(name); strings.Join(got, ",") != strings.Join(want, ",") {
		w.d.t.Fatalf("network events of %s: %v, want %v\nvirsh net-event printed:\n%s", name, got, want, w.out)
	}
}

const labNetworkXML = `<network>
  <name>lab</name>
  <forward mode='nat'/>
  <ip address='192.168.100.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.100.100' end='192.168.100.101'/>
    </dhcp>
  </ip>
</network>
`

// TestNetworkVirsh: real virsh drives a network's whole life, each step
// checked on the host side (bridge, addresses, nftables table, dnsmasq
// and its hosts file), with net-event seeing the lifecycle; networks
// that cannot start fail naming the cause and leave nothing behind.
func TestNetworkVirsh(t *testing.T) {
	d := newNetDaemon(t)
	d.start()

	// A fresh host: default is defined, autostarted and running.
	list := d.mustVirsh("net-list", "--all")
	if !regexpMatch(`default\s+active\s+yes\s+yes`, list) {
		t.Fatalf("net-list --all on a first start:\n%s", list)
	}
	if out, _ := runCmd("ip", "-n", d.netns, "-4", "addr", "show", "virbr0"); !strings.Contains(out, "192.168.122.1/24") {
		t.Errorf("virbr0 has no 192.168.122.1/24:\n%s", out)
	}
	old := d.dnsmasqPID("default")
	if old == 0 {
		t.Fatalf("no dnsmasq serves default")
	}
	// dnsmasq is supervised: killed, it is started again.
	syscall.Kill(old, syscall.SIGKILL)
	deadline := time.Now().Add(hang)
	for pid := d.dnsmasqPID("default"); pid == 0 || pid == old; pid = d.dnsmasqPID("default") {
		if time.Now().After(deadline) {
			t.Fatalf("dnsmasq of default not started again after kill -9:\n%s", d.log())
		}
		time.Sleep(20 * time.Millisecond)
	}

	ev := d.watchNetEvents()
	os.WriteFile(d.path("lab.xml"), []byte(labNetworkXML), 0o644)
	d.mustVirsh("net-define", d.path("lab.xml"))
	// No bridge named: the first free virbrN.
	if out := d.mustVirsh("net-dumpxml", "lab"); !strings.Contains(out, `<bridge name="virbr1"`) || !strings.Contains(out, "<mac address=") {
		t.Errorf("net-dumpxml of a defined network gets no virbr1 bridge and MAC:\n%s", out)
	}
	d.mustVirsh("net-start", "lab")
	d.mustVirsh("net-autostart", "lab")
	info := d.mustVirsh("net-info", "lab")
	for _, want := range []string{`Active:\s+yes`, `Persistent:\s+yes`, `Autostart:\s+yes`, `Bridge:\s+virbr1`} {
		if !regexpMatch(want, info) {
			t.Errorf("net-info lab lacks %s:\n%s", want, info)
		}
	}
	if _, err := os.Lstat(d.path("etc", "network", "autostart", "lab.xml")); err != nil {
		t.Errorf("no autostart link: %v", err)
	}
	if out, _ := runCmd("ip", "-n", d.netns, "-4", "addr", "show", "virbr1"); !strings.Contains(out, "192.168.100.1/24") || !strings.Contains(out, "UP") {
		t.Errorf("virbr1 is not up with 192.168.100.1/24:\n%s", out)
	}
	table, err := d.nftTable("govirtd-virbr1")
	if err != nil || !strings.Contains(table, "masquerade") || !strings.Contains(table, "192.168.100.0/24") {
		t.Errorf("no NAT rules for lab (%v):\n%s", err, table)
	}
	if fwd, _ := d.inNetns("cat", "/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(fwd) != "1" {
		t.Errorf("ip_forward is %q with a nat network running", fwd)
	}
	pid := d.dnsmasqPID("lab")
	if pid == 0 {
		t.Fatalf("no dnsmasq for lab")
	}

	// A DHCP host added live and to the config: dnsmasq's hosts file has
	// it, both XMLs show it.
	host := `<host mac='52:54:00:aa:00:10' name='fixed' ip='192.168.100.10'/>`
	d.mustVirsh("net-update", "lab", "add", "ip-dhcp-host", host, "--live", "--config")
	if hf := readFile(t, d.path("run", "network", "lab.hostsfile")); !strings.Contains(hf, "52:54:00:aa:00:10,192.168.100.10,fixed") {
		t.Errorf("dnsmasq's hosts file lacks the host:\n%s", hf)
	}
	for _, args := range [][]string{{"net-dumpxml", "lab"}, {"net-dumpxml", "--inactive", "lab"}} {
		if out := d.mustVirsh(args...); !strings.Contains(out, `ip="192.168.100.10"`) {
			t.Errorf("virsh %s lacks the added host:\n%s", strings.Join(args, " "), out)
		}
	}
	if d.dnsmasqPID("lab") != pid {
		t.Errorf("a DHCP host update restarted dnsmasq")
	}
	d.mustVirsh("net-update", "lab", "delete", "ip-dhcp-host", `<host mac='52:54:00:aa:00:10'/>`, "--live", "--config")
	if hf := readFile(t, d.path("run", "network", "lab.hostsfile")); strings.Contains(hf, "52:54:00:aa:00:10") {
		t.Errorf("the deleted host is still in dnsmasq's hosts file:\n%s", hf)
	}

	d.mustVirsh("net-destroy", "lab")
	if d.linkExists("virbr1") {
		t.Errorf("virbr1 remains after net-destroy")
	}
	if out, err := d.nftTable("govirtd-virbr1"); err == nil {
		t.Errorf("lab's nftables table remains after net-destroy:\n%s", out)
	}
	if processAlive(pid) {
		t.Errorf("lab's dnsmasq (pid %d) runs on after net-destroy", pid)
	}
	d.mustVirsh("net-undefine", "lab")
	if out := d.mustVirsh("net-list", "--all"); strings.Contains(out, "lab") {
		t.Errorf("lab is listed after net-undefine:\n%s", out)
	}
	ev.expect("lab", "Defined", "Started", "Stopped", "Undefined")

	// SIGHUP: a definition and autostart link written by hand are taken
	// up and the network started, as libvirt's reload does.
	hup := d.path("etc", "network", "hup.xml")
	os.WriteFile(hup, []byte(`<network><name>hup</name><bridge name='gvhup'/><ip address='10.78.0.1' prefix='24'/></network>`), 0o644)
	os.Symlink(hup, d.path("etc", "network", "autostart", "hup.xml"))
	d.signal(syscall.SIGHUP)
	ev.expect("hup", "Defined", "Started")
	if out := d.mustVirsh("net-list"); !regexpMatch(`hup\s+active\s+yes\s+yes`, out) || !d.linkExists("gvhup") {
		t.Errorf("the network written by hand is not active after SIGHUP:\n%s", out)
	}

	// A transient isolated network: active while it runs, gone after.
	os.WriteFile(d.path("tmp.xml"), []byte(`<network><name>tmpnet</name><bridge name='gvtmp'/><ip address='10.77.0.1' prefix='24'><dhcp><range start='10.77.0.10' end='10.77.0.20'/></dhcp></ip></network>`), 0o644)
	d.mustVirsh("net-create", d.path("tmp.xml"))
	if out := d.mustVirsh("net-list", "--all"); !regexpMatch(`tmpnet\s+active\s+no\s+no`, out) {
		t.Errorf("net-list with a transient network:\n%s", out)
	}
	if table, err := d.nftTable("govirtd-gvtmp"); err != nil || strings.Contains(table, "saddr") || !strings.Contains(table, `iifname "gvtmp" reject`) {
		t.Errorf("an isolated network's rules (%v):\n%s", err, table)
	}
	d.mustVirsh("net-destroy", "tmpnet")
	if out := d.mustVirsh("net-list", "--all"); strings.Contains(out, "tmpnet") || d.linkExists("gvtmp") {
		t.Errorf("a destroyed transient network remains:\n%s", out)
	}

	// A bridge name another network has: refused at define.
	os.WriteFile(d.path("clash.xml"), []byte(`<network><name>clash</name><bridge name='virbr0'/></network>`), 0o644)
	if out, err := d.virsh("net-define", d.path("clash.xml")); err == nil || !strings.Contains(out, "bridge name 'virbr0' already in use") {
		t.Errorf("net-define of a network on virbr0: %v\n%s", err, out)
	}
	// A subnet the host already routes (default's): the start fails
	// naming the interface, and leaves no bridge, table or dnsmasq.
	os.WriteFile(d.path("overlap.xml"), []byte(`<network><name>overlap</name><bridge name='gvoverlap'/><forward mode='nat'/>
  <ip address='192.168.122.50' netmask='255.255.255.0'><dhcp><range start='192.168.122.60' end='192.168.122.70'/></dhcp></ip></network>`), 0o644)
	d.mustVirsh("net-define", d.path("overlap.xml"))
	if out, err := d.virsh("net-start", "overlap"); err == nil || !strings.Contains(out, "already in use by interface virbr0") {
		t.Errorf("net-start of a network overlapping default: %v\n%s", err, out)
	}
	if d.linkExists("gvoverlap") {
		t.Errorf("a failed start left its bridge")
	}
	if _, err := d.nftTable("govirtd-gvoverlap"); err == nil {
		t.Errorf("a failed start left its nftables table")
	}
	if d.dnsmasqPID("overlap") != 0 {
		t.Errorf("a failed start left its dnsmasq")
	}
	// A bridge name taken by an interface that is not the driver's.
	if out, err := runCmd("ip", "-n", d.netns, "link", "add", "gvtaken", "address", "02:00:00:00:00:99", "type", "bridge"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	os.WriteFile(d.path("taken.xml"), []byte(`<network><name>taken</name><bridge name='gvtaken'/><ip address='10.99.0.1' prefix='24'/></network>`), 0o644)
	d.mustVirsh("net-define", d.path("taken.xml"))
	if out, err := d.virsh("net-start", "taken"); err == nil || !strings.Contains(out, "bridge name 'gvtaken' is already in use") {
		t.Errorf("net-start on an existing interface's name: %v\n%s", err, out)
	}
	if out, _ := runCmd("ip", "-n", d.netns, "link", "show", "gvtaken"); !strings.Contains(out, "02:00:00:00:00:99") {
		t.Errorf("the failed start touched the interface that was there:\n%s", out)
	}
}

// TestNetworkNoDnsmasq: without dnsmasq a network that needs it does not
// start, the error names the missing program and what installs it, and
// nothing of the network is left; the daemon serves on.
func TestNetworkNoDnsmasq(t *testing.T) {
	d := newNetDaemon(t)
	d.configure(`network_dnsmasq = "/nonexistent/dnsmasq"`)
	d.start()
	out, err := d.virsh("net-start", "default")
	if err == nil || !strings.Contains(out, "/nonexistent/dnsmasq") || !strings.Contains(out, "dnsmasq-base") {
		t.Errorf("net-start without dnsmasq: %v\n%s", err, out)
	}
	if d.linkExists("virbr0") {
		t.Errorf("a network that did not start left its bridge")
	}
	if out, err := d.nftTable("govirtd-virbr0"); err == nil {
		t.Errorf("a network that did not start left its nftables table:\n%s", out)
	}
	if !strings.Contains(d.log(), "autostart network not started") {
		t.Errorf("the log does not say the autostart network did not start:\n%s", d.log())
	}
	d.mustVirsh("list", "--all")
}

// netGuestXML is a tiny guest on the network lab with mac, which pings
// each address of ping once it has its DHCP lease.
func netGuestXML(t *testing.T, d *testDaemon, name, mac, ping string) (path, console string) {
	guest := guestDir(t)
	console = d.path(name + ".console")
	xml := fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>128</memory>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>%s/vmlinuz</kernel>
    <initrd>%s/initrd.gz</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 govirt.net govirt.host=%s govirt.ping=%s</cmdline>
  </os>
  <features><acpi/></features>
  <devices>
    <interface type='network'><mac address='%s'/><source network='lab'/><model type='virtio'/></interface>
    <serial type='file'><source path='%s'/></serial>
  </devices>
</domain>
`, name, guest, guest, name, ping, mac, console)
	path = d.path(name + ".xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, console
}

// TestNetworkGuests: two tiny guests on a NAT network get their DHCP
// leases (one a static host's fixed address), ping each other and the
// bridge; virsh and go-libvirt see the leases and addresses; after a
// kill -9 of the daemon the network, dnsmasq and the guests' links
// stay, and destroying a guest removes its tap.
func TestNetworkGuests(t *testing.T) {
	d := newNetDaemon(t)
	d.start()
	os.WriteFile(d.path("lab.xml"), []byte(labNetworkXML), 0o644)
	d.mustVirsh("net-define", d.path("lab.xml"))
	d.mustVirsh("net-start", "lab")
	// The static host, added to the running network.
	d.mustVirsh("net-update", "lab", "add", "ip-dhcp-host", `<host mac='52:54:00:aa:00:0a' ip='192.168.100.10'/>`, "--live")

	a, consA := netGuestXML(t, d, "ga", "52:54:00:aa:00:0a", "192.168.100.1")
	b, consB := netGuestXML(t, d, "gb", "52:54:00:aa:00:0b", "192.168.100.1,192.168.100.10")
	for _, g := range []string{a, b} {
		d.mustVirsh("define", g)
	}
	d.mustVirsh("start", "ga")
	d.mustVirsh("start", "gb")
	waitConsole(t, consA, "GUEST-IP 192.168.100.10", 1)
	waitConsole(t, consB, "GUEST-IP 192.168.100.10", 1) // .100 or .101, from the range
	ipB := regexp.MustCompile(`GUEST-IP (192\.168\.100\.10[01])`).FindStringSubmatch(readFile(t, consB))
	if ipB == nil {
		t.Fatalf("gb's address is not from the range:\n%s", readFile(t, consB))
	}
	// gb pings ga: an echo and its reply, both ways between the guests.
	for _, c := range []struct{ console, addr string }{
		{consA, "192.168.100.1"}, {consB, "192.168.100.1"}, {consB, "192.168.100.10"},
	} {
		waitConsole(t, c.console, "GUEST-PING "+c.addr, 1)
	}

	leases := d.mustVirsh("net-dhcp-leases", "lab")
	for _, want := range []string{`52:54:00:aa:00:0a\s+ipv4\s+192.168.100.10/24\s+ga`, `52:54:00:aa:00:0b\s+ipv4\s+` + regexp.QuoteMeta(ipB[1]) + `/24\s+gb`} {
		if !regexpMatch(want, leases) {
			t.Errorf("net-dhcp-leases lab lacks %s:\n%s", want, leases)
		}
	}
	addr := d.mustVirsh("domifaddr", "ga")
	if !regexpMatch(`vnet\d+\s+52:54:00:aa:00:0a\s+ipv4\s+192.168.100.10/24`, addr) {
		t.Errorf("domifaddr ga:\n%s", addr)
	}
	iflist := d.mustVirsh("domiflist", "ga")
	if !regexpMatch(`vnet\d+\s+network\s+lab\s+virtio\s+52:54:00:aa:00:0a`, iflist) {
		t.Errorf("domiflist ga:\n%s", iflist)
	}
	tapA := strings.Fields(strings.Split(strings.TrimSpace(iflist), "\n")[2])[0]
	if out := d.mustVirsh("dumpxml", "ga"); !strings.Contains(out, `<target dev="`+tapA+`"`) || !strings.Contains(out, `bridge="virbr1"`) {
		t.Errorf("the live XML lacks the tap and bridge:\n%s", out)
	}
	if out, _ := runCmd("ip", "-n", d.netns, "link", "show", tapA); !strings.Contains(out, "master virbr1") {
		t.Errorf("%s is not on virbr1:\n%s", tapA, out)
	}
	stat := d.mustVirsh("domifstat", "ga", tapA)
	if regexpMatch(tapA+` rx_bytes 0\n`, stat) || regexpMatch(tapA+` tx_bytes 0\n`, stat) {
		t.Errorf("domifstat after DHCP and pings shows no traffic:\n%s", stat)
	}

	// go-libvirt, an independent client.
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(d.path("sock", "govirtd-sock")), dialers.WithLocalTimeout(10*time.Second)))
	if err := l.ConnectToURI(libvirt.ConnectURI("qemu:///system")); err != nil {
		t.Fatal(err)
	}
	defer l.Disconnect()
	lab, err := l.NetworkLookupByName("lab")
	if err != nil {
		t.Fatal(err)
	}
	gl, _, err := l.NetworkGetDhcpLeases(lab, libvirt.OptString{}, 1, 0)
	if err != nil || len(gl) != 2 {
		t.Errorf("go-libvirt NetworkGetDhcpLeases: %v, %+v", err, gl)
	}
	ga, err := l.DomainLookupByName("ga")
	if err != nil {
		t.Fatal(err)
	}
	ifs, err := l.DomainInterfaceAddresses(ga, uint32(libvirt.DomainInterfaceAddressesSrcLease), 0)
	if err != nil || len(ifs) != 1 || len(ifs[0].Addrs) != 1 || ifs[0].Addrs[0].Addr != "192.168.100.10" {
		t.Errorf("go-libvirt DomainInterfaceAddresses: %v, %+v", err, ifs)
	}
	l.Disconnect()

	// kill -9: what was made stays, and the restarted daemon takes it up.
	dns := d.dnsmasqPID("lab")
	d.kill9()
	if !d.linkExists("virbr1") || !d.linkExists(tapA) || !processAlive(dns) {
		t.Fatalf("the network did not outlive the daemon")
	}
	d.start()
	if out := d.mustVirsh("net-list"); !regexpMatch(`lab\s+active`, out) {
		t.Errorf("lab is not active after the restart:\n%s", out)
	}
	if got := d.dnsmasqPID("lab"); got != dns {
		t.Errorf("dnsmasq after the restart: pid %d, want the same %d", got, dns)
	}
	for _, ip := range []string{"192.168.100.10", ipB[1]} {
		if out, err := d.inNetns("ping", "-c", "1", "-W", "5", ip); err != nil {
			t.Errorf("guest %s unreachable after the restart: %v\n%s", ip, err, out)
		}
	}
	if out := d.mustVirsh("net-dhcp-leases", "lab"); !strings.Contains(out, "192.168.100.10/24") {
		t.Errorf("net-dhcp-leases after the restart:\n%s", out)
	}
	d.mustVirsh("destroy", "ga")
	deadline := time.Now().Add(hang)
	for d.linkExists(tapA) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if d.linkExists(tapA) {
		t.Errorf("%s remains after destroy", tapA)
	}
	d.mustVirsh("destroy", "gb")
}

// TestNetworkInterfaceHotplug: a NIC attached live to a running guest
// gets its tap on the network's bridge, goes down and up with
// domif-setlink, and its tap is gone once it is detached.
func TestNetworkInterfaceHotplug(t *testing.T) {
	d := newNetDaemon(t)
	d.start()
	os.WriteFile(d.path("lab.xml"), []byte(labNetworkXML), 0o644)
	d.mustVirsh("net-define", d.path("lab.xml"))
	d.mustVirsh("net-start", "lab")
	g, console := netGuestXML(t, d, "gh", "52:54:00:aa:00:0c", "192.168.100.1")
	xml := strings.Replace(readFile(t, g), "<devices>", "<devices><controller type='pci' model='pcie-root-port'/>", 1)
	os.WriteFile(g, []byte(xml), 0o644)
	d.mustVirsh("define", g)
	d.mustVirsh("start", "gh")
	waitConsole(t, console, "GUEST-READY", 1)

	w := d.watchEvents()
	d.mustVirsh("attach-interface", "gh", "network", "lab", "--model", "virtio", "--mac", "52:54:00:aa:00:0d", "--live")
	w.waitLine("event 'device-added' for domain 'gh': net1")
	iflist := d.mustVirsh("domiflist", "gh")
	if !regexpMatch(`vnet\d+\s+network\s+lab\s+virtio\s+52:54:00:aa:00:0d`, iflist) {
		t.Fatalf("domiflist after attach-interface:\n%s", iflist)
	}
	lines := strings.Split(strings.TrimSpace(iflist), "\n")
	tap := strings.Fields(lines[len(lines)-1])[0]
	if out, _ := runCmd("ip", "-n", d.netns, "link", "show", tap); !strings.Contains(out, "master virbr1") {
		t.Errorf("the attached NIC's tap %s is not on virbr1:\n%s", tap, out)
	}
	d.mustVirsh("domif-setlink", "gh", tap, "down")
	if out := d.mustVirsh("domif-getlink", "gh", tap); !strings.Contains(out, "down") {
		t.Errorf("domif-getlink after setting it down: %s", out)
	}
	d.mustVirsh("domif-setlink", "gh", tap, "up")
	if out := d.mustVirsh("domif-getlink", "gh", tap); !strings.Contains(out, "up") {
		t.Errorf("domif-getlink after setting it up: %s", out)
	}
	d.mustVirsh("detach-interface", "gh", "network", "--mac", "52:54:00:aa:00:0d", "--live")
	w.waitLine("event 'device-removed' for domain 'gh': net1")
	deadline := time.Now().Add(hang)
	for d.linkExists(tap) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if d.linkExists(tap) {
		t.Errorf("tap %s remains after detach-interface", tap)
	}
	if out := d.mustVirsh("domiflist", "gh"); strings.Contains(out, "52:54:00:aa:00:0d") {
		t.Errorf("domiflist after detach-interface:\n%s", out)
	}
	d.mustVirsh("destroy", "gh")
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
