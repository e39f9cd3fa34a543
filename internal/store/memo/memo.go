// Package memo wraps a store.Store with a read cache for one process.
//
// Reads made in View transactions (Get, List, RefsTo, MaxBuild) are
// remembered until the next Update in the same Cache commits or fails;
// every Update invalidates everything, so a read never returns data older
// than the last write made through the Cache. This is only coherent when
// every writer of the database goes through one Cache: goldsmith uses it
// for its embedded SQLite store, whose data dir one server holds locked.
package memo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/goldsmith/goldsmith/internal/store"
)

// maxEntries bounds the cache; it is emptied when full.
const maxEntries = 4096

// Cache is the shared state of every Store wrapping the same database.
type Cache struct {
	gen     atomic.Uint64
	mu      sync.Mutex
	entries map[string]entry
}

type entry struct {
	gen uint64
	val any // *store.Resource, []*store.Resource, []string, int, or error
}

// Store is a store.Store with a read cache.
type Store struct {
	inner store.Store
	c     *Cache
}

// New wraps inner; every Store of one database must share c.
func New(inner store.Store, c *Cache) *Store { return &Store{inner: inner, c: c} }

// Close closes the wrapped store.
func (s *Store) Close() error { return s.inner.Close() }

// Update runs fn on the wrapped store and invalidates the cache.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	defer s.c.gen.Add(1)
	return s.inner.Update(ctx, fn)
}

// View runs fn first on the cache alone, without opening a transaction;
// if any read misses, fn runs again in a real read transaction of the
// wrapped store (store.Store documents that View may run fn more than once).
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memo: view: %w", err)
	}
	gen := s.c.gen.Load()
	cacheOnly := &viewTx{Tx: missTx{}, c: s.c, gen: gen}
	err := fn(cacheOnly)
	if !cacheOnly.missed {
		return err
	}
	return s.inner.View(ctx, func(tx store.Tx) error {
		return fn(&viewTx{Tx: tx, c: s.c, gen: gen})
	})
}

func (c *Cache) get(key string, gen uint64) (any, bool) {
	if c.gen.Load() != gen {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || e.gen != gen {
		return nil, false
	}
	return e.val, true
}

func (c *Cache) put(key string, gen uint64, val any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if c.entries == nil || len(c.entries) >= maxEntries {
		c.entries = make(map[string]entry)
	}
	c.entries[key] = entry{gen: gen, val: val}
}

// viewTx caches the reads of one View transaction.
type viewTx struct {
	store.Tx
	c      *Cache
	gen    uint64
	missed bool // a read went to Tx (for missTx: could not be answered)
}

func copyResource(r *store.Resource) *store.Resource {
	cp := *r
	cp.Body = slices.Clone(r.Body)
	cp.Tags = maps.Clone(r.Tags)
	return &cp
}

func (t *viewTx) Get(ctx context.Context, arn string) (*store.Resource, error) {
	key := "get\x00" + arn
	if v, ok := t.c.get(key, t.gen); ok {
		if err, isErr := v.(error); isErr {
			return nil, err
		}
		return copyResource(v.(*store.Resource)), nil
	}
	t.missed = true
	r, err := t.Tx.Get(ctx, arn)
	switch {
	case err == nil:
		t.c.put(key, t.gen, copyResource(r))
	case ctx.Err() == nil && isNotFound(err):
		t.c.put(key, t.gen, err)
	}
	return r, err
}

func (t *viewTx) List(ctx context.Context, q store.ListQuery) ([]*store.Resource, error) {
	key := fmt.Sprintf("list\x00%s\x00%s\x00%s\x00%s", q.Kind, strings.Join(q.Accounts, ","), q.Name, q.Version)
	if v, ok := t.c.get(key, t.gen); ok {
		cached := v.([]*store.Resource)
		out := make([]*store.Resource, len(cached))
		for i, r := range cached {
			out[i] = copyResource(r)
		}
		return out, nil
	}
	t.missed = true
	rs, err := t.Tx.List(ctx, q)
	if err != nil {
		return nil, err
	}
	keep := make([]*store.Resource, len(rs))
	for i, r := range rs {
		keep[i] = copyResource(r)
	}
	t.c.put(key, t.gen, keep)
	return rs, nil
}

func (t *viewTx) RefsTo(ctx context.Context, to string) ([]string, error) {
	key := "refs\x00" + to
	if v, ok := t.c.get(key, t.gen); ok {
		return slices.Clone(v.([]string)), nil
	}
	t.missed = true
	refs, err := t.Tx.RefsTo(ctx, to)
	if err != nil {
		return nil, err
	}
	t.c.put(key, t.gen, slices.Clone(refs))
	return refs, nil
}

func (t *viewTx) MaxBuild(ctx context.Context, kind, account, name, version string) (int, error) {
	key := "max\x00" + kind + "\x00" + account + "\x00" + name + "\x00" + version
	if v, ok := t.c.get(key, t.gen); ok {
		return v.(int), nil
	}
	t.missed = true
	n, err := t.Tx.MaxBuild(ctx, kind, account, name, version)
	if err != nil {
		return 0, err
	}
	t.c.put(key, t.gen, n)
	return n, nil
}

// GetIdempotency is not cached.
func (t *viewTx) GetIdempotency(ctx context.Context, account, operation, token string) (*store.IdempotencyRecord, error) {
	t.missed = true
	return t.Tx.GetIdempotency(ctx, account, operation, token)
}

// missTx answers nothing: it stands in for the transaction while View
// tries the cache alone. Every call fails with errMiss, and the viewTx
// using it records the miss so View re-runs fn on the real store.
type missTx struct{}

var errMiss = errors.New("memo: not cached")

func (missTx) Get(context.Context, string) (*store.Resource, error) { return nil, errMiss }
func (missTx) Insert(context.Context, *store.Resource) error        { return errMiss }
func (missTx) Replace(context.Context, *store.Resource) error       { return errMiss }
func (missTx) Delete(context.Context, string) error                 { return errMiss }
func (missTx) List(context.Context, store.ListQuery) ([]*store.Resource, error) {
	return nil, errMiss
}
func (missTx) MaxBuild(context.Context, string, string, string, string) (int, error) {
	return 0, errMiss
}
func (missTx) SetRefs(context.Context, string, []string) error  { return errMiss }
func (missTx) RefsTo(context.Context, string) ([]string, error) { return nil, errMiss }
func (missTx) GetIdempotency(context.Context, string, string, string) (*store.IdempotencyRecord, error) {
	return nil, errMiss
}
func (missTx) PutIdempotency(context.Context, *store.IdempotencyRecord) error { return errMiss }

// Writes inside a View are refused by the wrapped store; in the cache-only
// pass they count as misses so that the real pass reports the refusal.
func (t *viewTx) Insert(ctx context.Context, r *store.Resource) error {
	t.missed = true
	return t.Tx.Insert(ctx, r)
}

func (t *viewTx) Replace(ctx context.Context, r *store.Resource) error {
	t.missed = true
	return t.Tx.Replace(ctx, r)
}

func (t *viewTx) Delete(ctx context.Context, arn string) error {
	t.missed = true
	return t.Tx.Delete(ctx, arn)
}

func (t *viewTx) SetRefs(ctx context.Context, from string, to []string) error {
	t.missed = true
	return t.Tx.SetRefs(ctx, from, to)
}

func (t *viewTx) PutIdempotency(ctx context.Context, rec *store.IdempotencyRecord) error {
	t.missed = true
	return t.Tx.PutIdempotency(ctx, rec)
}
