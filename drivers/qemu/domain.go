package qemu

import (
	"context"
	"sync"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/vir"
)

// domain is one domain of the QEMU driver.
//
// Locking: job serialises the operations that change a domain (start,
// suspend, save, ...) and may be held for seconds; mu guards the fields
// below it and is held only briefly, never while waiting on qemu, so
// reads (list, info, state, XML) never wait behind a job. Events are
// emitted with mu held, so they leave in the order of the changes. The
// driver's list lock (Driver.mu) may be taken while mu is held, never
// the other way round.
//
// files serialises the writes of the domain's definition and autostart
// link, and is held across them: those writes happen with mu released,
// so a disk that stalls a write (an fsync) never stalls a read. The
// order is job, then files, then mu.
type domain struct {
	uuid  drivers.UUID // never changes
	name  string       // never changes (no rename)
	job   jobLock
	files sync.Mutex
	// status orders the writes of the domain's status file, done off mu
	// (status.go).
	status statusQueue

	mu         sync.Mutex
	persistent *domxml.Def // the definition in the config directory; nil: transient
	live       *domxml.Def // what runs; nil while inactive
	id         int32       // -1 while inactive
	state      vir.DomainState
	reason     int32
	autostart  bool
	proc       *instance // the running qemu; nil while inactive
	jobs       jobState  // a running save's progress, the last one's result (jobs.go)
	// hidden marks a new transient domain whose first start is under
	// way: lookups and lists do not see it until it runs.
	hidden bool
	// removed marks a domain taken off the driver's list (undefined, or
	// a transient domain that stopped).
	removed bool
}

func newDomain(def *domxml.Def) *domain {
	return &domain{
		uuid:  def.UUID,
		name:  def.Name(),
		job:   newJobLock(),
		id:    -1,
		state: vir.DomainShutoff,
	}
}

// def is the definition that describes the domain now; mu held.
func (dom *domain) def() *domxml.Def {
	if dom.live != nil {
		return dom.live
	}
	return dom.persistent
}

func (dom *domain) active() bool { return dom.proc != nil }

// visible: lookups and lists see dom; mu held.
func (dom *domain) visible() bool { return !dom.hidden && !dom.removed }

// ref is the domain as the public API names it; mu held.
func (dom *domain) ref() drivers.Domain {
	id := int32(-1)
	if dom.active() {
		id = dom.id
	}
	return drivers.Domain{Name: dom.name, UUID: dom.uuid, ID: id}
}

// emit raises a lifecycle event for dom; mu held.
func (d *Driver) emit(dom *domain, event vir.DomainEventType, detail int32) {
	d.events.Emit(drivers.LifecycleEvent{Dom: dom.ref(), Event: event, Detail: detail})
}

// jobLock is a domain's job: at most one state-changing operation runs.
// Waiting is bounded, and a timeout names the operation holding it.
type jobLock struct {
	token chan struct{}

	mu    sync.Mutex // guards owner and since
	owner string
	since time.Time
}

func newJobLock() jobLock { return jobLock{token: make(chan struct{}, 1)} }

// acquire takes the job for owner (an API name), waiting at most timeout
// for the operation that holds it.
func (j *jobLock) acquire(ctx context.Context, owner string, timeout time.Duration) error {
	select {
	case j.token <- struct{}{}: // free: no timer (arming one can wake the runtime's poller)
		j.took(owner)
		return nil
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case j.token <- struct{}{}:
		j.took(owner)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		j.mu.Lock()
		defer j.mu.Unlock()
		return drivers.Errorf(vir.ErrOperationTimeout, vir.FromQEMU,
			"cannot acquire state change lock for %s (held by %s for %s)", owner, j.owner, time.Since(j.since).Round(time.Second))
	}
}

func (j *jobLock) took(owner string) {
	j.mu.Lock()
	j.owner, j.since = owner, time.Now()
	j.mu.Unlock()
}

func (j *jobLock) release() {
	j.mu.Lock()
	j.owner = ""
	j.mu.Unlock()
	<-j.token
}
