package drivers

import (
	"fmt"
	"testing"

	"github.com/govirt/govirtd/vir"
)

// BenchmarkEmit delivers one lifecycle event to N registrations, each on
// its own connection, whose callbacks put it on a bounded queue as the
// daemon's callbacks do; the queues are drained after each event.
func BenchmarkEmit(b *testing.B) {
	for _, n := range []int{1, 10, 200, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var l CallbackList
			queues := make([]chan DomainEvent, n)
			for i := range queues {
				q := make(chan DomainEvent, 16)
				queues[i] = q
				if _, err := l.Register(&fakeConn{fmt.Sprint(i)}, vir.DomainEventIDLifecycle, nil, func(id int, ev DomainEvent) {
					select {
					case q <- ev:
					default:
						b.Error("queue full")
					}
				}); err != nil {
					b.Fatal(err)
				}
			}
			// One registration for another event id, which Emit skips.
			if _, err := l.Register(&fakeConn{"reboot"}, vir.DomainEventIDReboot, nil, func(int, DomainEvent) {}); err != nil {
				b.Fatal(err)
			}
			ev := LifecycleEvent{Dom: Domain{Name: "test", UUID: UUID{1}, ID: 1}, Event: vir.DomainEventSuspended}
			b.ReportAllocs()
			for b.Loop() {
				l.Emit(ev)
				for _, q := range queues {
					<-q
				}
			}
		})
	}
}
