package drivers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"

	"github.com/govirt/govirtd/vir"
)

// Registry holds the drivers of a daemon and opens connections by URI.
type Registry struct {
	mu      sync.RWMutex // guards drivers
	drivers []Driver
}

// Register adds d; drivers are asked in registration order.
func (r *Registry) Register(d Driver) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drivers = append(r.drivers, d)
}

// Unregister removes d (a stateful driver that skipped or shut down).
func (r *Registry) Unregister(d Driver) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, x := range r.drivers {
		if x == d {
			r.drivers = append(r.drivers[:i], r.drivers[i+1:]...)
			return
		}
	}
}

// Drivers returns the registered drivers in order.
func (r *Registry) Drivers() []Driver {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]Driver(nil), r.drivers...)
}

// Open asks each driver in turn to open name, the URI a client gave
// CONNECT_OPEN ("" lets the drivers probe). It returns the connection and
// the URI it was opened for, or vir.ErrNoConnect when no driver takes it.
func (r *Registry) Open(ctx context.Context, name string, flags uint32) (Conn, *url.URL, error) {
	uri, err := url.Parse(name)
	if err != nil {
		return nil, nil, Errorf(vir.ErrInvalidArg, vir.FromNone, "cannot parse URI %q: %v", name, err)
	}
	for _, d := range r.Drivers() {
		conn, err := d.Open(ctx, uri, flags)
		if errors.Is(err, ErrDeclined) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		return conn, uri, nil
	}
	if name == "" {
		name = "<null>"
	}
	return nil, nil, Errorf(vir.ErrNoConnect, vir.FromNone, "%s", name)
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

// SkipError is returned by Startup when the driver cannot run on this
// host; Reason says why, for the daemon's log.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return fmt.Sprintf("driver skipped: %s", e.Reason) }

// ErrSkip matches any *SkipError with errors.Is.
var ErrSkip = &SkipError{}

func (e *SkipError) Is(target error) bool { return target == ErrSkip }
