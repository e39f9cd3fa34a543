// Package sqlite implements store.Store on an SQLite database file, using the
// pure-Go modernc.org/sqlite driver (no cgo).
//
// The database runs in WAL mode with foreign keys on and a busy timeout. A
// Store holds two connection pools on the same file:
//
//   - a write pool of exactly one connection whose transactions start with
//     BEGIN IMMEDIATE, so writers of this process queue in Go (honouring
//     their context) instead of failing with SQLITE_BUSY, and writers of other
//     processes wait for the file lock under busy_timeout;
//   - a read pool of query_only connections for View, which in WAL mode never
//     blocks on, nor is blocked by, the writer, and sees one consistent
//     snapshot for the whole transaction.
//
// synchronous=FULL makes every committed Update durable, also across a power
// loss. Times are stored as Unix milliseconds, so Created and Updated keep
// millisecond precision and come back in UTC.
//
// fn given to Update must not call Update on the same Store (it would wait
// for itself until its context ends); calling View from it is fine.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"

	"github.com/goldsmith/goldsmith/internal/store"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// busyTimeoutMillis bounds how long a connection waits for a lock held by
// another connection (another process, or the read pool during a checkpoint).
const busyTimeoutMillis = 10000

// Store is an SQLite-backed store.Store. It is safe for concurrent use.
type Store struct {
	path string
	w    *sql.DB // single connection, BEGIN IMMEDIATE
	r    *sql.DB // query_only connections for View

	cache stmtCache
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at path and applies
// any pending schema migrations. Opening the same file again, or from
// several processes at once, is safe: each migration is applied exactly once.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sqlite: open %q: path must be non-empty and must not contain '?'", path)
	}
	common := url.Values{}
	common.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "synchronous(FULL)")
	common.Add("_journal_mode", "WAL")

	wq := cloneValues(common)
	wq.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	s := &Store{path: path, w: w}
	// The write connection is opened (and WAL mode set) before any reader,
	// and the schema exists before View can run.
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}

	rq := cloneValues(common)
	rq.Set("_query_only", "1")
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, withCtx(ctx, err))
	}
	s.r = r
	return s, nil
}

func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// Close closes both connection pools.
func (s *Store) Close() error {
	s.cache.close()
	var errs []error
	if s.r != nil {
		if err := s.r.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sqlite: close %s: %w", s.path, err))
		}
	}
	if err := s.w.Close(); err != nil {
		errs = append(errs, fmt.Errorf("sqlite: close %s: %w", s.path, err))
	}
	return errors.Join(errs...)
}

// View runs fn in a read-only transaction on one consistent snapshot.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.run(ctx, s.r, &sql.TxOptions{ReadOnly: true}, fn)
}

// Update runs fn in a read-write transaction. Writers are serialized: at most
// one Update runs at a time per Store, and BEGIN IMMEDIATE takes the file's
// write lock up front, so reads inside fn see every earlier commit and
// read-modify-write sequences (such as MaxBuild followed by Insert) are safe.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.run(ctx, s.w, nil, fn)
}

func (s *Store) run(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(store.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	sqlTx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", withCtx(ctx, err))
	}
	done := false
	defer func() {
		if done {
			return
		}
		// fn panicked: roll back and re-raise.
		_ = sqlTx.Rollback()
	}()
	t := &tx{tx: sqlTx, db: db, cache: &s.cache}
	if err := fn(t); err != nil {
		done = true
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("sqlite: rollback: %w", rbErr))
		}
		return err
	}
	done = true
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", withCtx(ctx, err))
	}
	// The connection is free again: prepare what this transaction missed.
	if len(t.misses) > 0 {
		s.cache.prepare(context.WithoutCancel(ctx), db, t.misses)
	}
	return nil
}

// withCtx makes sure an error caused by a cancelled or expired context
// matches ctx.Err() with errors.Is, whatever the driver reported.
func withCtx(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	cerr := ctx.Err()
	if cerr == nil || errors.Is(err, cerr) {
		return err
	}
	return fmt.Errorf("%w (%w)", cerr, err)
}
