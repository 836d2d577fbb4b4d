package drivers

import (
	"fmt"
	"slices"
)

// Requirer is a stateful driver that must start after the drivers of
// some concerns: a hypervisor driver whose autostart guests need their
// networks and pools requires ConcernNetwork and ConcernStorage, as
// libvirt starts its network and storage drivers before QEMU's. A
// concern no registered driver serves is no obstacle: the driver starts
// without it.
type Requirer interface {
	Requires() []Concern
}

// StartOrder returns the registered stateful drivers in the order the
// daemon starts them: each after the drivers of the concerns it
// requires, and otherwise in the order of Drivers. Shutdown runs in the
// reverse order. Requirements that form a cycle are an error naming it.
func (r *Registry) StartOrder() ([]StateDriver, error) {
	all := r.Drivers()
	r.mu.RLock()
	hypervisors := append([]Driver(nil), r.drivers...)
	secondary := r.secondary
	r.mu.RUnlock()
	// providers are the drivers serving concern k.
	providers := func(k Concern) []Driver {
		if k == ConcernHypervisor {
			return hypervisors
		}
		if k < NumConcerns && secondary[k] != nil {
			return []Driver{secondary[k]}
		}
		return nil
	}
	var order []StateDriver
	const (
		unvisited = iota
		visiting
		done
	)
	mark := map[Driver]int{}
	var visit func(d Driver, path []string) error
	visit = func(d Driver, path []string) error {
		switch mark[d] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("drivers require each other: %s → %s (a driver cannot start before the drivers it requires)",
				joinArrow(path), d.Name())
		}
		mark[d] = visiting
		if rq, ok := d.(Requirer); ok {
			for _, k := range rq.Requires() {
				for _, p := range providers(k) {
					if p == d {
						continue
					}
					if err := visit(p, append(path, fmt.Sprintf("%s (requires %s)", d.Name(), k))); err != nil {
						return err
					}
				}
			}
		}
		mark[d] = done
		if sd, ok := d.(StateDriver); ok && !slices.Contains(order, sd) {
			order = append(order, sd)
		}
		return nil
	}
	for _, d := range all {
		if err := visit(d, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func joinArrow(path []string) string {
	s := ""
	for i, p := range path {
		if i > 0 {
			s += " → "
		}
		s += p
	}
	return s
}
