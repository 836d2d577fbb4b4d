package test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

func chkXML(name string) string {
	return "<domaincheckpoint><name>" + name + "</name></domaincheckpoint>"
}

// TestCheckpointTree builds a1 → a2 → {a3, b} (b after redefining a2 as
// current), checks parents, children, roots, leaves and the XML, then
// deletes in the three ways libvirt offers and checks who inherits
// children and the current role.
func TestCheckpointTree(t *testing.T) {
	c, _ := open(t, New())
	ctx := context.Background()
	dom := must[drivers.Domain](t)(c.DomainLookupByName(ctx, "test"))
	create := func(name string) protocol.DomainCheckpoint {
		t.Helper()
		return must[protocol.DomainCheckpoint](t)(c.DomainCheckpointCreateXML(ctx, dom, chkXML(name), 0))
	}
	names := func(flags uint32) string {
		t.Helper()
		ret := must[*protocol.DomainListAllCheckpointsRet](t)(c.DomainListAllCheckpoints(ctx, dom, 1, flags))
		var out []string
		for _, x := range ret.Checkpoints {
			out = append(out, x.Name)
		}
		return strings.Join(out, ",")
	}
	children := func(of protocol.DomainCheckpoint, flags uint32) string {
		t.Helper()
		ret := must[*protocol.DomainCheckpointListAllChildrenRet](t)(c.DomainCheckpointListAllChildren(ctx, of, 1, flags))
		var out []string
		for _, x := range ret.Checkpoints {
			out = append(out, x.Name)
		}
		return strings.Join(out, ",")
	}
	a1, a2 := create("a1"), create("a2")
	a3 := create("a3")
	_, err := c.DomainCheckpointCreateXML(ctx, dom, chkXML("a1"), 0)
	wantCode(t, err, vir.ErrOperationInvalid)

	// Redefine a2 from its own dump: it becomes current (its parent a1
	// is not, and there is a current one), so no; a redefinition whose
	// parent is the current one does become current.
	doc := must[string](t)(c.DomainCheckpointGetXMLDesc(ctx, a2, 0))
	must[protocol.DomainCheckpoint](t)(c.DomainCheckpointCreateXML(ctx, dom, doc, chkRedefine))
	if got := c.drv.ext(c.drv.findName("test")).run.checkpoints.current; got != "a3" {
		t.Fatalf("current after redefining a2 is %q, want a3", got)
	}
	// A redefinition may not make a cycle.
	cyc := strings.Replace(doc, "<name>a1</name>", "<name>a3</name>", 1)
	_, err = c.DomainCheckpointCreateXML(ctx, dom, cyc, chkRedefine)
	wantCode(t, err, vir.ErrInvalidArg)

	// b: a child of a2, made by putting the current role on a2 through
	// deleting a3's children (none) is not possible, so redefine b.
	bdoc := "<domaincheckpoint><name>b</name><parent><name>a2</name></parent><creationTime>5</creationTime></domaincheckpoint>"
	b := must[protocol.DomainCheckpoint](t)(c.DomainCheckpointCreateXML(ctx, dom, bdoc, chkRedefine))

	if got := names(0); got != "a1,a2,a3,b" {
		t.Errorf("checkpoints %s", got)
	}
	if got := names(chkListRoots); got != "a1" {
		t.Errorf("roots %s", got)
	}
	if got := names(chkLeaves); got != "a3,b" {
		t.Errorf("leaves %s", got)
	}
	if got := children(a1, 0); got != "a2" {
		t.Errorf("children of a1 %s", got)
	}
	if got := children(a1, chkListDescendants); got != "a2,a3,b" {
		t.Errorf("descendants of a1 %s", got)
	}
	if p := must[protocol.DomainCheckpoint](t)(c.DomainCheckpointGetParent(ctx, b, 0)); p.Name != "a2" {
		t.Errorf("parent of b is %s", p.Name)
	}
	_, err = c.DomainCheckpointGetParent(ctx, a1, 0)
	wantCode(t, err, vir.ErrNoDomainCheckpoint)

	x := must[string](t)(c.DomainCheckpointGetXMLDesc(ctx, a3, chkXMLNoDomain|chkXMLSize))
	for _, want := range []string{"<name>a3</name>", "<parent>\n    <name>a2</name>\n  </parent>", "<disk name='vda' checkpoint='bitmap' bitmap='a3' size='1024'/>"} {
		if !strings.Contains(x, want) {
			t.Errorf("a3's XML lacks %q:\n%s", want, x)
		}
	}
	if strings.Contains(x, "<domain ") {
		t.Errorf("NO_DOMAIN left the domain in:\n%s", x)
	}
	if x := must[string](t)(c.DomainCheckpointGetXMLDesc(ctx, a1, 0)); !strings.Contains(x, "<uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>") {
		t.Errorf("a1's XML has no domain:\n%s", x)
	}

	// The domain list's checkpoint filters see them.
	for flags, want := range map[vir.ConnectListAllDomainsFlags]int{
		vir.ConnectListDomainsHasCheckpoint: 1, vir.ConnectListDomainsNoCheckpoint: 0,
		vir.ConnectListDomainsHasCheckpoint | vir.ConnectListDomainsNoCheckpoint: 1,
	} {
		if got := len(must[[]drivers.Domain](t)(c.ConnectListAllDomains(ctx, flags))); got != want {
			t.Errorf("list with flags %#x: %d domains, want %d", flags, got, want)
		}
	}

	// A snapshot cannot be taken while checkpoints exist.
	_, err = c.DomainSnapshotCreateXML(ctx, dom, snapXML("s"), 0)
	wantCode(t, err, vir.ErrOperationUnsupported)

	// Deleting a2 hands a3 and b to a1; a3, current, stays current.
	if err := c.DomainCheckpointDelete(ctx, a2, 0); err != nil {
		t.Fatal(err)
	}
	if got := children(a1, 0); got != "a3,b" {
		t.Errorf("children of a1 after deleting a2: %s", got)
	}
	// Children only: a1 stays and becomes current (a3 was).
	if err := c.DomainCheckpointDelete(ctx, a1, uint32(vir.DomainCheckpointDeleteChildrenOnly)); err != nil {
		t.Fatal(err)
	}
	if got := names(0); got != "a1" {
		t.Errorf("after deleting a1's children: %s", got)
	}
	if got := c.drv.ext(c.drv.findName("test")).run.checkpoints.current; got != "a1" {
		t.Errorf("current is %q, want a1", got)
	}
	// A new one is a child of a1; deleting a1 with its children empties
	// the tree and leaves no current checkpoint.
	create("c")
	if err := c.DomainCheckpointDelete(ctx, a1, uint32(vir.DomainCheckpointDeleteChildren)); err != nil {
		t.Fatal(err)
	}
	if got := names(0); got != "" {
		t.Errorf("after deleting a1 and its children: %s", got)
	}
	if got := c.drv.ext(c.drv.findName("test")).run.checkpoints.current; got != "" {
		t.Errorf("current is %q, want none", got)
	}
	_, err = c.DomainCheckpointLookupByName(ctx, dom, "a1", 0)
	wantCode(t, err, vir.ErrNoDomainCheckpoint)

	// An inactive domain takes no checkpoint.
	if err := c.DomainDestroy(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	_, err = c.DomainCheckpointCreateXML(ctx, dom, chkXML("off"), 0)
	wantCode(t, err, vir.ErrOperationUnsupported)
}

// TestIOThreads: add, set and delete change the definition and the
// polling settings domstats reports; ids are unique and 0 is refused;
// a setting needs the IOThread in the definition.
func TestIOThreads(t *testing.T) {
	c, _ := open(t, New())
	ctx := context.Background()
	dom := must[drivers.Domain](t)(c.DomainLookupByName(ctx, "test"))
	wantCode(t, c.DomainAddIothread(ctx, dom, 0, 0), vir.ErrInvalidArg)
	for _, id := range []uint32{5, 2} {
		if err := c.DomainAddIothread(ctx, dom, id, 0); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, c.DomainAddIothread(ctx, dom, 5, 0), vir.ErrInvalidArg)
	info := must[*protocol.DomainGetIothreadInfoRet](t)(c.DomainGetIothreadInfo(ctx, dom, 0))
	if info.Ret != 2 || info.Info[0].IothreadID != 5 || info.Info[1].IothreadID != 2 || info.Info[0].Cpumap[0] != 0x3 {
		t.Errorf("iothreadinfo %+v", info)
	}
	x := must[string](t)(c.DomainGetXMLDesc(ctx, dom, 0))
	if !strings.Contains(x, "<iothreads>2</iothreads>") || !strings.Contains(x, "<iothread id='5'") && !strings.Contains(x, `<iothread id="5"`) {
		t.Errorf("XML after adding 5 and 2:\n%s", x)
	}
	set := []protocol.TypedParam{paramUllong("poll_max_ns", 100), paramUint("poll_grow", 3)}
	if err := c.DomainSetIothreadParams(ctx, dom, 5, set, 0); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.DomainSetIothreadParams(ctx, dom, 7, set, 0), vir.ErrInvalidArg)
	wantCode(t, c.DomainSetIothreadParams(ctx, dom, 5, []protocol.TypedParam{paramUint("poll_max_ns", 1)}, 0), vir.ErrInvalidArg)
	wantCode(t, c.DomainSetIothreadParams(ctx, dom, 5, []protocol.TypedParam{paramUint("bogus", 1)}, 0), vir.ErrArgumentUnsupported)
	wantCode(t, c.DomainSetIothreadParams(ctx, dom, 5, set, affectConfig), vir.ErrInvalidArg)

	stats := func() string {
		t.Helper()
		recs := must[[]protocol.DomainStatsRecord](t)(c.ConnectGetAllDomainStats(ctx, []protocol.Domain{dom}, 0, 0))
		if len(recs) != 1 {
			t.Fatalf("%d records, want 1", len(recs))
		}
		var out []string
		for _, p := range recs[0].Params {
			out = append(out, p.Field+"="+paramText(p.Value))
		}
		return strings.Join(out, " ")
	}
	if got, want := stats(), "state.state=1 state.reason=0 iothread.count=2 iothread.5.poll-max-ns=100 iothread.5.poll-grow=3 iothread.5.poll-shrink=0 iothread.2.poll-max-ns=32768 iothread.2.poll-grow=0 iothread.2.poll-shrink=0"; got != want {
		t.Errorf("stats\n  %s\nwant\n  %s", got, want)
	}
	if err := c.DomainDelIothread(ctx, dom, 5, 0); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.DomainDelIothread(ctx, dom, 5, 0), vir.ErrInvalidArg)
	if got, want := stats(), "state.state=1 state.reason=0 iothread.count=1 iothread.2.poll-max-ns=32768 iothread.2.poll-grow=0 iothread.2.poll-shrink=0"; got != want {
		t.Errorf("stats after deleting 5\n  %s\nwant\n  %s", got, want)
	}
	// A stopped domain reports no iothread group; ENFORCE refuses a
	// group that is not served.
	if err := c.DomainDestroy(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	if got, want := stats(), "state.state=5 state.reason=2"; got != want {
		t.Errorf("stats of the stopped domain %s, want %s", got, want)
	}
	_, err := c.ConnectGetAllDomainStats(ctx, nil, uint32(vir.DomainStatsBalloon), statsEnforce)
	wantCode(t, err, vir.ErrArgumentUnsupported)
	recs := must[[]protocol.DomainStatsRecord](t)(c.ConnectGetAllDomainStats(ctx, nil, 0, uint32(vir.ConnectListDomainsActive)))
	if len(recs) != 0 {
		t.Errorf("active filter gave %d records of a driver with no running domain", len(recs))
	}
}

