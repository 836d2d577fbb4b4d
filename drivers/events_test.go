package drivers

import (
	"strings"
	"testing"

	"github.com/govirt/govirtd/vir"
)

// TestEventIDLast: vir leaves out VIR_DOMAIN_EVENT_ID_LAST, so EventIDLast
// is derived from the last id it names; a vir regenerated from headers
// with more event ids makes this fail until EventIDLast follows.
func TestEventIDLast(t *testing.T) {
	unnamed := func(id vir.DomainEventID) bool { return strings.HasPrefix(id.String(), "DomainEventID(") }
	if unnamed(EventIDLast-1) || !unnamed(EventIDLast) {
		t.Errorf("EventIDLast = %d, but vir names %s and %s", EventIDLast, EventIDLast-1, EventIDLast)
	}
}

func TestVirshWords(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{StateString(vir.DomainRunning), "running"},
		{StateString(vir.DomainShutoff), "shut off"},
		{StateString(vir.DomainPmsuspended), "pmsuspended"},
		{StateString(99), "no state"},
		{EventTypeString(vir.DomainEventStarted), "Started"},
		{EventTypeString(vir.DomainEventCrashed), "Crashed"},
		{EventTypeString(-1), "unknown"},
		{EventDetailString(vir.DomainEventStopped, int32(vir.DomainEventStoppedFromSnapshot)), "Snapshot"},
		{EventDetailString(vir.DomainEventShutdown, int32(vir.DomainEventShutdownHost)), "Finished after host request"},
		{EventDetailString(vir.DomainEventStarted, 99), "unknown"},
		{LifecycleEvent{Dom: Domain{Name: "x"}, Event: vir.DomainEventResumed, Detail: int32(vir.DomainEventResumedUnpaused)}.String(),
			"lifecycle x Resumed Unpaused"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
