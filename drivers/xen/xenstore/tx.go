package xenstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// MaxTransactionAttempts bounds how often Transaction retries a
// transaction that xenstored ended with EAGAIN (another writer touched
// what it read).
const MaxTransactionAttempts = 16

// Tx is an open transaction; its operations see a snapshot of the store
// and take effect together when it commits.
type Tx struct {
	o ops
}

// ID is xenstored's id of the transaction.
func (t *Tx) ID() uint32 { return t.o.tx }

func (t *Tx) Read(ctx context.Context, path string) ([]byte, error) { return t.o.read(ctx, path) }
func (t *Tx) Write(ctx context.Context, path string, v []byte) error {
	return t.o.write(ctx, path, v)
}
func (t *Tx) Directory(ctx context.Context, path string) ([]string, error) {
	return t.o.directory(ctx, path)
}
func (t *Tx) Mkdir(ctx context.Context, path string) error { return t.o.simple(ctx, OpMkdir, path) }
func (t *Tx) Rm(ctx context.Context, path string) error    { return t.o.simple(ctx, OpRm, path) }
func (t *Tx) GetPerms(ctx context.Context, path string) ([]Perm, error) {
	return t.o.getPerms(ctx, path)
}
func (t *Tx) SetPerms(ctx context.Context, path string, perms ...Perm) error {
	return t.o.setPerms(ctx, path, perms)
}

// Begin starts a transaction; end it with Commit or Abort.
func (c *Client) Begin(ctx context.Context) (*Tx, error) {
	p, err := c.call(ctx, OpTransactionStart, 0, strings0(""))
	if err != nil {
		return nil, err
	}
	id, err := strconv.ParseUint(trimNUL(p), 10, 32)
	if err != nil || id == 0 {
		return nil, fmt.Errorf("%w: TRANSACTION_START replied %q", ErrFrame, p)
	}
	return &Tx{o: ops{c: c, tx: uint32(id)}}, nil
}

// Commit ends the transaction applying its changes; errors.Is(err,
// ErrAgain) means it conflicted and nothing was applied.
func (t *Tx) Commit(ctx context.Context) error { return t.end(ctx, "T") }

// Abort ends the transaction discarding its changes.
func (t *Tx) Abort(ctx context.Context) error { return t.end(ctx, "F") }

func (t *Tx) end(ctx context.Context, how string) error {
	_, err := t.o.c.call(ctx, OpTransactionEnd, t.o.tx, strings0(how))
	return err
}

// Transaction runs fn in a transaction and commits it, running fn again
// in a fresh transaction when xenstored answers EAGAIN, up to
// MaxTransactionAttempts times. When fn fails the transaction is
// aborted and fn's error returned. fn may thus run more than once and
// must not have effects outside tx.
func (c *Client) Transaction(ctx context.Context, fn func(*Tx) error) error {
	for attempt := 1; ; attempt++ {
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			if aerr := tx.Abort(ctx); aerr != nil && !errors.Is(err, ErrAgain) {
				return fmt.Errorf("%w (and aborting the transaction: %v)", err, aerr)
			}
			if !errors.Is(err, ErrAgain) || attempt >= MaxTransactionAttempts {
				return err
			}
			if err := backoff(ctx, attempt); err != nil {
				return err
			}
			continue // a read inside the transaction saw the conflict
		}
		err = tx.Commit(ctx)
		if err == nil || !errors.Is(err, ErrAgain) {
			return err
		}
		if attempt >= MaxTransactionAttempts {
			return fmt.Errorf("transaction conflicted %d times in a row, giving up: %w", attempt, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// backoff waits a random time before attempt+1 of a conflicted
// transaction, up to 100 µs × 2^attempt (at most 25 ms): writers that
// keep conflicting with each other would otherwise retry in lockstep
// and conflict again.
func backoff(ctx context.Context, attempt int) error {
	limit := time.Duration(100<<min(attempt, 8)) * time.Microsecond
	t := time.NewTimer(time.Duration(rand.Int64N(int64(limit))))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
