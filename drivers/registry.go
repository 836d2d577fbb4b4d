package drivers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"

	"github.com/govirt/govirtd/vir"
)

// Registry holds the drivers of a daemon and opens connections by URI.
type Registry struct {
	mu      sync.RWMutex // guards drivers and shared
	drivers []Driver
	// shared are the drivers of one concern each (a network, a storage
	// driver) that serve the connections whose hypervisor driver has no
	// table of its own for that concern, as libvirt's shared drivers do.
	secondary [NumConcerns]Driver
}

// RegisterShared makes d the driver of concern k for every connection
// whose hypervisor connection does not serve k itself (ConcernServer).
// d.Open is asked with the connection's URI and may decline it. A
// stateful d is also started, stopped and reloaded with the others.
func (r *Registry) RegisterShared(k Concern, d Driver) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secondary[k] = d
}

// shared is concern k's shared driver, or nil.
func (r *Registry) shared(k Concern) Driver {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.secondary[k]
}

// Register adds d; drivers are asked in registration order.
func (r *Registry) Register(d Driver) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drivers = append(r.drivers, d)
}

// Unregister removes d (a stateful driver that skipped or shut down),
// as a hypervisor driver and as a shared driver.
func (r *Registry) Unregister(d Driver) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, x := range r.secondary {
		if x == d {
			r.secondary[k] = nil
		}
	}
	for i, x := range r.drivers {
		if x == d {
			r.drivers = append(r.drivers[:i], r.drivers[i+1:]...)
			return
		}
	}
}

// Drivers returns the registered drivers in order: the hypervisor
// drivers, then the shared drivers not also registered as one, by
// concern.
func (r *Registry) Drivers() []Driver {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := append([]Driver(nil), r.drivers...)
	for _, d := range r.secondary {
		if d != nil && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// hypervisors returns the hypervisor drivers, asked in order by Open.
func (r *Registry) hypervisors() []Driver {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]Driver(nil), r.drivers...)
}

// Open opens name, the URI a client gave CONNECT_OPEN ("" lets the
// drivers probe), as virConnectOpen does: each hypervisor driver in turn
// is asked for it, and the first that takes it gives the connection its
// hypervisor concern; then every other concern is served by that
// connection itself (ConcernServer) or by the concern's shared driver, or
// by none. vir.ErrNoConnect means no hypervisor driver takes the URI.
func (r *Registry) Open(ctx context.Context, name string, flags uint32) (*Connection, error) {
	uri, err := url.Parse(name)
	if err != nil {
		return nil, Errorf(vir.ErrInvalidArg, vir.FromNone, "cannot parse URI %q: %w", name, err)
	}
	for _, d := range r.hypervisors() {
		conn, err := d.Open(ctx, uri, flags)
		if errors.Is(err, ErrDeclined) {
			continue
		}
		if err != nil {
			return nil, err
		}
		c := &Connection{URI: uri}
		c.conns[ConcernHypervisor] = conn
		if err := r.openSecondaries(ctx, c, flags); err != nil {
			return nil, err
		}
		return c, nil
	}
	if name == "" {
		name = "<null>"
	}
	return nil, Errorf(vir.ErrNoConnect, vir.FromNone, "%s", name)
}

// StateDriver is a driver with state that lives as long as the daemon
// (libvirt's virStateDriver). The daemon calls Startup before serving,
// Reload on SIGHUP and Shutdown when it stops. These hooks are separate
// from the API a connection offers.
type StateDriver interface {
	Driver
	// Startup prepares the driver. ErrSkip means the host lacks what the
	// driver needs (no qemu binary, no xenstored): the daemon runs on
	// without it.
	Startup(ctx context.Context) error
	// Reload re-reads the driver's configuration and definitions.
	Reload(ctx context.Context) error
	// Shutdown releases the driver's resources; it never stops guests.
	Shutdown(ctx context.Context) error
}

// GuestRunner is a StateDriver that runs guests: the daemon's idle exit
// (govirtd --timeout) never fires while one answers true, as libvirt's
// drivers inhibit libvirtd's timeout while a guest runs.
type GuestRunner interface {
	// HasRunningGuests says whether a guest of the driver is running
	// (or paused: its process lives) now.
	HasRunningGuests() bool
}

// SkipError is returned by Startup when the driver cannot run on this
// host; Reason says why, for the daemon's log.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return fmt.Sprintf("driver skipped: %s", e.Reason) }

// ErrSkip matches any *SkipError with errors.Is.
var ErrSkip = &SkipError{}

func (e *SkipError) Is(target error) bool { return target == ErrSkip }
