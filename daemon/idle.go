package daemon

import (
	"fmt"
	"time"

	"github.com/govirt/govirtd/drivers"
)

// idleCheckEvery is how often a daemon with an idle timeout looks
// whether it is still busy.
const idleCheckEvery = time.Second

// SetIdleTimeout makes Run exit cleanly once the daemon has been idle —
// no client connected (an event subscriber is a client's registration,
// so none either) and no driver with a running guest — for d; 0, the
// default, never exits (govirtd --timeout, as libvirtd's).
func (d *Daemon) SetIdleTimeout(t time.Duration) { d.idle = idleTimer{timeout: t} }

// Busy says what keeps the daemon from being idle, "" when nothing does.
func (d *Daemon) Busy() string {
	if n := d.srv.Stats().Clients; n > 0 {
		return fmt.Sprintf("%d client(s) connected", n)
	}
	d.sessionsMu.Lock()
	n := len(d.sessions)
	d.sessionsMu.Unlock()
	if n > 0 {
		// A client's session outlives its socket while its calls end.
		return fmt.Sprintf("%d client session(s) closing", n)
	}
	for _, sd := range d.started {
		if g, ok := sd.(drivers.GuestRunner); ok && g.HasRunningGuests() {
			return fmt.Sprintf("the %s driver has running guests", sd.Name())
		}
	}
	return ""
}

// idleTimer decides the idle exit from what each check saw; it reads no
// clock, so a test drives it with its own times.
type idleTimer struct {
	timeout time.Duration
	since   time.Time // when the daemon was last seen busy, or started
}

// start begins the count at now.
func (t *idleTimer) start(now time.Time) { t.since = now }

// check notes what a check at now found (why: the busy reason, "" when
// idle) and says whether the daemon has been idle for the timeout.
func (t *idleTimer) check(now time.Time, why string) bool {
	if why != "" {
		t.since = now
		return false
	}
	return now.Sub(t.since) >= t.timeout
}
