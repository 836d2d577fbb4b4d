package qemu

// HasRunningGuests says whether a qemu process of this driver runs now,
// whatever its guest's state (drivers.GuestRunner): the daemon's idle
// exit waits for every one to end.
func (d *Driver) HasRunningGuests() bool {
	for _, dom := range d.domains.Objects() {
		dom.mu.Lock()
		running := dom.active() && !dom.removed
		dom.mu.Unlock()
		if running {
			return true
		}
	}
	return false
}
