package test

import (
	"context"
	"strconv"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The tuning changes, on the definition the flags designate, with
// libvirt's test driver's checks.

// checkParams refuses a parameter not in types or of another type, as
// virTypedParamsValidate does.
func checkParams(params []protocol.TypedParam, types map[string]vir.TypedParameterType) error {
	for _, p := range params {
		t, ok := types[p.Field]
		if !ok {
			return drivers.Errorf(vir.ErrArgumentUnsupported, vir.FromTest, "parameter '%s' not supported", p.Field)
		}
		if p.Value.Type != int32(t) {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "invalid type for parameter '%s', expected '%s'", p.Field, t)
		}
	}
	return nil
}

// blkioDevices parses a "path,value,path,value" list of field.
func blkioDevices(field, list string) ([][2]string, error) {
	if list == "" {
		return nil, nil
	}
	parts := strings.Split(list, ",")
	if len(parts)%2 != 0 {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "unable to parse blkio device '%s' '%s'", field, list)
	}
	var out [][2]string
	for i := 0; i < len(parts); i += 2 {
		bits := 32
		if strings.HasSuffix(field, "_bytes_sec") {
			bits = 64
		}
		if _, err := strconv.ParseUint(parts[i+1], 10, bits); err != nil {
			return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "invalid value '%s' for parameter '%s' of device '%s'",
				strings.Join(parts[i+1:], ","), field, parts[i])
		}
		out = append(out, [2]string{parts[i], parts[i+1]})
	}
	return out, nil
}

// blkioField is the device field a per-device list sets.
func blkioField(d *libvirtxml.DomainBlockIOTuneDevice, field string) *uint {
	switch field {
	case "device_weight":
		return &d.Weight
	case "device_read_iops_sec":
		return &d.ReadIopsSec
	case "device_write_iops_sec":
		return &d.WriteIopsSec
	case "device_read_bytes_sec":
		return &d.ReadBytesSec
	}
	return &d.WriteBytesSec
}

// DomainSetBlkioParameters sets the block I/O weight and merges
// per-device lists into the devices (a device not yet listed is added
// unless its value is 0); a bad list is reported once the others are
// applied, as libvirt does (drivers.OpDomainSetBlkioParameters).
func (c *conn) DomainSetBlkioParameters(ctx context.Context, ref protocol.Domain, params []protocol.TypedParam, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return badFlags(flags, "testDomainSetBlkioParameters")
	}
	str := vir.TypedParamString
	if err := checkParams(params, map[string]vir.TypedParameterType{
		"weight": vir.TypedParamUint, "device_weight": str, "device_read_iops_sec": str,
		"device_write_iops_sec": str, "device_read_bytes_sec": str, "device_write_bytes_sec": str,
	}); err != nil {
		return err
	}
	return c.drv.withDomain(ref, func(dom *domain) error {
		def, _, err := oneDef(dom, flags)
		if err != nil {
			return err
		}
		if def.XML.BlockIOTune == nil {
			def.XML.BlockIOTune = &libvirtxml.DomainBlockIOTune{}
		}
		t := def.XML.BlockIOTune
		var last error
		for _, p := range params {
			if p.Field == "weight" {
				t.Weight = uint(p.Value.Ui)
				continue
			}
			devs, err := blkioDevices(p.Field, p.Value.S)
			if err != nil {
				last = err
				continue
			}
		next:
			for _, dv := range devs {
				v, _ := strconv.ParseUint(dv[1], 10, 64)
				for i := range t.Device {
					if t.Device[i].Path == dv[0] {
						*blkioField(&t.Device[i], p.Field) = uint(v)
						continue next
					}
				}
				if v != 0 {
					d := libvirtxml.DomainBlockIOTuneDevice{Path: dv[0]}
					*blkioField(&d, p.Field) = uint(v)
					t.Device = append(t.Device, d)
				}
			}
		}
		if t.Weight == 0 && len(t.Device) == 0 {
			def.XML.BlockIOTune = nil
		}
		return last
	})
}

// blockIOTuneMax is the largest throttle libvirt's test driver takes.
const blockIOTuneMax = 1000000000000000

// iotuneFields are the disk throttles by parameter name.
func iotuneFields(t *libvirtxml.DomainDiskIOTune) map[string]*uint64 {
	return map[string]*uint64{
		"total_bytes_sec": &t.TotalBytesSec, "read_bytes_sec": &t.ReadBytesSec, "write_bytes_sec": &t.WriteBytesSec,
		"total_iops_sec": &t.TotalIopsSec, "read_iops_sec": &t.ReadIopsSec, "write_iops_sec": &t.WriteIopsSec,
		"total_bytes_sec_max": &t.TotalBytesSecMax, "read_bytes_sec_max": &t.ReadBytesSecMax, "write_bytes_sec_max": &t.WriteBytesSecMax,
		"total_iops_sec_max": &t.TotalIopsSecMax, "read_iops_sec_max": &t.ReadIopsSecMax, "write_iops_sec_max": &t.WriteIopsSecMax,
		"size_iops_sec":              &t.SizeIopsSec,
		"total_bytes_sec_max_length": &t.TotalBytesSecMaxLength, "read_bytes_sec_max_length": &t.ReadBytesSecMaxLength,
		"write_bytes_sec_max_length": &t.WriteBytesSecMaxLength, "total_iops_sec_max_length": &t.TotalIopsSecMaxLength,
		"read_iops_sec_max_length": &t.ReadIopsSecMaxLength, "write_iops_sec_max_length": &t.WriteIopsSecMaxLength,
	}
}

