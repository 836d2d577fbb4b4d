package network

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers/hostinfo"
	"github.com/govirt/govirtd/drivers/netxml"
	"github.com/govirt/govirtd/protocol"
)

// A network with addresses gets one dnsmasq, configured by a file the
// driver writes (NAME.conf in the state directory) and daemonised: it
// is no child of the daemon and outlives it, and is found again by its
// pid file, checked against its command line so that a reused pid is
// not taken for it. DHCP hosts and DNS names are in hosts files that a
// SIGHUP makes it re-read, so a live net-update needs no restart. Leases
// are in dnsmasq's own lease file.

// needsDnsmasq says whether the network gets a dnsmasq: a network of its
// own bridge with at least one address, unless <dns enable='no'> and no
// DHCP.
func needsDnsmasq(def *libvirtxml.Network) bool {
	if !ownBridge(def) || len(def.IPs) == 0 {
		return false
	}
	if def.DNS != nil && def.DNS.Enable == "no" {
		for _, ip := range def.IPs {
			if ip.DHCP != nil {
				return true
			}
		}
		return false
	}
	return true
}

// dnsmasqConf is the configuration of the network's dnsmasq.
func (c Config) dnsmasqConf(def *libvirtxml.Network, subs []subnet) string {
	name := def.Name
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by govirtd for network '%s'; it is rewritten whenever the network starts.\n", name)
	b.WriteString("strict-order\n")
	fmt.Fprintf(&b, "pid-file=%s\n", c.dnsmasqPath(name, "pid"))
	b.WriteString("except-interface=lo\nbind-dynamic\n")
	fmt.Fprintf(&b, "interface=%s\n", bridgeName(def))
	if def.DNS != nil && def.DNS.Enable == "no" {
		b.WriteString("port=0\n")
	}
	if def.Domain != nil && def.Domain.Name != "" {
		fmt.Fprintf(&b, "domain=%s\nexpand-hosts\n", def.Domain.Name)
		if def.Domain.LocalOnly == "yes" {
			fmt.Fprintf(&b, "local=/%s/\n", def.Domain.Name)
		}
	}
	if def.DNS != nil {
		for _, f := range def.DNS.Forwarders {
			addr := f.Addr
			if addr != "" && f.Port != 0 {
				addr += "#" + strconv.FormatUint(uint64(f.Port), 10) // dnsmasq's ADDR#PORT
			}
			switch {
			case f.Domain != "" && addr != "":
				fmt.Fprintf(&b, "server=/%s/%s\n", f.Domain, addr)
			case f.Domain != "":
				fmt.Fprintf(&b, "server=/%s/#\n", f.Domain)
			case addr != "":
				fmt.Fprintf(&b, "server=%s\n", addr)
			}
		}
		if def.DNS.ForwardPlainNames == "no" {
			b.WriteString("domain-needed\n")
		}
		for _, t := range def.DNS.TXTs {
			fmt.Fprintf(&b, "txt-record=%s,%s\n", t.Name, t.Value)
		}
	}
	leases := 0
	dhcp := false
	for _, s := range subs {
		if s.ip.DHCP == nil {
			continue
		}
		for _, r := range s.ip.DHCP.Ranges {
			dhcp = true
			if s.v4() {
				fmt.Fprintf(&b, "dhcp-range=%s,%s,%s%s\n", r.Start, r.End, net.IP(s.net.Mask), leaseTime(r.Lease))
			} else {
				ones, _ := s.net.Mask.Size()
				fmt.Fprintf(&b, "dhcp-range=%s,%s,%d%s\n", r.Start, r.End, ones, leaseTime(r.Lease))
			}
			leases += rangeSize(r.Start, r.End)
		}
		if len(s.ip.DHCP.Hosts) > 0 {
			dhcp = true
			leases += len(s.ip.DHCP.Hosts) // a static host's lease counts too
			if len(s.ip.DHCP.Ranges) == 0 {
				// Static hosts alone: dnsmasq needs a range to serve
				// the subnet, a static one.
				fmt.Fprintf(&b, "dhcp-range=%s,static\n", s.network().IP)
			}
		}
		if !s.v4() {
			b.WriteString("enable-ra\n")
		}
	}
	if dhcp {
		b.WriteString("dhcp-no-override\ndhcp-authoritative\n")
		if leases > 0 {
			fmt.Fprintf(&b, "dhcp-lease-max=%d\n", leases)
		}
		fmt.Fprintf(&b, "dhcp-hostsfile=%s\n", c.dnsmasqPath(name, "hostsfile"))
		fmt.Fprintf(&b, "dhcp-leasefile=%s\n", c.dnsmasqPath(name, "leases"))
	}
	fmt.Fprintf(&b, "addn-hosts=%s\n", c.dnsmasqPath(name, "addnhosts"))
	if def.DnsmasqOptions != nil {
		// <dnsmasq:options>: the administrator's own lines, verbatim,
		// as libvirt appends them.
		for _, o := range def.DnsmasqOptions.Option {
			fmt.Fprintf(&b, "%s\n", o.Value)
		}
	}
	return b.String()
}