// TestFreezeThawAndCPUStats: freezing counts what this call froze, an
// unknown mount point changes nothing; the CPU figures are libvirt's.
func TestFreezeThawAndCPUStats(t *testing.T) {
	c, _ := open(t, New())
	ctx := context.Background()
	dom := must[drivers.Domain](t)(c.DomainLookupByName(ctx, "test"))
	if n := must[int32](t)(c.DomainFsfreeze(ctx, dom, []string{"/boot"}, 0)); n != 1 {
		t.Errorf("froze %d, want 1", n)
	}
	_, err := c.DomainFsfreeze(ctx, dom, []string{"/", "/nope"}, 0)
	wantCode(t, err, vir.ErrOperationInvalid)
	if n := must[int32](t)(c.DomainFsfreeze(ctx, dom, nil, 0)); n != 1 {
		t.Errorf("froze %d of all, want 1 (/boot was frozen)", n)
	}
	if n := must[int32](t)(c.DomainFsthaw(ctx, dom, nil, 0)); n != 2 {
		t.Errorf("thawed %d, want 2", n)
	}
	total := must[*protocol.DomainGetCPUStatsRet](t)(c.DomainGetCPUStats(ctx, dom, 3, -1, 1, stringOkay))
	if len(total.Params) != 3 || total.Params[0].Value.Ul != 48772617035 || total.Params[2].Field != "system_time" {
		t.Errorf("totals %+v", total)
	}
	if n := must[*protocol.DomainGetCPUStatsRet](t)(c.DomainGetCPUStats(ctx, dom, 0, 0, 0, 0)); n.Nparams != 2 {
		t.Errorf("%d CPUs, want 2", n.Nparams)
	}
	per := must[*protocol.DomainGetCPUStatsRet](t)(c.DomainGetCPUStats(ctx, dom, 2, 1, 1, 0))
	if len(per.Params) != 2 || per.Params[0].Value.Ul != 24386308518 || per.Params[1].Value.Ul != 23151740628 {
		t.Errorf("CPU 1 %+v", per)
	}
	_, err = c.DomainGetCPUStats(ctx, dom, 2, 2, 1, 0)
	wantCode(t, err, vir.ErrInvalidArg)
}