// DomainSetBlockIOTune changes a disk's throttles with libvirt's test
// driver's checks: a total and a read or write limit exclude each
// other, and each rate may not exceed its burst maximum, which an
// unset maximum (0) makes every non-zero rate do
// (drivers.OpDomainSetBlockIOTune).
func (c *conn) DomainSetBlockIOTune(ctx context.Context, ref protocol.Domain, disk string, params []protocol.TypedParam, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return badFlags(flags, "testDomainSetBlockIoTune")
	}
	types := map[string]vir.TypedParameterType{"group_name": vir.TypedParamString}
	for f := range iotuneFields(&libvirtxml.DomainDiskIOTune{}) {
		types[f] = vir.TypedParamUllong
	}
	if err := checkParams(params, types); err != nil {
		return err
	}
	return c.drv.withDomain(ref, func(dom *domain) error {
		def, _, err := oneDef(dom, flags)
		if err != nil {
			return err
		}
		d := findDisk(def, disk)
		if d == nil {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "missing persistent configuration for disk '%s'", disk)
		}
		var t libvirtxml.DomainDiskIOTune
		if d.IOTune != nil {
			t = *d.IOTune
		}
		fields := iotuneFields(&t)
		for _, p := range params {
			if p.Field == "group_name" {
				t.GroupName = p.Value.S
				continue
			}
			if p.Value.Ul > blockIOTuneMax {
				return drivers.Errorf(vir.ErrArgumentUnsupported, vir.FromTest, "block I/O throttle limit value must be no more than %d", uint64(blockIOTuneMax))
			}
			*fields[p.Field] = p.Value.Ul
		}
		for _, kind := range []string{"bytes_sec", "iops_sec", "bytes_sec_max", "iops_sec_max"} {
			if *fields["total_"+kind] != 0 && (*fields["read_"+kind] != 0 || *fields["write_"+kind] != 0) {
				return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "total and read/write of %s cannot be set at the same time", kind)
			}
		}
		for _, f := range []string{"total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec", "read_iops_sec", "write_iops_sec"} {
			if *fields[f] > *fields[f+"_max"] {
				return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "%s cannot be set higher than %s_max ", f, f)
			}
		}
		if t == (libvirtxml.DomainDiskIOTune{}) {
			d.IOTune = nil
		} else {
			d.IOTune = &t
		}
		return nil
	})
}

// DomainSetNumaParameters sets the memory mode (numa_mode, an int) and
// nodeset of the definition flags designate: a running domain's mode
// cannot change, and a nodeset is needed unless one is set or the
// placement is automatic (drivers.OpDomainSetNumaParameters).
func (c *conn) DomainSetNumaParameters(ctx context.Context, ref protocol.Domain, params []protocol.TypedParam, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return badFlags(flags, "testDomainSetNumaParameters")
	}
	if err := checkParams(params, map[string]vir.TypedParameterType{"numa_mode": vir.TypedParamInt, "numa_nodeset": vir.TypedParamString}); err != nil {
		return err
	}
	mode, nodeset := int32(-1), ""
	for _, p := range params {
		switch p.Field {
		case "numa_mode":
			mode = p.Value.I
			if mode < 0 || int(mode) >= len(numaModes) {
				return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "unsupported numatune mode: '%d'", mode)
			}
		case "numa_nodeset":
			set, err := parseCPUSet(p.Value.S)
			if err != nil {
				return err
			}
			if set == 0 {
				return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "Invalid nodeset of 'numatune': %s", p.Value.S)
			}
			nodeset = set.String()
		}
	}
	return c.drv.withDomain(ref, func(dom *domain) error {
		def, live, err := oneDef(dom, flags)
		if err != nil {
			return err
		}
		var cur *libvirtxml.DomainNUMATuneMemory
		if def.XML.NUMATune != nil {
			cur = def.XML.NUMATune.Memory
		}
		if live && mode != -1 && cur != nil && numaModeOf(cur.Mode) != mode {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "can't change numatune mode for running domain")
		}
		if mode == -1 && nodeset == "" {
			return nil
		}
		next := libvirtxml.DomainNUMATuneMemory{Mode: "strict"}
		placement := ""
		if cur != nil {
			next = *cur
			placement = cur.Placement
			if placement == "" && cur.Nodeset != "" {
				placement = "static"
			}
		}
		if mode != -1 {
			next.Mode = numaModes[mode]
		}
		if nodeset != "" {
			next.Nodeset, placement = nodeset, "static"
		}
		if placement == "" {
			placement = "auto"
			if next.Nodeset != "" || def.XML.VCPU == nil || def.XML.VCPU.Placement != "auto" {
				placement = "static"
			}
		}
		if placement == "static" && next.Nodeset == "" {
			return drivers.Errorf(vir.ErrConfigUnsupported, vir.FromDomain, "nodeset for NUMA memory tuning must be set if 'placement' is 'static'")
		}
		if placement == "auto" {
			next.Nodeset, next.Placement = "", "auto"
		} else {
			next.Placement = ""
		}
		if def.XML.NUMATune == nil {
			def.XML.NUMATune = &libvirtxml.DomainNUMATune{}
		}
		def.XML.NUMATune.Memory = &next
		return nil
	})
}

// numaModeOf is a mode name's number, strict for none.
func numaModeOf(name string) int32 {
	for i, m := range numaModes {
		if m == name {
			return int32(i)
		}
	}
	return 0
}
