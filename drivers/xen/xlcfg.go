package xen

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
)

// xlCfg is the part of an xl.cfg file (xl.cfg(5)) the config sub-driver
// converts to and from domain XML.
type xlCfg struct {
	Name   string
	UUID   drivers.UUID
	Memory uint64 // MiB: xl.cfg's memory=
	MaxMem uint64 // MiB: maxmem=, 0 when equal to memory
	VCPUs  uint16
	Type   string // pv, pvh or hvm
	Extra  []string
}

// parseXLCfg reads xl.cfg's `key = value` lines: numbers bare, strings
// in quotes, # comments. Keys it does not convert are kept in Extra.
func parseXLCfg(s string) (xlCfg, error) {
	c := xlCfg{VCPUs: 1, Type: "pv"}
	sc := bufio.NewScanner(strings.NewReader(s))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return c, fmt.Errorf("line %d %q is not key = value", n, line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		uq := strings.Trim(v, `"'`)
		var err error
		switch k {
		case "name":
			c.Name = uq
		case "uuid":
			c.UUID, err = drivers.ParseUUID(uq)
		case "memory":
			c.Memory, err = strconv.ParseUint(uq, 10, 64)
		case "maxmem":
			c.MaxMem, err = strconv.ParseUint(uq, 10, 64)
		case "vcpus":
			var x uint64
			x, err = strconv.ParseUint(uq, 10, 16)
			c.VCPUs = uint16(x)
		case "type":
			c.Type = uq
		case "builder":
			if uq == "hvm" {
				c.Type = "hvm"
			}
		default:
			c.Extra = append(c.Extra, line)
		}
		if err != nil {
			return c, fmt.Errorf("line %d: %s: %v", n, k, err)
		}
	}
	if c.Name == "" {
		return c, fmt.Errorf("no name = line")
	}
	if c.Memory == 0 {
		c.Memory = 128 // xl's default
	}
	return c, nil
}

func (c xlCfg) format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# written by govirtd from domain XML\nname = %q\nuuid = %q\ntype = %q\nmemory = %d\n", c.Name, c.UUID.String(), c.Type, c.Memory)
	if c.MaxMem > c.Memory {
		fmt.Fprintf(&b, "maxmem = %d\n", c.MaxMem)
	}
	fmt.Fprintf(&b, "vcpus = %d\n", c.VCPUs)
	for _, l := range c.Extra {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// cfgFromDef converts domain XML to xl.cfg.
func cfgFromDef(d *domxml.Def) (xlCfg, error) {
	c := xlCfg{Name: d.Name(), UUID: d.UUID, VCPUs: d.VCPUs(), Type: "pv"}
	if c.VCPUs == 0 {
		c.VCPUs = 1
	}
	switch t := d.OSType(); t {
	case "", "linux", "xen":
	case "hvm":
		c.Type = "hvm"
	default:
		return c, fmt.Errorf("<os><type>%s</type>: Xen runs xen (PV) or hvm guests", t)
	}
	c.Memory = (d.CurMemKiB() + 1023) / 1024
	if m := (d.MaxMemKiB() + 1023) / 1024; m > c.Memory {
		c.MaxMem = m
	}
	return c, nil
}

// xml is the cfg as domain XML (type='xen').
func (c xlCfg) xml(id int32) string {
	os := "linux"
	if c.Type == "hvm" {
		os = "hvm"
	}
	maxKiB := c.Memory * 1024
	if c.MaxMem > c.Memory {
		maxKiB = c.MaxMem * 1024
	}
	idAttr := ""
	if id >= 0 {
		idAttr = fmt.Sprintf(" id='%d'", id)
	}
	return fmt.Sprintf(`<domain type='xen'%s>
  <name>%s</name>
  <uuid>%s</uuid>
  <memory unit='KiB'>%d</memory>
  <currentMemory unit='KiB'>%d</currentMemory>
  <vcpu placement='static'>%d</vcpu>
  <os>
    <type>%s</type>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
</domain>
`, idAttr, xmlEscape(c.Name), c.UUID.String(), maxKiB, c.Memory*1024, c.VCPUs, os)
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;", `"`, "&quot;").Replace(s)
}