// TestCoreDumpCrash: a dump writes the test magic; with VIR_DUMP_CRASH
// the domain stops as crashed and Stopped Crashed is raised.
func TestCoreDumpCrash(t *testing.T) {
	c, events := open(t, New())
	ctx := context.Background()
	dom := must[drivers.Domain](t)(c.DomainLookupByName(ctx, "test"))
	to := filepath.Join(t.TempDir(), "core")
	if err := c.DomainCoreDump(ctx, dom, to, uint32(vir.DumpCrash)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(to)
	if err != nil || string(b) != "TestGuestMagic\x00" {
		t.Errorf("dump holds %q (%v)", b, err)
	}
	expect(t, events, "test Stopped Crashed id=-1")
	st, reason := must2(t)(c.DomainGetState(ctx, dom, 0))
	if st != vir.DomainShutoff || reason != int32(vir.DomainShutoffCrashed) {
		t.Errorf("state %d reason %d", st, reason)
	}
	wantCode(t, c.DomainCoreDump(ctx, dom, to, 0), vir.ErrOperationInvalid)
}

// paramText is a typed parameter's value as virsh prints it.
func paramText(v protocol.TypedParamValue) string {
	switch vir.TypedParameterType(v.Type) {
	case vir.TypedParamInt:
		return strconv.Itoa(int(v.I))
	case vir.TypedParamUint:
		return strconv.FormatUint(uint64(v.Ui), 10)
	case vir.TypedParamUllong:
		return strconv.FormatUint(v.Ul, 10)
	case vir.TypedParamString:
		return v.S
	}
	return "?"
}

// TestSetTimeMovesControlInfo: the guest clock set-time sets is what
// get-time answers, and it picks the monitor state libvirt's test
// driver derives from it.
func TestSetTimeMovesControlInfo(t *testing.T) {
	c, _ := open(t, New())
	ctx := context.Background()
	dom := must[drivers.Domain](t)(c.DomainLookupByName(ctx, "test"))
	for _, tc := range []struct {
		sec                     int64
		state, details, elapsed uint64
	}{
		{1000, uint64(vir.DomainControlJob), 0, 1000},
		{10500, uint64(vir.DomainControlOccupied), 0, 500},
		{30002, uint64(vir.DomainControlError), 2, 2},
		{627319920, uint64(vir.DomainControlOk), 0, 0},
	} {
		if err := c.DomainSetTime(ctx, dom, tc.sec, 7, 0); err != nil {
			t.Fatal(err)
		}
		tm := must[*protocol.DomainGetTimeRet](t)(c.DomainGetTime(ctx, dom, 0))
		if tm.Seconds != tc.sec || tm.Nseconds != 7 {
			t.Errorf("time %d.%d, want %d.7", tm.Seconds, tm.Nseconds, tc.sec)
		}
		ci := must[*protocol.DomainGetControlInfoRet](t)(c.DomainGetControlInfo(ctx, dom, 0))
		if uint64(ci.State) != tc.state || uint64(ci.Details) != tc.details || ci.StateTime != tc.elapsed {
			t.Errorf("clock %d: control info %+v, want state %d details %d time %d", tc.sec, ci, tc.state, tc.details, tc.elapsed)
		}
	}
}

// TestTuningChanges: blkio lists merge per device (a new device at 0 is
// not added, a bad list fails after the rest applied); block I/O rates
// need their maximum and exclude total with read/write; a running
// domain's NUMA mode is fixed and a nodeset is needed for a static
// placement.
func TestTuningChanges(t *testing.T) {
	c, _ := open(t, New())
	ctx := context.Background()
	dom := must[drivers.Domain](t)(c.DomainLookupByName(ctx, "test"))
	str := func(f, v string) protocol.TypedParam { return paramString(f, v) }
	if err := c.DomainSetBlkioParameters(ctx, dom, []protocol.TypedParam{paramUint("weight", 500), str("device_weight", "/dev/sda,300")}, 0); err != nil {
		t.Fatal(err)
	}
	err := c.DomainSetBlkioParameters(ctx, dom, []protocol.TypedParam{str("device_read_iops_sec", "/dev/sda,7,/dev/sdb,0"), str("device_weight", "/dev/sda"), paramUint("weight", 600)}, 0)
	wantCode(t, err, vir.ErrInvalidArg)
	got := must[*protocol.DomainGetBlkioParametersRet](t)(c.DomainGetBlkioParameters(ctx, dom, 6, stringOkay))
	var text []string
	for _, p := range got.Params {
		text = append(text, p.Field+"="+paramText(p.Value))
	}
	if want := "weight=600 device_weight=/dev/sda,300 device_read_iops_sec=/dev/sda,7 device_write_iops_sec= device_read_bytes_sec= device_write_bytes_sec="; strings.Join(text, " ") != want {
		t.Errorf("blkio\n  %s\nwant\n  %s", strings.Join(text, " "), want)
	}

	u := func(f string, v uint64) protocol.TypedParam { return paramUllong(f, v) }
	wantCode(t, c.DomainSetBlockIOTune(ctx, dom, "vda", []protocol.TypedParam{u("total_bytes_sec", 1000)}, 0), vir.ErrInvalidArg)
	if err := c.DomainSetBlockIOTune(ctx, dom, "vda", []protocol.TypedParam{u("total_bytes_sec", 1000), u("total_bytes_sec_max", 2000)}, 0); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.DomainSetBlockIOTune(ctx, dom, "vda", []protocol.TypedParam{u("read_bytes_sec", 5), u("read_bytes_sec_max", 5)}, 0), vir.ErrInvalidArg)
	wantCode(t, c.DomainSetBlockIOTune(ctx, dom, "vda", []protocol.TypedParam{u("size_iops_sec", blockIOTuneMax+1)}, 0), vir.ErrArgumentUnsupported)
	wantCode(t, c.DomainSetBlockIOTune(ctx, dom, "vdz", nil, 0), vir.ErrInvalidArg)
	io := must[*protocol.DomainGetBlockIOTuneRet](t)(c.DomainGetBlockIOTune(ctx, dom, ptr("vda"), 20, stringOkay))
	if io.Params[0].Value.Ul != 1000 || io.Params[6].Value.Ul != 2000 || io.Params[1].Value.Ul != 0 {
		t.Errorf("iotune after the changes %+v", io.Params[:7])
	}

	mode := func(m int32) protocol.TypedParam { return paramInt("numa_mode", m) }
	wantCode(t, c.DomainSetNumaParameters(ctx, dom, []protocol.TypedParam{mode(1)}, affectConfig), vir.ErrConfigUnsupported)
	if err := c.DomainSetNumaParameters(ctx, dom, []protocol.TypedParam{str("numa_nodeset", "1,0")}, 0); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.DomainSetNumaParameters(ctx, dom, []protocol.TypedParam{mode(2)}, 0), vir.ErrOperationInvalid)
	wantCode(t, c.DomainSetNumaParameters(ctx, dom, []protocol.TypedParam{str("numa_nodeset", "^0")}, 0), vir.ErrOperationInvalid)
	numa := must[*protocol.DomainGetNumaParametersRet](t)(c.DomainGetNumaParameters(ctx, dom, 2, stringOkay))
	if numa.Params[0].Value.I != 0 || numa.Params[1].Value.S != "0-1" {
		t.Errorf("numa %+v", numa.Params)
	}
}

