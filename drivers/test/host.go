package test

import (
	"context"
	"fmt"
	"strings"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The test driver's host, as libvirt 9.0's test driver describes it:
// 16 CPUs at 1.4 GHz in 2 NUMA cells of 8 CPUs (2 sockets × 2 cores × 2
// threads in nodeinfo), cell 0 with 2 GiB of 4 KiB pages and cell 1 with
// 4 GiB of 8 KiB pages.
var cells = []struct {
	memKiB   uint64
	pageKiB  int
	firstCPU int
	socket   int
}{
	{2 * 1024 * 1024, 4, 0, 0},
	{4 * 1024 * 1024, 8, 8, 1},
}

// capabilities is the host and guests libvirt's test driver reports,
// topology included; formatted as libvirt formats it.
var capabilities = func() string {
	var b strings.Builder
	b.WriteString(`<capabilities>

  <host>
    <cpu>
      <arch>i686</arch>
      <features>
        <pae/>
        <nonpae/>
      </features>
      <pages unit='KiB' size='4'/>
      <pages unit='KiB' size='8'/>
      <pages unit='KiB' size='2048'/>
      <pages unit='KiB' size='1048576'/>
    </cpu>
    <power_management/>
    <iommu support='no'/>
    <topology>
      <cells num='2'>
`)
	for i, c := range cells {
		fmt.Fprintf(&b, "        <cell id='%d'>\n", i)
		fmt.Fprintf(&b, "          <memory unit='KiB'>%d</memory>\n", c.memKiB)
		fmt.Fprintf(&b, "          <pages unit='KiB' size='%d'>%d</pages>\n", c.pageKiB, 2*1024*1024/4)
		b.WriteString("          <pages unit='KiB' size='2048'>0</pages>\n")
		b.WriteString("          <pages unit='KiB' size='1048576'>0</pages>\n")
		b.WriteString("          <cpus num='8'>\n")
		for core := 0; core < 8; core++ {
			id := c.firstCPU + core
			fmt.Fprintf(&b, "            <cpu id='%d' socket_id='%d' die_id='0' core_id='%d' siblings='%d'/>\n", id, c.socket, core, id)
		}
		b.WriteString("          </cpus>\n        </cell>\n")
	}
	b.WriteString(`      </cells>
    </topology>
    <secmodel>
      <model>testSecurity</model>
      <doi></doi>
    </secmodel>
  </host>
`)
	for _, osType := range []string{"hvm", "xen"} {
		fmt.Fprintf(&b, `
  <guest>
    <os_type>%s</os_type>
    <arch name='i686'>
      <wordsize>32</wordsize>
      <emulator>/usr/bin/test-hv</emulator>
      <domain type='test'/>
    </arch>
    <features>
      <pae/>
      <nonpae/>
    </features>
  </guest>
`, osType)
	}
	b.WriteString("\n</capabilities>\n")
	return b.String()
}()

func (c *conn) ConnectGetCapabilities(context.Context) (string, error) { return capabilities, nil }

// NodeGetCellsFreeMemory answers each cell's memory, free as the test
// host is idle. libvirt's test driver answers the capabilities' KiB
// figure where the API's unit is bytes (virsh freecell prints 2048 KiB
// for cell 0); govirtd answers the same numbers, so that clients see
// one test host.
func (c *conn) NodeGetCellsFreeMemory(ctx context.Context, start, maxCells int32) ([]uint64, error) {
	if start < 0 || int(start) >= len(cells) || maxCells < 0 {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "Range exceeds available cells")
	}
	var out []uint64
	for i := int(start); i < len(cells) && len(out) < int(maxCells); i++ {
		out = append(out, cells[i].memKiB)
	}
	return out, nil
}

// NodeGetFreeMemory answers libvirt's test driver's figure, the host's
// 3 GiB expressed in KiB (the API's unit is bytes).
func (c *conn) NodeGetFreeMemory(context.Context) (uint64, error) { return 3 * 1024 * 1024, nil }

// cString is s as the protocol's fixed char arrays carry it, with its
// terminating NUL.
func cString(s string) []int8 {
	out := make([]int8, len(s)+1)
	for i := 0; i < len(s); i++ {
		out[i] = int8(s[i])
	}
	return out
}

// NodeGetSecurityModel answers the test driver's security model.
func (c *conn) NodeGetSecurityModel(context.Context) (*protocol.NodeGetSecurityModelRet, error) {
	return &protocol.NodeGetSecurityModelRet{Model: cString("testSecurity"), DOI: cString("")}, nil
}

// DomainGetSecurityLabel answers the label libvirt's test driver gives
// every running domain, enforcing, and an empty label for an inactive
// one.
func (c *conn) DomainGetSecurityLabel(ctx context.Context, ref protocol.Domain) (*protocol.DomainGetSecurityLabelRet, error) {
	active := false
	if err := c.drv.withDomain(ref, func(dom *domain) error { active = dom.active(); return nil }); err != nil {
		return nil, err
	}
	if !active {
		return &protocol.DomainGetSecurityLabelRet{Label: cString("")}, nil
	}
	return &protocol.DomainGetSecurityLabelRet{Label: cString("libvirt-test"), Enforcing: 1}, nil
}

const sysinfo = `<sysinfo type='smbios'>
  <bios>
    <entry name='vendor'>LENOVO</entry>
    <entry name='version'>G4ETA1WW (2.61 )</entry>
    <entry name='date'>05/07/2014</entry>
    <entry name='release'>2.61</entry>
  </bios>
</sysinfo>
`

// ConnectGetSysinfo answers the test host's SMBIOS data.
func (c *conn) ConnectGetSysinfo(ctx context.Context, flags uint32) (string, error) {
	if flags != 0 {
		return "", badFlags(flags, "testConnectGetSysinfo")
	}
	return sysinfo, nil
}

// ConnectGetMaxVcpus answers 32 for any domain type, as libvirt's test
// driver does.
func (c *conn) ConnectGetMaxVcpus(ctx context.Context, typ *string) (int32, error) { return 32, nil }

// NodeGetCPUMap answers libvirt's test driver's map: 8 CPUs present, 0, 2
// and 4 online.
func (c *conn) NodeGetCPUMap(ctx context.Context, needMap, needOnline int32, flags uint32) (*protocol.NodeGetCPUMapRet, error) {
	if flags != 0 {
		return nil, badFlags(flags, "testNodeGetCPUMap")
	}
	ret := &protocol.NodeGetCPUMapRet{Ret: 8}
	if needMap != 0 {
		ret.Cpumap = []byte{0x15}
	}
	if needOnline != 0 {
		ret.Online = 3
	}
	return ret, nil
}
