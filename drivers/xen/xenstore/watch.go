package xenstore

import (
	"context"
	"errors"
	"fmt"
)

// WatchQueue is how many events a watch holds for a consumer that has
// not taken them yet.
const WatchQueue = 256

// Event is one firing of a watch: the node that changed (or the watched
// path itself on registration and after a reconnect) and the token.
type Event struct {
	Path  string
	Token string
}

// Watch is a registered watch. Its events arrive on Events in order.
//
// Xenstore's own contract is that a watch event says "look again", not
// "here is the change": xenstored fires every watch once on
// registration, and this client registers its watches again after a
// reconnect, so they fire again then. A consumer that re-reads what it
// watches on each event therefore loses nothing when its queue is full:
// the event that could not be queued is dropped (Dropped counts them)
// while an earlier one is still waiting to be read.
type Watch struct {
	c      *Client
	path   string
	token  string
	events chan Event
	// dropped is guarded by c.mu.
	dropped uint64
}

// Events is the watch's channel; it is never closed.
func (w *Watch) Events() <-chan Event { return w.events }

// Path and Token are what the watch was registered with.
func (w *Watch) Path() string  { return w.path }
func (w *Watch) Token() string { return w.token }

// Dropped is how many events found the queue full.
func (w *Watch) Dropped() uint64 {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.dropped
}

// Watch registers a watch on path (a node and everything below it, or a
// special path such as @introduceDomain) under token, which must be
// unique on this client.
func (c *Client) Watch(ctx context.Context, path, token string) (*Watch, error) {
	w := &Watch{c: c, path: path, token: token, events: make(chan Event, WatchQueue)}
	c.mu.Lock()
	if _, dup := c.watches[token]; dup {
		c.mu.Unlock()
		return nil, fmt.Errorf("watch %s: token %q is already in use on this connection", path, token)
	}
	c.watches[token] = w // before the request: its first event may come before the reply
	c.mu.Unlock()
	if _, err := c.call(ctx, OpWatch, 0, strings0(path, token)); err != nil {
		c.mu.Lock()
		delete(c.watches, token)
		c.mu.Unlock()
		return nil, err
	}
	return w, nil
}

// Unwatch removes the watch; no event is queued on it afterwards.
func (w *Watch) Unwatch(ctx context.Context) error {
	c := w.c
	c.mu.Lock()
	if c.watches[w.token] != w {
		c.mu.Unlock()
		return nil
	}
	delete(c.watches, w.token)
	c.mu.Unlock()
	_, err := c.call(ctx, OpUnwatch, 0, strings0(w.path, w.token))
	if errors.Is(err, ErrDisconnected) {
		return nil // the watch died with the connection and is not registered again
	}
	return err
}

// deliver queues a WATCH_EVENT on its watch. Runs on the reader.
func (c *Client) deliver(m Msg) {
	f := splitStrings(m.Payload)
	if len(f) < 2 {
		return // not an event this client can route
	}
	ev := Event{Path: f[0], Token: f[1]}
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.watches[ev.Token]
	if w == nil {
		return // unwatched meanwhile
	}
	select {
	case w.events <- ev:
	default:
		w.dropped++
	}
}