func ptr[T any](v T) *T { return &v }

// TestRename: only a persistent shut-off domain is renamed, raising
// Undefined Renamed under the old name and Defined Renamed under the
// new; the name must be free.
func TestRename(t *testing.T) {
	c, events := open(t, New())
	ctx := context.Background()
	dom := must[drivers.Domain](t)(c.DomainLookupByName(ctx, "test"))
	_, err := c.DomainRename(ctx, dom, ptr("other"), 0)
	wantCode(t, err, vir.ErrOperationInvalid)
	if err := c.DomainDestroy(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	events()
	for _, bad := range []string{"test", "a/b"} {
		if _, err := c.DomainRename(ctx, dom, ptr(bad), 0); err == nil {
			t.Errorf("rename to %q succeeded", bad)
		}
	}
	if _, err := c.DomainRename(ctx, dom, ptr("other"), 0); err != nil {
		t.Fatal(err)
	}
	expect(t, events, "test Undefined Renamed id=-1", "other Defined Renamed id=-1")
	if _, err := c.DomainLookupByName(ctx, "test"); err == nil {
		t.Error("the old name still finds the domain")
	}
	if got := must[drivers.Domain](t)(c.DomainLookupByName(ctx, "other")); got.UUID != dom.UUID {
		t.Errorf("other has uuid %s, want %s", got.UUID, dom.UUID)
	}
}
