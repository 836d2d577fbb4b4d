package network

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/netxml"
	"github.com/govirt/govirtd/vir"
)

// The pieces a network start writes, checked as text; the tests with
// the real bridge, nft and dnsmasq are drivers/qemu/network_test.go's
// (they need a network namespace).

const natXML = `<network>
  <name>lab</name>
  <bridge name='virbr7'/>
  <forward mode='nat'><nat><port start='2000' end='3000'/></nat></forward>
  <domain name='lab.test' localOnly='yes'/>
  <dns>
    <forwarder addr='192.0.2.53' port='5353'/>
    <txt name='example' value='hello'/>
    <host ip='192.168.100.5'><hostname>www</hostname><hostname>web</hostname></host>
  </dns>
  <ip address='192.168.100.1' prefix='24'>
    <dhcp>
      <range start='192.168.100.100' end='192.168.100.199'><lease expiry='2' unit='hours'/></range>
      <host mac='52:54:00:00:00:10' name='fixed' ip='192.168.100.10'/>
    </dhcp>
  </ip>
</network>`

func mustParse(t *testing.T, doc string) *netxmlNet {
	t.Helper()
	def, _, err := netxml.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := subnets(def)
	if err != nil {
		t.Fatal(err)
	}
	return &netxmlNet{def: def, subs: subs}
}

type netxmlNet struct {
	def  *libvirtxml.Network
	subs []subnet
}

func TestDnsmasqConf(t *testing.T) {
	n := mustParse(t, natXML)
	got := Config{StateDir: "/run/x"}.dnsmasqConf(n.def, n.subs)
	for _, want := range []string{
		"pid-file=/run/x/lab.pid\n", "interface=virbr7\n", "bind-dynamic\n", "except-interface=lo\n",
		"domain=lab.test\nexpand-hosts\nlocal=/lab.test/\n",
		"server=192.0.2.53#5353\n", "txt-record=example,hello\n",
		"dhcp-range=192.168.100.100,192.168.100.199,255.255.255.0,2h\n",
		"dhcp-lease-max=101\n", // the range and the static host
		"dhcp-hostsfile=/run/x/lab.hostsfile\n", "dhcp-leasefile=/run/x/lab.leases\n", "addn-hosts=/run/x/lab.addnhosts\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("dnsmasq configuration lacks %q:\n%s", want, got)
		}
	}
	dh, dn := hostsFiles(n.def)
	if dh != "52:54:00:00:00:10,192.168.100.10,fixed\n" {
		t.Errorf("DHCP hosts file:\n%s", dh)
	}
	if dn != "192.168.100.10\tfixed\n192.168.100.5\twww\tweb\n" {
		t.Errorf("DNS hosts file:\n%q", dn)
	}
}

func TestRuleset(t *testing.T) {
	n := mustParse(t, natXML)
	got := ruleset(n.def, n.subs)
	for _, want := range []string{
		"table inet govirtd-virbr7 {}\ndelete table inet govirtd-virbr7\ntable inet govirtd-virbr7 {\n",
		"type filter hook forward priority filter; policy accept;",
		`iifname "virbr7" oifname "virbr7" accept`,
		`iifname "virbr7" ip saddr 192.168.100.0/24 accept`,
		`oifname "virbr7" ip daddr 192.168.100.0/24 ct state related,established accept`,
		`iifname "virbr7" reject`,
		"type nat hook postrouting priority srcnat; policy accept;",
		"ip saddr 192.168.100.0/24 ip daddr 224.0.0.0/24 return",
		"meta l4proto tcp ip saddr 192.168.100.0/24 ip daddr != 192.168.100.0/24 masquerade to :2000-3000",
		"ip saddr 192.168.100.0/24 ip daddr != 192.168.100.0/24 masquerade\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("nat ruleset lacks %q:\n%s", want, got)
		}
	}
	iso := mustParse(t, `<network><name>iso</name><bridge name='gviso'/><ip address='10.1.0.1' prefix='16'/></network>`)
	got = ruleset(iso.def, iso.subs)
	if strings.Contains(got, "saddr") || strings.Contains(got, "postrouting") || !strings.Contains(got, `iifname "gviso" reject`) {
		t.Errorf("an isolated network forwards only between its guests:\n%s", got)
	}
	open := mustParse(t, `<network><name>o</name><bridge name='gvo'/><forward mode='open'/><ip address='10.2.0.1' prefix='16'/></network>`)
	if got := ruleset(open.def, open.subs); got != "" {
		t.Errorf("an open network gets rules:\n%s", got)
	}
}

