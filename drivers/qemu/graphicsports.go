package qemu

import (
	"net"
	"strconv"
	"sync"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/vir"
)

// SPICE servers cannot choose their own port as VNC servers do (-vnc
// :0,to=99), so the driver chooses one for each automatic SPICE port,
// from 5900 up, as libvirt's port allocator does: a port nobody listens
// on (checked by binding it) and that no other start of this driver has
// just chosen. The choice is held until the start ends; by then qemu
// listens on it, so the bind check keeps the next start off it.
type graphicsPorts struct {
	mu       sync.Mutex
	starting map[int]bool
}

const firstGraphicsPort, lastGraphicsPort = 5900, 65535

// assign gives each automatic SPICE port of live a free port and
// returns the function that ends the hold on them.
func (p *graphicsPorts) assign(live *domxml.Def) (release func(), err error) {
	var held []int
	release = func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, port := range held {
			delete(p.starting, port)
		}
	}
	if live.XML.Devices == nil {
		return release, nil
	}
	for i := range live.XML.Devices.Graphics {
		g := live.XML.Devices.Graphics[i].Spice
		if g == nil || g.Port > 0 {
			continue
		}
		addr, err := spiceListen(g)
		if err != nil {
			return release, err
		}
		port, err := p.take(addr)
		if err != nil {
			release()
			return func() {}, err
		}
		held = append(held, port)
		g.Port, g.AutoPort = port, "yes"
		g.Listen = addr
		g.Listeners = []libvirtxml.DomainGraphicListener{{Address: &libvirtxml.DomainGraphicListenerAddress{Address: addr}}}
	}
	return release, nil
}

func (p *graphicsPorts) take(addr string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.starting == nil {
		p.starting = map[int]bool{}
	}
	for port := firstGraphicsPort; port <= lastGraphicsPort; port++ {
		if p.starting[port] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
		if err != nil {
			continue
		}
		l.Close()
		p.starting[port] = true
		return port, nil
	}
	return 0, drivers.Errorf(vir.ErrInternalError, vir.FromQEMU, "no free port for the SPICE server on %s from %d to %d", addr, firstGraphicsPort, lastGraphicsPort)
}
