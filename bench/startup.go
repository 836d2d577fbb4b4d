package main

import (
	"fmt"
	"path/filepath"
	"sync"
	"time"
)

// settle is how long a daemon is left alone before its RSS is read:
// idle connections are idle only after a while (govirtd moves the
// reader of a client quiet for a second to a goroutine with a small
// stack; its sweeper looks once a second, and the freed stacks go back
// to the system in one reclaim up to a second later).
const settle = 4 * time.Second

// idleConns and manyConns are the numbers of idle connections of
// measure 8; the daemons' max_clients is raised above manyConns.
const (
	idleConns = 1000
	manyConns = 10000
)

// measureStartup is measure 8. Each round starts a fresh daemon and times
// exec until its socket accepts a connection; then reads its RSS with one
// client that opened test:///default (idle), and again with 1,000 and
// 10,000 such clients; then stops it.
func (b *bench) measureStartup() ([]*Measure, error) {
	start := newMeasure("8-start", "exec → socket accepting", "ms", false)
	idle := newMeasure("8-idle", "RSS idle (1 client, test:///default open)", "MiB", false)
	conns := newMeasure("8-1000", fmt.Sprintf("RSS with %s idle connections", thousands(idleConns)), "MiB", false)
	many := newMeasure("8-10000", fmt.Sprintf("RSS with %s idle connections", thousands(manyConns)), "MiB", false)
	n := 0
	err := b.alternate([]*Measure{start, idle, conns, many}, []string{keyGovirtd, keyLibvirtd}, b.o.starts, func(k string, warmup bool) ([]float64, error) {
		n++
		p, took, err := b.startDaemon(k, filepath.Join(b.dir, fmt.Sprintf("start-%02d-%s", n, k)))
		if err != nil {
			return nil, err
		}
		defer p.stop()
		if warmup {
			return nil, nil
		}
		var cs []caller
		defer func() { closeParallel(cs) }()
		rss := func(want int) (float64, error) {
			more, err := dialParallel(goLibvirtClient, p.sock, want-len(cs), 16)
			if err != nil {
				return 0, err
			}
			cs = append(cs, more...)
			time.Sleep(settle)
			kib, err := rssKiB(p.pid())
			return float64(kib) / 1024, err
		}
		idleMiB, err := rss(1)
		if err != nil {
			return nil, err
		}
		connsMiB, err := rss(idleConns)
		if err != nil {
			return nil, err
		}
		manyMiB, err := rss(manyConns)
		if err != nil {
			return nil, err
		}
		return []float64{float64(took) / float64(time.Millisecond), idleMiB, connsMiB, manyMiB}, nil
	})
	return []*Measure{start, idle, conns, many}, err
}

// closeParallel closes callers from a few goroutines.
func closeParallel(cs []caller) {
	var wg sync.WaitGroup
	const workers = 8
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(cs); i += workers {
				cs[i].Close()
			}
		}()
	}
	wg.Wait()
}
