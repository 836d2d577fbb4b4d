package test

import (
	"context"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// testClockSeconds is the guest clock of every test domain, in seconds
// since the epoch, as libvirt's test driver sets it (and the balloon's
// last update time).
const testClockSeconds = 627319920

// DomainBlockStats answers I/O counters of a disk of a running domain,
// made up from the wall clock in microseconds as libvirt's test driver
// makes them up: numbers that grow (drivers.OpDomainBlockStats).
func (c *conn) DomainBlockStats(ctx context.Context, ref protocol.Domain, path string) (*protocol.DomainBlockStatsRet, error) {
	if path == "" {
		return nil, drivers.Errorf(vir.ErrOperationUnsupported, vir.FromTest, "summary statistics are not supported yet")
	}
	err := c.drv.withDomain(ref, func(dom *domain) error {
		if !dom.active() {
			return notRunning()
		}
		if !hasDisk(dom, path) {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "invalid path: %s", path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	t := time.Now().UnixMicro()
	return &protocol.DomainBlockStatsRet{RdReq: t / 10, RdBytes: t / 20, WrReq: t / 30, WrBytes: t / 40, Errs: t / 2e6}, nil
}

// hasDisk reports whether the running domain has a disk with target
// dev or source file path; mu must be held.
func hasDisk(dom *domain, path string) bool {
	if dom.live.XML.Devices == nil {
		return false
	}
	for _, d := range dom.live.XML.Devices.Disks {
		if d.Target != nil && d.Target.Dev == path {
			return true
		}
		if d.Source != nil && d.Source.File != nil && d.Source.File.File == path {
			return true
		}
	}
	return false
}

// DomainInterfaceStats answers traffic counters of an interface of a
// running domain, named by target device or MAC address, made up from
// the wall clock as libvirt's test driver does (drivers.OpDomainInterfaceStats).
func (c *conn) DomainInterfaceStats(ctx context.Context, ref protocol.Domain, device string) (*protocol.DomainInterfaceStatsRet, error) {
	err := c.drv.withDomain(ref, func(dom *domain) error {
		if !dom.active() {
			return notRunning()
		}
		if dom.live.XML.Devices != nil {
			for _, n := range dom.live.XML.Devices.Interfaces {
				if (n.Target != nil && n.Target.Dev == device) || (n.MAC != nil && n.MAC.Address == device) {
					return nil
				}
			}
		}
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "no interface with device '%s' (give a target name or a MAC address)", device)
	})
	if err != nil {
		return nil, err
	}
	t := time.Now().UnixMicro()
	return &protocol.DomainInterfaceStatsRet{
		RxBytes: t / 10, RxPackets: t / 100, RxErrs: t / 1e6, RxDrop: t / 2e6,
		TxBytes: t / 20, TxPackets: t / 110, TxErrs: t / 3e6, TxDrop: t / 4e6,
	}, nil
}

// DomainGetTime answers a running domain's guest clock, which stays at
// libvirt's test driver's fixed time until set-time changes it
// (drivers.OpDomainGetTime).
func (c *conn) DomainGetTime(ctx context.Context, ref protocol.Domain, flags uint32) (*protocol.DomainGetTimeRet, error) {
	if flags != 0 {
		return nil, badFlags(flags, "testDomainGetTime")
	}
	ret := &protocol.DomainGetTimeRet{}
	err := c.drv.withDomain(ref, func(dom *domain) error {
		if dom.state != vir.DomainRunning {
			return notRunning()
		}
		ret.Seconds, ret.Nseconds = c.drv.ext(dom).run.guestClock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ret, nil
}

// DomainGetControlInfo answers the monitor state of a running domain,
// free unless set-time moved its guest clock (see controlInfo)
// (drivers.OpDomainGetControlInfo).
func (c *conn) DomainGetControlInfo(ctx context.Context, ref protocol.Domain, flags uint32) (*protocol.DomainGetControlInfoRet, error) {
	if flags != 0 {
		return nil, badFlags(flags, "testDomainGetControlInfo")
	}
	var ret *protocol.DomainGetControlInfoRet
	err := c.drv.withDomain(ref, func(dom *domain) error {
		if !dom.active() {
			return notRunning()
		}
		sec, _ := c.drv.ext(dom).run.guestClock()
		ret = controlInfo(sec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ret, nil
}
