package qemu

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/govirt/govirtd/drivers"
)

// autostartOnce starts the autostart domains in the background, once per
// boot: the marker file in the state directory (a tmpfs such as /run)
// says it was done, so a daemon restart does not start again what an
// administrator stopped.
func (d *Driver) autostartOnce() {
	marker := d.cfg.autostartedMarker()
	if _, err := os.Stat(marker); err == nil {
		d.log.Info("autostart already ran this boot", "marker", marker)
		return
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		d.log.Error("cannot write the autostart marker; autostart may run again after a daemon restart", "marker", marker, "err", err)
	}
	d.background(func() { d.autostartAll(context.Background(), "startup") })
}

// autostartAll starts, in parallel, every autostart domain that is not
// running, and waits for them.
func (d *Driver) autostartAll(ctx context.Context, why string) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, dom := range d.list() {
		dom.mu.Lock()
		want := dom.autostart && !dom.active() && !dom.removed && dom.persistent != nil
		dom.mu.Unlock()
		if !want {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := d.autostart(ctx, dom)
			if err != nil {
				d.log.Error("autostart failed", "domain", dom.name, "on", why, "err", err)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (d *Driver) autostart(ctx context.Context, dom *domain) error {
	select {
	case <-d.closing:
		return nil
	default:
	}
	ref := drivers.Domain{Name: dom.name, UUID: dom.uuid}
	return d.withJob(ctx, ref, "autostart", func(ctx context.Context, dom *domain) error {
		dom.mu.Lock()
		active, def := dom.active(), dom.persistent
		dom.mu.Unlock()
		if active || def == nil {
			return nil // started or undefined meanwhile
		}
		start := time.Now()
		err := d.startDomain(ctx, dom, def, startOpts{})
		if err == nil {
			d.log.Info("autostarted", "domain", dom.name, "took", time.Since(start).Round(time.Millisecond))
		}
		return err
	})
}
