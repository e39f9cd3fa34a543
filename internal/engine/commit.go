package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// A build writes its records in as few transactions as keep what matters
// durable in time:
//   - a step's RUNNING record is committed before the step runs (a step
//     whose start cannot be committed does not run);
//   - a stage's start (its image state, checked against a cancel) is
//     committed with its first step's RUNNING record, as is its execution;
//   - the end of a step or of an execution is held in memory and
//     committed with the build's next write: the next step's RUNNING, the
//     image's INTEGRATING or final state. That is at most a step boundary
//     away, and a stage's end is committed before the image leaves its
//     state.
//
// A server that dies with records held leaves the step or execution
// RUNNING; the restart marks it interrupted and runs the stage again, as
// it does for one that dies during the step.

// heldRecords are records waiting for the build's next write.
type heldRecords struct {
	mu   sync.Mutex // held for a whole commit, so that nothing held is lost
	list []*store.Resource
	// start is the start of a stage, run first in the build's next write;
	// an error from it fails that write.
	start func(ctx context.Context, tx store.Tx) error
}

// holdStart keeps the start of a stage for the build's next write.
func (b *imageBuild) holdStart(start func(ctx context.Context, tx store.Tx) error) {
	b.held.mu.Lock()
	defer b.held.mu.Unlock()
	b.held.start = start
}

// dropStart forgets a stage start not written (its stage reported no step).
func (b *imageBuild) dropStart() { b.holdStart(nil) }

// hold encodes the records as they are now and keeps them for the build's
// next write; a record held already under the same ARN is replaced.
func (b *imageBuild) hold(recs ...record) error {
	rs, err := encodeRecords(recs)
	if err != nil {
		return err
	}
	b.held.mu.Lock()
	defer b.held.mu.Unlock()
next:
	for _, r := range rs {
		for i, h := range b.held.list {
			if h.ARN == r.ARN {
				b.held.list[i] = r
				continue next
			}
		}
		b.held.list = append(b.held.list, r)
	}
	return nil
}

// write commits the held records and recs in one transaction.
func (b *imageBuild) write(ctx context.Context, recs ...record) error {
	return b.commit(ctx, recs, nil)
}

// update is updateImage of the build's image, in one transaction with the
// held records and recs. When the update does not happen (fn fails, the
// image is in none of from) recs are not written, the held records are
// (on their own).
func (b *imageBuild) update(ctx context.Context, from []gen.ImageStatus, fn func(*imageDoc) error, recs ...record) (*imageDoc, error) {
	var out *imageDoc
	err := b.commit(ctx, recs, func(tx store.Tx) error {
		var err error
		out, err = updateImageIn(ctx, tx, b.arn, from, fn)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("updating image %s: %w", b.arn, err)
	}
	return out, nil
}

// commit writes, in one transaction, the held stage start, the held
// records, recs and what fn writes. When the start or fn fails, the held
// records are committed on their own and that error is returned (a start
// that failed is dropped).
func (b *imageBuild) commit(ctx context.Context, recs []record, fn func(tx store.Tx) error) error {
	rs, err := encodeRecords(recs)
	if err != nil {
		return err
	}
	b.held.mu.Lock()
	defer b.held.mu.Unlock()
	start := b.held.start
	if len(b.held.list) == 0 && len(rs) == 0 && fn == nil && start == nil {
		return nil
	}
	var fnErr error // the start's or fn's error: what the caller asked for did not happen
	startFailed := false
	err = b.e.o.Store.Update(ctx, func(tx store.Tx) error {
		fnErr, startFailed = nil, false
		if start != nil {
			if fnErr = start(ctx, tx); fnErr != nil {
				startFailed = true
				return fnErr
			}
		}
		if err := writeResources(ctx, tx, b.held.list); err != nil {
			return err
		}
		if err := writeResources(ctx, tx, rs); err != nil {
			return err
		}
		if fn != nil {
			fnErr = fn(tx)
			return fnErr
		}
		return nil
	})
	if err == nil {
		b.held.list, b.held.start = nil, nil
		return nil
	}
	if startFailed {
		b.held.start = nil // a stage that cannot start does not start later
	}
	if fnErr != nil && len(b.held.list) > 0 {
		werr := b.e.o.Store.Update(ctx, func(tx store.Tx) error { return writeResources(ctx, tx, b.held.list) })
		if werr != nil {
			return errors.Join(fnErr, fmt.Errorf("writing the build's records: %w", werr))
		}
		b.held.list = nil
	}
	return err
}