func TestLeases(t *testing.T) {
	dir := t.TempDir()
	d := New(Config{ConfigDir: dir, StateDir: dir}, nil)
	n := mustParse(t, natXML)
	os.WriteFile(filepath.Join(dir, "lab.leases"), []byte(
		"1800000000 52:54:00:00:00:10 192.168.100.10 fixed 01:52:54:00:00:00:10\n"+
			"1800000100 52:54:00:00:00:11 192.168.100.150 * *\n"+
			"duid 00:01:00:01:2c:00:00:00:52:54:00:00:00:01\n"+
			"1800000200 1234 fd00::5 host6 00:01:00:01\n"+
			"garbage\n"), 0o644)
	n.def.IPs = append(n.def.IPs, libvirtxml.NetworkIP{Family: "ipv6", Address: "fd00::1", Prefix: 64})
	all, err := d.leases(n.def, "")
	if err != nil || len(all) != 3 {
		t.Fatalf("leases: %v %+v", err, all)
	}
	l := all[0]
	if l.Iface != "virbr7" || l.Expirytime != 1800000000 || *l.MAC != "52:54:00:00:00:10" || l.Ipaddr != "192.168.100.10" ||
		l.Prefix != 24 || l.Type != 0 || *l.Hostname != "fixed" || *l.Clientid != "01:52:54:00:00:00:10" {
		t.Errorf("first lease: %+v", l)
	}
	if all[1].Hostname != nil || all[1].Clientid != nil {
		t.Errorf("a * name or client id is none: %+v", all[1])
	}
	if v6 := all[2]; v6.Type != 1 || v6.Ipaddr != "fd00::5" || v6.Prefix != 64 || v6.MAC != nil || *v6.Iaid != "1234" || *v6.Clientid != "00:01:00:01" {
		t.Errorf("IPv6 lease: %+v", v6)
	}
	one, _ := d.leases(n.def, "52:54:00:00:00:11")
	if len(one) != 1 || one[0].Ipaddr != "192.168.100.150" {
		t.Errorf("leases of one MAC: %+v", one)
	}
}

func TestDefineRefusesWhatIsNotDone(t *testing.T) {
	d := New(Config{ConfigDir: t.TempDir(), StateDir: t.TempDir()}, nil)
	for what, doc := range map[string]string{
		"<route>":             `<network><name>r</name><ip address='10.3.0.1' prefix='24'/><route address='10.4.0.0' prefix='24' gateway='10.3.0.2'/></network>`,
		"<bandwidth>":         `<network><name>b</name><bandwidth><inbound average='1000'/></bandwidth></network>`,
		"<portgroup>":         `<network><name>p</name><portgroup name='x'/></network>`,
		"forward mode 'vepa'": `<network><name>v</name><forward mode='vepa'/></network>`,
		"no <bridge name>":    `<network><name>h</name><forward mode='bridge'/></network>`,
	} {
		_, _, err := d.parseNew(doc)
		if err == nil {
			t.Errorf("%s: accepted", what)
			continue
		}
		if c := drivers.CodeOf(err); c != vir.ErrConfigUnsupported && c != vir.ErrXMLError {
			t.Errorf("%s: %v (code %d)", what, err, c)
		}
	}
	def, _, err := d.parseNew(`<network><name>n</name><ip address='10.5.0.1' prefix='24'/></network>`)
	if err != nil || !strings.HasPrefix(bridgeName(def), "virbr") || def.MAC == nil || !strings.HasPrefix(def.MAC.Address, "52:54:00:") {
		t.Errorf("an isolated network without bridge or MAC gets virbrN and a 52:54:00 MAC: %v %+v %+v", err, def.Bridge, def.MAC)
	}
}