// leaseTime is dnsmasq's lease time for a <lease>: ",infinite" for
// expiry 0, else the time with its unit; "" for none (dnsmasq's default
// of one hour).
func leaseTime(l *libvirtxml.NetworkDHCPLease) string {
	if l == nil {
		return ""
	}
	if l.Expiry == 0 {
		return ",infinite"
	}
	unit := map[string]string{"seconds": "", "minutes": "m", "hours": "h"}[l.Unit]
	return fmt.Sprintf(",%d%s", l.Expiry, unit)
}

// rangeSize counts the addresses from start to end (capped), for
// dhcp-lease-max.
func rangeSize(start, end string) int {
	a, b := net.ParseIP(start).To4(), net.ParseIP(end).To4()
	if a == nil || b == nil {
		return 0
	}
	n := int(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3])) -
		int(uint32(a[0])<<24|uint32(a[1])<<16|uint32(a[2])<<8|uint32(a[3])) + 1
	if n < 0 {
		return 0
	}
	return n
}

// hostsFiles are the contents of the DHCP hosts file (one line per
// <host>: MAC or id, address, name, lease) and the DNS hosts file (one
// line per <dns><host> and per named DHCP host).
func hostsFiles(def *libvirtxml.Network) (dhcpHosts, dnsHosts string) {
	var dh, dn strings.Builder
	for _, ip := range def.IPs {
		if ip.DHCP == nil {
			continue
		}
		v4 := netxml.IsV4(ip.Address)
		for _, h := range ip.DHCP.Hosts {
			var f []string
			switch {
			case h.MAC != "":
				f = append(f, h.MAC)
			case h.ID != "":
				f = append(f, "id:"+h.ID)
			}
			if h.IP != "" {
				if v4 {
					f = append(f, h.IP)
				} else {
					f = append(f, "["+h.IP+"]")
				}
			}
			if h.Name != "" {
				f = append(f, h.Name)
			}
			if lt := leaseTime(h.Lease); lt != "" {
				f = append(f, lt[1:])
			}
			fmt.Fprintln(&dh, strings.Join(f, ","))
			if h.Name != "" && h.IP != "" {
				fmt.Fprintf(&dn, "%s\t%s\n", h.IP, h.Name)
			}
		}
	}
	if def.DNS != nil {
		for _, h := range def.DNS.Host {
			var names []string
			for _, n := range h.Hostnames {
				names = append(names, n.Hostname)
			}
			if len(names) > 0 {
				fmt.Fprintf(&dn, "%s\t%s\n", h.IP, strings.Join(names, "\t"))
			}
		}
	}
	return dh.String(), dn.String()
}

