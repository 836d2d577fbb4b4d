package xen

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/xen/xenstore"
)

// storeDriver is the xenstore sub-driver: what xenstore knows of the
// running domains (their ids, names, uuids, memory targets, vcpus, a
// pending shutdown request), read through our own client.
type storeDriver struct {
	xs *xenstore.Client
}

// liveDom is one running domain as xenstore shows it.
type liveDom struct {
	ID       int32
	Name     string
	UUID     drivers.UUID
	MemKiB   uint64 // memory/target
	MaxKiB   uint64 // memory/static-max
	VCPUs    uint16 // cpu/N/availability = online
	Shutdown string // control/shutdown: a request not yet obeyed
}

// scan reads every domain under /local/domain in one transaction, so
// the list is one consistent picture. Domain 0 (the host) is left out.
func (s *storeDriver) scan(ctx context.Context) (map[drivers.UUID]liveDom, error) {
	out := map[drivers.UUID]liveDom{}
	err := s.xs.Transaction(ctx, func(tx *xenstore.Tx) error {
		clear(out)
		ids, err := tx.Directory(ctx, "/local/domain")
		if errors.Is(err, xenstore.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, sid := range ids {
			id, err := strconv.ParseInt(sid, 10, 32)
			if err != nil || id == 0 {
				continue
			}
			d, ok, err := readDom(ctx, tx, int32(id))
			if err != nil {
				return err
			}
			if ok {
				out[d.UUID] = d
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A domain is running while xenstored has it introduced: nodes can
	// outlive it (the toolstack removes them after xenstored has fired
	// @releaseDomain), or precede it (written before INTRODUCE).
	for u, d := range out {
		ok, err := s.xs.IsDomainIntroduced(ctx, uint32(d.ID))
		if err != nil {
			return nil, err
		}
		if !ok {
			delete(out, u)
		}
	}
	return out, nil
}

func readDom(ctx context.Context, tx *xenstore.Tx, id int32) (liveDom, bool, error) {
	home := fmt.Sprintf("/local/domain/%d", id)
	get := func(p string) (string, error) {
		v, err := tx.Read(ctx, home+"/"+p)
		if errors.Is(err, xenstore.ErrNotExist) {
			return "", nil
		}
		return string(v), err
	}
	d := liveDom{ID: id}
	var err error
	if d.Name, err = get("name"); err != nil || d.Name == "" {
		return d, false, err // being built or torn down: not a domain yet
	}
	vm, err := get("vm")
	if err != nil {
		return d, false, err
	}
	if d.UUID, err = drivers.ParseUUID(strings.TrimPrefix(vm, "/vm/")); err != nil {
		return d, false, nil // not written by a Xen toolstack we know
	}
	mem, _ := get("memory/target")
	d.MemKiB, _ = strconv.ParseUint(mem, 10, 64)
	max, _ := get("memory/static-max")
	if d.MaxKiB, _ = strconv.ParseUint(max, 10, 64); d.MaxKiB < d.MemKiB {
		d.MaxKiB = d.MemKiB
	}
	cpus, err := tx.Directory(ctx, home+"/cpu")
	if err != nil && !errors.Is(err, xenstore.ErrNotExist) {
		return d, false, err
	}
	for _, c := range cpus {
		if v, _ := get("cpu/" + c + "/availability"); v == "online" {
			d.VCPUs++
		}
	}
	if d.Shutdown, err = get("control/shutdown"); err != nil {
		return d, false, err
	}
	return d, true, nil
}
