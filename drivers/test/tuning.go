package test

import (
	"context"
	"fmt"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The tuning reads (blkiotune, blkdeviotune, domiftune, numatune, perf)
// answer from the definition the flags designate, with the fields and
// the counts libvirt's test driver gives; a client asking for 0
// parameters learns how many there are.

const stringOkay = uint32(vir.TypedParamStringOkay)

// forClient is the first n of params as the wire carries them to a
// client: string parameters only for a client that set
// VIR_TYPED_PARAM_STRING_OKAY, as libvirtd sends them (libvirt's clients
// set it, since the test driver answers yes to
// VIR_DRV_FEATURE_TYPED_PARAM_STRING).
func forClient(params []protocol.TypedParam, n int32, flags uint32) []protocol.TypedParam {
	if flags&stringOkay == 0 {
		kept := params[:0:0]
		for _, p := range params {
			if p.Value.Type != int32(vir.TypedParamString) {
				kept = append(kept, p)
			}
		}
		params = kept
	}
	return firstParams(params, n)
}

// readDef runs f on the definition flags designate (live or config),
// refusing flags outside allowed with fn's name; mu is taken.
func (c *conn) readDef(ref protocol.Domain, flags, allowed uint32, fn string, f func(*domxml.Def) error) error {
	if flags&^allowed != 0 {
		return badFlags(flags&^allowed, fn)
	}
	return c.drv.withDomain(ref, func(dom *domain) error {
		def, _, err := oneDef(dom, flags&^stringOkay)
		if err != nil {
			return err
		}
		return f(def)
	})
}

const tuneFlags = affectLive | affectConfig | stringOkay

// DomainGetBlkioParameters answers the domain's block I/O weight and
// its per-device lists, "path,value" pairs joined by commas
// (drivers.OpDomainGetBlkioParameters).
func (c *conn) DomainGetBlkioParameters(ctx context.Context, ref protocol.Domain, nparams int32, flags uint32) (*protocol.DomainGetBlkioParametersRet, error) {
	const count = 6
	if flags&^tuneFlags != 0 {
		return nil, badFlags(flags&^tuneFlags, "testDomainGetBlkioParameters")
	}
	if nparams == 0 {
		return &protocol.DomainGetBlkioParametersRet{Nparams: count}, nil
	}
	var params []protocol.TypedParam
	err := c.readDef(ref, flags, tuneFlags, "testDomainGetBlkioParameters", func(def *domxml.Def) error {
		t := def.XML.BlockIOTune
		if t == nil {
			t = &libvirtxml.DomainBlockIOTune{}
		}
		params = append(params, paramUint("weight", uint32(t.Weight)))
		list := func(field string, v func(libvirtxml.DomainBlockIOTuneDevice) uint) {
			var parts []string
			for _, d := range t.Device {
				if x := v(d); x != 0 {
					parts = append(parts, fmt.Sprintf("%s,%d", d.Path, x))
				}
			}
			params = append(params, paramString(field, strings.Join(parts, ",")))
		}
		list("device_weight", func(d libvirtxml.DomainBlockIOTuneDevice) uint { return d.Weight })
		list("device_read_iops_sec", func(d libvirtxml.DomainBlockIOTuneDevice) uint { return d.ReadIopsSec })
		list("device_write_iops_sec", func(d libvirtxml.DomainBlockIOTuneDevice) uint { return d.WriteIopsSec })
		list("device_read_bytes_sec", func(d libvirtxml.DomainBlockIOTuneDevice) uint { return d.ReadBytesSec })
		list("device_write_bytes_sec", func(d libvirtxml.DomainBlockIOTuneDevice) uint { return d.WriteBytesSec })
		return nil
	})
	if err != nil {
		return nil, err
	}
	params = forClient(params, nparams, flags)
	return &protocol.DomainGetBlkioParametersRet{Params: params, Nparams: int32(len(params))}, nil
}

// findDisk is def's disk with target dev or source file path.
func findDisk(def *domxml.Def, path string) *libvirtxml.DomainDisk {
	if def.XML.Devices == nil {
		return nil
	}
	for i := range def.XML.Devices.Disks {
		d := &def.XML.Devices.Disks[i]
		if d.Target != nil && d.Target.Dev == path {
			return d
		}
	}
	for i := range def.XML.Devices.Disks {
		d := &def.XML.Devices.Disks[i]
		if d.Source != nil && d.Source.File != nil && d.Source.File.File == path {
			return d
		}
	}
	return nil
}

// DomainGetBlockIOTune answers a disk's throttling, 20 parameters, all
// 0 for a disk without <iotune> (drivers.OpDomainGetBlockIOTune).
func (c *conn) DomainGetBlockIOTune(ctx context.Context, ref protocol.Domain, disk *string, nparams int32, flags uint32) (*protocol.DomainGetBlockIOTuneRet, error) {
	const count = 20
	if flags&^tuneFlags != 0 {
		return nil, badFlags(flags&^tuneFlags, "testDomainGetBlockIoTune")
	}
	if nparams == 0 {
		return &protocol.DomainGetBlockIOTuneRet{Nparams: count}, nil
	}
	path := ""
	if disk != nil {
		path = *disk
	}
	var params []protocol.TypedParam
	err := c.readDef(ref, flags, tuneFlags, "testDomainGetBlockIoTune", func(def *domxml.Def) error {
		d := findDisk(def, path)
		if d == nil {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "disk '%s' was not found in the domain config", path)
		}
		t := d.IOTune
		if t == nil {
			t = &libvirtxml.DomainDiskIOTune{}
		}
		u := paramUllong
		params = []protocol.TypedParam{
			u("total_bytes_sec", t.TotalBytesSec), u("read_bytes_sec", t.ReadBytesSec), u("write_bytes_sec", t.WriteBytesSec),
			u("total_iops_sec", t.TotalIopsSec), u("read_iops_sec", t.ReadIopsSec), u("write_iops_sec", t.WriteIopsSec),
			u("total_bytes_sec_max", t.TotalBytesSecMax), u("read_bytes_sec_max", t.ReadBytesSecMax), u("write_bytes_sec_max", t.WriteBytesSecMax),
			u("total_iops_sec_max", t.TotalIopsSecMax), u("read_iops_sec_max", t.ReadIopsSecMax), u("write_iops_sec_max", t.WriteIopsSecMax),
			u("size_iops_sec", t.SizeIopsSec), paramString("group_name", t.GroupName),
			u("total_bytes_sec_max_length", t.TotalBytesSecMaxLength), u("read_bytes_sec_max_length", t.ReadBytesSecMaxLength),
			u("write_bytes_sec_max_length", t.WriteBytesSecMaxLength), u("total_iops_sec_max_length", t.TotalIopsSecMaxLength),
			u("read_iops_sec_max_length", t.ReadIopsSecMaxLength), u("write_iops_sec_max_length", t.WriteIopsSecMaxLength),
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	params = forClient(params, nparams, flags)
	return &protocol.DomainGetBlockIOTuneRet{Params: params, Nparams: int32(len(params))}, nil
}

// findNet is def's interface with target dev or MAC address device,
// or the error libvirt gives when there is none.
func findNet(def *domxml.Def, device string) (*libvirtxml.DomainInterface, error) {
	if def.XML.Devices != nil {
		for i := range def.XML.Devices.Interfaces {
			n := &def.XML.Devices.Interfaces[i]
			if (n.MAC != nil && strings.EqualFold(n.MAC.Address, device)) || (n.Target != nil && n.Target.Dev == device) {
				return n, nil
			}
		}
	}
	return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromDomain, "'%s' is not a known interface", device)
}

func rate(v *int) uint32 {
	if v == nil || *v < 0 {
		return 0
	}
	return uint32(*v)
}

// DomainGetInterfaceParameters answers an interface's bandwidth, 7
// parameters (drivers.OpDomainGetInterfaceParameters).
func (c *conn) DomainGetInterfaceParameters(ctx context.Context, ref protocol.Domain, device string, nparams int32, flags uint32) (*protocol.DomainGetInterfaceParametersRet, error) {
	const count = 7
	if flags&^tuneFlags != 0 {
		return nil, badFlags(flags&^tuneFlags, "testDomainGetInterfaceParameters")
	}
	if nparams == 0 {
		return &protocol.DomainGetInterfaceParametersRet{Nparams: count}, nil
	}
	var params []protocol.TypedParam
	err := c.readDef(ref, flags, tuneFlags, "testDomainGetInterfaceParameters", func(def *domxml.Def) error {
		n, err := findNet(def, device)
		if err != nil {
			return err
		}
		in, out := &libvirtxml.DomainInterfaceBandwidthParams{}, &libvirtxml.DomainInterfaceBandwidthParams{}
		if b := n.Bandwidth; b != nil {
			if b.Inbound != nil {
				in = b.Inbound
			}
			if b.Outbound != nil {
				out = b.Outbound
			}
		}
		params = []protocol.TypedParam{
			paramUint("inbound.average", rate(in.Average)), paramUint("inbound.peak", rate(in.Peak)),
			paramUint("inbound.burst", rate(in.Burst)), paramUint("inbound.floor", rate(in.Floor)),
			paramUint("outbound.average", rate(out.Average)), paramUint("outbound.peak", rate(out.Peak)),
			paramUint("outbound.burst", rate(out.Burst)),
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	params = forClient(params, nparams, flags)
	return &protocol.DomainGetInterfaceParametersRet{Params: params, Nparams: int32(len(params))}, nil
}

// DomainSetInterfaceParameters sets an interface's bandwidth as
// libvirt's test driver does: an average (or, inbound, a floor) sets a
// direction, a direction named with a 0 average clears it, peak and
// burst ride along (drivers.OpDomainSetInterfaceParameters).
func (c *conn) DomainSetInterfaceParameters(ctx context.Context, ref protocol.Domain, device string, params []protocol.TypedParam, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return badFlags(flags, "testDomainSetInterfaceParameters")
	}
	known := map[string]bool{"inbound.average": true, "inbound.peak": true, "inbound.burst": true, "inbound.floor": true,
		"outbound.average": true, "outbound.peak": true, "outbound.burst": true}
	for _, p := range params {
		if !known[p.Field] {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromDomain, "parameter '%s' not supported: give inbound.* or outbound.* (average, peak, burst, floor)", p.Field)
		}
		if p.Value.Type != int32(vir.TypedParamUint) {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromDomain, "invalid type for parameter '%s', expected 'uint'", p.Field)
		}
	}
	return c.drv.withDomain(ref, func(dom *domain) error {
		def, _, err := oneDef(dom, flags)
		if err != nil {
			return err
		}
		n, err := findNet(def, device)
		if err != nil {
			return err
		}
		in, out := &libvirtxml.DomainInterfaceBandwidthParams{}, &libvirtxml.DomainInterfaceBandwidthParams{}
		inSet, outSet := false, false
		for _, p := range params {
			v := int(p.Value.Ui)
			switch p.Field {
			case "inbound.average":
				in.Average, inSet = &v, true
			case "inbound.peak":
				in.Peak = &v
			case "inbound.burst":
				in.Burst = &v
			case "inbound.floor":
				in.Floor, inSet = &v, true
			case "outbound.average":
				out.Average, outSet = &v, true
			case "outbound.peak":
				out.Peak = &v
			case "outbound.burst":
				out.Burst = &v
			}
		}
		if rate(in.Average) == 0 && rate(in.Floor) == 0 {
			in = nil
		}
		if rate(out.Average) == 0 {
			out = nil
		}
		if n.Bandwidth == nil {
			n.Bandwidth = &libvirtxml.DomainInterfaceBandwidth{}
		}
		if in != nil || inSet {
			n.Bandwidth.Inbound = in
		}
		if out != nil || outSet {
			n.Bandwidth.Outbound = out
		}
		if n.Bandwidth.Inbound == nil && n.Bandwidth.Outbound == nil {
			n.Bandwidth = nil
		}
		return nil
	})
}

// numaModes are virDomainNumatuneMemMode's names by number.
var numaModes = []string{"strict", "preferred", "interleave", "restrictive"}

// DomainGetNumaParameters answers the memory mode (strict when unset)
// and nodeset (drivers.OpDomainGetNumaParameters).
func (c *conn) DomainGetNumaParameters(ctx context.Context, ref protocol.Domain, nparams int32, flags uint32) (*protocol.DomainGetNumaParametersRet, error) {
	const count = 2
	if flags&^tuneFlags != 0 {
		return nil, badFlags(flags&^tuneFlags, "testDomainGetNumaParameters")
	}
	if nparams == 0 {
		return &protocol.DomainGetNumaParametersRet{Nparams: count}, nil
	}
	var params []protocol.TypedParam
	err := c.readDef(ref, flags, tuneFlags, "testDomainGetNumaParameters", func(def *domxml.Def) error {
		mode, nodeset := int32(0), ""
		if t := def.XML.NUMATune; t != nil && t.Memory != nil {
			for i, m := range numaModes {
				if m == t.Memory.Mode {
					mode = int32(i)
				}
			}
			nodeset = t.Memory.Nodeset
		}
		params = []protocol.TypedParam{paramInt("numa_mode", mode), paramString("numa_nodeset", nodeset)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	params = forClient(params, nparams, flags)
	return &protocol.DomainGetNumaParametersRet{Params: params, Nparams: int32(len(params))}, nil
}

// perfEvents are virPerfEventType's names, in its order.
var perfEvents = []string{
	"cmt", "mbmt", "mbml", "cpu_cycles", "instructions", "cache_references",
	"cache_misses", "branch_instructions", "branch_misses", "bus_cycles",
	"stalled_cycles_frontend", "stalled_cycles_backend", "ref_cpu_cycles",
	"cpu_clock", "task_clock", "page_faults", "context_switches",
	"cpu_migrations", "page_faults_min", "page_faults_maj",
	"alignment_faults", "emulation_faults",
}

// perfEnabled reports whether def enables perf event name.
func perfEnabled(def *domxml.Def, name string) bool {
	if def.XML.Perf == nil {
		return false
	}
	for _, e := range def.XML.Perf.Events {
		if e.Name == name {
			return e.Enabled == "yes"
		}
	}
	return false
}

// DomainGetPerfEvents answers every perf event with whether the
// definition flags designate enables it (drivers.OpDomainGetPerfEvents).
func (c *conn) DomainGetPerfEvents(ctx context.Context, ref protocol.Domain, flags uint32) ([]protocol.TypedParam, error) {
	var params []protocol.TypedParam
	err := c.readDef(ref, flags, tuneFlags, "testDomainGetPerfEvents", func(def *domxml.Def) error {
		for _, name := range perfEvents {
			params = append(params, paramBool(name, perfEnabled(def, name)))
		}
		return nil
	})
	return params, err
}

// DomainSetPerfEvents enables or disables perf events, booleans, in
// the definition flags designate (drivers.OpDomainSetPerfEvents).
func (c *conn) DomainSetPerfEvents(ctx context.Context, ref protocol.Domain, params []protocol.TypedParam, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return badFlags(flags, "testDomainSetPerfEvents")
	}
	for _, p := range params {
		known := false
		for _, name := range perfEvents {
			known = known || name == p.Field
		}
		if !known {
			return drivers.Errorf(vir.ErrArgumentUnsupported, vir.FromTest, "parameter '%s' not supported: give a perf event such as cpu_cycles", p.Field)
		}
		if p.Value.Type != int32(vir.TypedParamBoolean) {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "invalid type for parameter '%s', expected 'boolean'", p.Field)
		}
	}
	return c.drv.withDomain(ref, func(dom *domain) error {
		def, _, err := oneDef(dom, flags)
		if err != nil {
			return err
		}
		if def.XML.Perf == nil {
			def.XML.Perf = &libvirtxml.DomainPerf{}
		}
		for _, p := range params {
			v := "no"
			if p.Value.B != 0 {
				v = "yes"
			}
			set := false
			for i := range def.XML.Perf.Events {
				if def.XML.Perf.Events[i].Name == p.Field {
					def.XML.Perf.Events[i].Enabled, set = v, true
				}
			}
			if !set {
				def.XML.Perf.Events = append(def.XML.Perf.Events, libvirtxml.DomainPerfEvent{Name: p.Field, Enabled: v})
			}
		}
		// libvirt keeps them in its enum's order.
		var ordered []libvirtxml.DomainPerfEvent
		for _, name := range perfEvents {
			for _, e := range def.XML.Perf.Events {
				if e.Name == name {
					ordered = append(ordered, e)
				}
			}
		}
		def.XML.Perf.Events = ordered
		return nil
	})
}