// writeHostsFiles writes the two hosts files of def.
func (c Config) writeHostsFiles(def *libvirtxml.Network) error {
	dh, dn := hostsFiles(def)
	if err := writeFileAtomic(c.dnsmasqPath(def.Name, "hostsfile"), []byte(dh)); err != nil {
		return err
	}
	return writeFileAtomic(c.dnsmasqPath(def.Name, "addnhosts"), []byte(dn))
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// startDnsmasq writes the network's dnsmasq files and runs it; dnsmasq's
// parent returns once the daemon runs (or with its error).
func (d *Driver) startDnsmasq(def *libvirtxml.Network, subs []subnet) (int, error) {
	bin, err := exec.LookPath(d.cfg.Dnsmasq)
	if err != nil {
		return 0, failed("cannot start network '%s': no %s executable (%v): install dnsmasq-base (`make deps`) or set network_dnsmasq", def.Name, d.cfg.Dnsmasq, err)
	}
	conf := d.cfg.dnsmasqPath(def.Name, "conf")
	if err := writeFileAtomic(conf, []byte(d.cfg.dnsmasqConf(def, subs))); err != nil {
		return 0, failed("cannot write dnsmasq configuration %s: %v", conf, err)
	}
	if err := d.cfg.writeHostsFiles(def); err != nil {
		return 0, failed("cannot write the hosts files of network '%s': %v", def.Name, err)
	}
	pidFile := d.cfg.dnsmasqPath(def.Name, "pid")
	os.Remove(pidFile)
	leases := d.cfg.dnsmasqPath(def.Name, "leases")
	if f, err := os.OpenFile(leases, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		f.Close()
	}
	cmd := exec.Command(bin, "--conf-file="+conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Run(); err != nil {
		return 0, failed("dnsmasq for network '%s' did not start (%s --conf-file=%s): %v: %s", def.Name, bin, conf, err, strings.TrimSpace(out.String()))
	}
	pid, err := readPID(pidFile)
	if err != nil {
		return 0, failed("dnsmasq for network '%s' started but left no pid file %s: %v", def.Name, pidFile, err)
	}
	return pid, nil
}

func readPID(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s holds no pid", path)
	}
	return pid, nil
}

// ourDnsmasq reports whether pid is a live dnsmasq running conf.
func ourDnsmasq(pid int, conf string) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	if !hostinfo.Alive(pid) {
		return false
	}
	for _, arg := range bytes.Split(data, []byte{0}) {
		if string(arg) == "--conf-file="+conf {
			return true
		}
	}
	return false
}

// runningDnsmasq is the pid of the network's dnsmasq, 0 when none runs.
func (d *Driver) runningDnsmasq(name string) int {
	pid, err := readPID(d.cfg.dnsmasqPath(name, "pid"))
	if err != nil || !ourDnsmasq(pid, d.cfg.dnsmasqPath(name, "conf")) {
		return 0
	}
	return pid
}

