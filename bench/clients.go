package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/govirt/govirtd/remote"
)

// caller is one client connection as the throughput measures use it.
type caller interface {
	LibVersion() error
	Close() error
}

// clientKind dials a caller to a socket.
type clientKind struct {
	name string // "go-libvirt" or "remote"
	dial func(sock string) (caller, error)
}

var (
	goLibvirtClient = clientKind{name: "go-libvirt", dial: func(sock string) (caller, error) {
		l, err := dialGoLibvirt(sock)
		if err != nil {
			return nil, err
		}
		return glCaller{l}, nil
	}}
	remoteClient = clientKind{name: "remote", dial: func(sock string) (caller, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := remote.Dial(ctx, "test+unix:///default?socket="+sock)
		if err != nil {
			return nil, err
		}
		return remoteCaller{c}, nil
	}}
)

// dialGoLibvirt connects go-libvirt to sock and opens test:///default.
func dialGoLibvirt(sock string) (*libvirt.Libvirt, error) {
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(sock), dialers.WithLocalTimeout(10*time.Second)))
	if err := l.ConnectToURI("test:///default"); err != nil {
		return nil, err
	}
	return l, nil
}

type glCaller struct{ l *libvirt.Libvirt }

func (c glCaller) LibVersion() error {
	_, err := c.l.ConnectGetLibVersion()
	return err
}

func (c glCaller) Close() error { return c.l.Disconnect() }

type remoteCaller struct{ c *remote.Conn }

func (c remoteCaller) LibVersion() error {
	_, err := c.c.ConnectGetLibVersion(context.Background())
	return err
}

func (c remoteCaller) Close() error { return c.c.Close() }

// dialParallel opens n callers to sock from workers goroutines, closing
// them all on failure: libvirtd's event loop visits every client for each
// wakeup, so 10,000 connections made one at a time take it many minutes,
// while clients arriving together share its wakeups.
func dialParallel(k clientKind, sock string, n, workers int) ([]caller, error) {
	var mu sync.Mutex
	cs := make([]caller, 0, n)
	var firstErr error
	var wg sync.WaitGroup
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				c, err := k.dial(sock)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = fmt.Errorf("connection %d: %w", len(cs)+1, err)
					}
				} else {
					cs = append(cs, c)
				}
				stop := firstErr != nil
				mu.Unlock()
				if stop {
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		closeAll(cs)
		return nil, firstErr
	}
	return cs, nil
}

// dialMany opens n callers to sock, closing them all on failure.
func dialMany(k clientKind, sock string, n int) ([]caller, error) {
	cs := make([]caller, 0, n)
	for range n {
		c, err := k.dial(sock)
		if err != nil {
			closeAll(cs)
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func closeAll(cs []caller) {
	for _, c := range cs {
		c.Close()
	}
}
