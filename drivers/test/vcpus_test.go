package test

import (
	"context"
	"errors"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

func wantCode(t *testing.T, err error, code vir.ErrorNumber) {
	t.Helper()
	var de *drivers.Error
	if !errors.As(err, &de) || de.Code != code {
		t.Fatalf("got error %v, want code %d", err, code)
	}
}

func TestCPUSetRoundTrip(t *testing.T) {
	for in, want := range map[string]string{"0-7": "0-7", "0,2,4": "0,2,4", "0-3,^2,5": "0-1,3,5", "15": "15"} {
		s, err := parseCPUSet(in)
		if err != nil {
			t.Fatalf("parse %q: %v", in, err)
		}
		if s.String() != want {
			t.Errorf("parse %q formats as %q, want %q", in, s, want)
		}
		buf := make([]byte, 2)
		s.bytes(buf)
		if back := cpuSetFromMap(buf); back != s {
			t.Errorf("%q through a cpumap is %s", in, back)
		}
	}
	for _, bad := range []string{"", "a", "3-1", "-1", "64"} {
		if _, err := parseCPUSet(bad); err == nil {
			t.Errorf("parse %q succeeded", bad)
		}
	}
}

// TestVcpus pins a vCPU and reads the pin back through both calls that
// report it, lowers the online count, and refuses what libvirt refuses.
func TestVcpus(t *testing.T) {
	d := New()
	c, _ := open(t, d)
	ctx := context.Background()
	dom := must[drivers.Domain](t)(c.DomainLookupByName(ctx, "test"))

	if err := c.DomainPinVcpu(ctx, dom, 1, []byte{0x0c}); err != nil {
		t.Fatal(err)
	}
	info, err := c.DomainGetVcpus(ctx, dom, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Info) != 2 || len(info.Cpumaps) != 8 {
		t.Fatalf("got %d vcpus and %d map bytes, want 2 and 8 (maps for every vcpu asked for)", len(info.Info), len(info.Cpumaps))
	}
	if info.Info[0].CPU != 15 || info.Info[1].CPU != 3 || info.Cpumaps[0] != 0xff || info.Cpumaps[1] != 0xff || info.Cpumaps[2] != 0x0c || info.Cpumaps[3] != 0 {
		t.Errorf("vcpu info %+v maps %x: want vcpu 0 on all 16 CPUs (last 15), vcpu 1 on 2-3", info.Info, info.Cpumaps)
	}
	pin := must[*protoPin](t)(pinInfo(c, dom))
	if pin.Num != 2 || pin.Cpumaps[2] != 0x0c {
		t.Errorf("pin info %+v: want 2 maps, vcpu 1 on 2-3", pin)
	}
	wantCode(t, c.DomainPinVcpu(ctx, dom, 2, []byte{1}), vir.ErrInvalidArg)
	wantCode(t, c.DomainPinVcpu(ctx, dom, 0, []byte{0}), vir.ErrInvalidArg)
	wantCode(t, c.DomainPinVcpu(ctx, dom, 0, []byte{0, 0, 1}), vir.ErrInvalidArg)

	if err := c.DomainSetVcpusFlags(ctx, dom, 1, affectLive); err != nil {
		t.Fatal(err)
	}
	if n := must[int32](t)(c.DomainGetVcpusFlags(ctx, dom, affectLive)); n != 1 {
		t.Errorf("live vcpus %d after setting 1", n)
	}
	if n := must[int32](t)(c.DomainGetVcpusFlags(ctx, dom, affectConfig)); n != 2 {
		t.Errorf("config vcpus %d, want 2: a live change must not touch the definition", n)
	}
	wantCode(t, c.DomainSetVcpusFlags(ctx, dom, 3, affectLive), vir.ErrInvalidArg)
	wantCode(t, c.DomainSetVcpusFlags(ctx, dom, 33, affectConfig), vir.ErrInvalidArg)
	wantCode(t, c.DomainSetVcpusFlags(ctx, dom, 1, affectLive|vcpuMaximum), vir.ErrOperationInvalid)

	// The maximum of the definition can be lowered, taking the online count with it.
	if err := c.DomainSetVcpusFlags(ctx, dom, 1, affectConfig|vcpuMaximum); err != nil {
		t.Fatal(err)
	}
	if n := must[int32](t)(c.DomainGetVcpusFlags(ctx, dom, affectConfig|vcpuMaximum)); n != 1 {
		t.Errorf("config maximum %d after setting 1", n)
	}
	_, err = c.DomainGetVcpusFlags(ctx, dom, affectLive|affectConfig)
	wantCode(t, err, vir.ErrInvalidArg)
}

// TestSetMemory checks the balloon stays within the memory size and the
// memory size of a definition drags the balloon down with it.
func TestSetMemory(t *testing.T) {
	d := New()
	c, _ := open(t, d)
	ctx := context.Background()
	dom := must[drivers.Domain](t)(c.DomainLookupByName(ctx, "test"))
	wantCode(t, c.DomainSetMemory(ctx, dom, 8388608+1), vir.ErrInvalidArg)
	wantCode(t, c.DomainSetMaxMemory(ctx, dom, 1024), vir.ErrOperationInvalid) // running
	if err := c.DomainSetMemory(ctx, dom, 1048576); err != nil {
		t.Fatal(err)
	}
	if err := c.DomainSetMemoryFlags(ctx, dom, 524288, affectConfig|memMaximum); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	live, config := d.domains.Objects()[0].live, d.domains.Objects()[0].persistent
	d.mu.Unlock()
	if live.CurMemKiB() != 1048576 || live.MaxMemKiB() != 8388608 {
		t.Errorf("live memory %d/%d, want 1048576/8388608", live.CurMemKiB(), live.MaxMemKiB())
	}
	if config.CurMemKiB() != 524288 || config.MaxMemKiB() != 524288 {
		t.Errorf("config memory %d/%d, want 524288/524288", config.CurMemKiB(), config.MaxMemKiB())
	}
	stats := must[[]protoStat](t)(c.DomainMemoryStats(ctx, dom, 2, 0))
	if len(stats) != 2 || stats[0].Tag != int32(vir.DomainMemoryStatActualBalloon) || stats[0].Val != 1048576 {
		t.Errorf("memory stats %+v: want the first 2, the balloon first", stats)
	}
}

type (
	protoPin  = protocol.DomainGetVcpuPinInfoRet
	protoStat = protocol.DomainMemoryStat
)

func pinInfo(c *conn, dom drivers.Domain) (*protoPin, error) {
	return c.DomainGetVcpuPinInfo(context.Background(), dom, 4, 2, 0)
}