// stopDnsmasq ends the network's dnsmasq (SIGTERM, then SIGKILL after a
// grace period) and removes its files, the leases too unless keepLeases
// (a restart of a running network's dnsmasq).
func (d *Driver) stopDnsmasq(name string, keepLeases bool) {
	if pid := d.runningDnsmasq(name); pid > 0 {
		syscall.Kill(pid, syscall.SIGTERM)
		conf := d.cfg.dnsmasqPath(name, "conf")
		deadline := time.Now().Add(5 * time.Second)
		for ourDnsmasq(pid, conf) {
			if time.Now().After(deadline) {
				syscall.Kill(pid, syscall.SIGKILL)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	kinds := []string{"pid", "conf", "hostsfile", "addnhosts"}
	if !keepLeases {
		kinds = append(kinds, "leases")
	}
	for _, kind := range kinds {
		os.Remove(d.cfg.dnsmasqPath(name, kind))
	}
}

// watchDnsmasq supervises the network's dnsmasq as the QEMU driver does
// its guests: it waits on a pidfd for the process to end (it is no child
// of the daemon), and when it ends while the network is active and this
// is still its dnsmasq, a new one is started and the exit logged. A
// dnsmasq the driver stops or replaces is not restarted: its pid is no
// longer the network's by then.
func (d *Driver) watchDnsmasq(name string, pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		d.log.Warn("dnsmasq not supervised: cannot open a pidfd", "network", name, "pid", pid, "err", err)
		return
	}
	go func() {
		defer unix.Close(fd)
		for {
			_, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, -1)
			if err != unix.EINTR {
				break
			}
		}
		d.job.Lock()
		defer d.job.Unlock()
		d.mu.RLock()
		o, err := d.nets.ByName(name)
		current := err == nil && o.Active && d.dns[name] == pid
		var def *libvirtxml.Network
		if current {
			def = o.Def
		}
		d.mu.RUnlock()
		if !current {
			return
		}
		d.log.Warn("dnsmasq of network exited: starting it again", "network", name, "pid", pid)
		if err := d.refreshDnsmasq(def); err != nil {
			d.log.Error("dnsmasq of network not restarted", "network", name, "err", err)
		}
	}()
}

// refreshDnsmasq makes a running dnsmasq re-read the hosts files the
// definition gives (SIGHUP), or starts it again when it is gone.
func (d *Driver) refreshDnsmasq(def *libvirtxml.Network) error {
	if !needsDnsmasq(def) {
		return nil
	}
	pid := d.runningDnsmasq(def.Name)
	if pid == 0 {
		subs, err := subnets(def)
		if err != nil {
			return err
		}
		d.log.Info("dnsmasq of network not running: starting it", "network", def.Name)
		pid, err = d.startDnsmasq(def, subs)
		if err != nil {
			return err
		}
		d.mu.Lock()
		d.dns[def.Name] = pid
		d.mu.Unlock()
		d.watchDnsmasq(def.Name, pid)
		return nil
	}
	if err := d.cfg.writeHostsFiles(def); err != nil {
		return failed("cannot write the hosts files of network '%s': %v", def.Name, err)
	}
	return syscall.Kill(pid, syscall.SIGHUP)
}

// leases reads the network's dnsmasq lease file: one line per lease,
// "EXPIRY MAC IP HOSTNAME CLIENTID" for IPv4 ("*" for an unknown name or
// client id); IPv6 lines follow a "duid" line and carry IAID in place of
// the MAC. mac, when not empty, keeps only that MAC's leases.
func (d *Driver) leases(def *libvirtxml.Network, mac string) ([]protocol.NetworkDhcpLease, error) {
	path := d.cfg.dnsmasqPath(def.Name, "leases")
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, failed("cannot read the leases of network '%s' (%s): %v", def.Name, path, err)
	}
	defer f.Close()
	subs, _ := subnets(def)
	prefixOf := func(ip net.IP) uint32 {
		for _, s := range subs {
			if s.network().Contains(ip) {
				ones, _ := s.net.Mask.Size()
				return uint32(ones)
			}
		}
		return 0
	}
	var out []protocol.NetworkDhcpLease
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[0] == "duid" {
			continue
		}
		exp, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		ip := net.ParseIP(f[2])
		if ip == nil {
			continue
		}
		l := protocol.NetworkDhcpLease{Iface: bridgeName(def), Expirytime: exp, Ipaddr: ip.String(), Prefix: prefixOf(ip)}
		if ip.To4() == nil {
			// An IPv6 lease: an IAID where IPv4 has the MAC, which
			// dnsmasq's lease file does not record.
			if mac != "" {
				continue
			}
			l.Type, l.Iaid = 1, optStr(f[1])
		} else {
			hw, err := net.ParseMAC(f[1])
			if err != nil || mac != "" && !strings.EqualFold(hw.String(), mac) {
				continue
			}
			l.MAC = optStr(hw.String())
		}
		if f[3] != "*" {
			l.Hostname = optStr(f[3])
		}
		if len(f) > 4 && f[4] != "*" {
			l.Clientid = optStr(f[4])
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

func optStr(s string) *string { return &s }

// removeState deletes what an active network keeps in the state
// directory besides dnsmasq's files: its live definition.
func (c Config) removeState(name string) {
	os.Remove(c.statePath(name))
	matches, _ := filepath.Glob(filepath.Join(c.StateDir, name+".*.tmp"))
	for _, m := range matches {
		os.Remove(m)
	}
}
