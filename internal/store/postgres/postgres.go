// Package postgres implements store.Store on PostgreSQL with a pgx pool.
//
// Concurrency model: Update runs at READ COMMITTED and starts by taking a
// transaction-scoped advisory lock (pg_advisory_xact_lock) shared by every
// goldsmith server on the database, so writers are serialized. Each
// statement in a READ COMMITTED transaction sees every commit made before
// it, so read-modify-write sequences such as MaxBuild followed by Insert are
// safe, and no serialization failure can reach the caller: there is nothing
// to retry. Within one process writers also queue on an in-memory semaphore
// before taking a pool connection, so waiting writers never hold the pool's
// connections away from View.
//
// View runs in a READ ONLY, REPEATABLE READ transaction: one consistent
// snapshot, never blocked by writers.
//
// Text columns use the "C" collation so List orders bytewise, exactly as the
// sqlite implementation does, whatever the database's default locale.
// Times are stored as timestamptz truncated to milliseconds.
//
// fn given to Update must not call Update on the same Store (it would wait
// for itself until its context ends); calling View from it is fine.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goldsmith/goldsmith/internal/store"
)

// Advisory lock keys (the first 6 bytes spell "goldsm").
const (
	migrateLockKey int64 = 0x676f6c64736d0001
	writeLockKey   int64 = 0x676f6c64736d0002
)

// rollbackTimeout bounds a rollback issued after the caller's context ended.
const rollbackTimeout = 5 * time.Second

// Store is a PostgreSQL-backed store.Store. It is safe for concurrent use.
type Store struct {
	pool     *pgxpool.Pool
	writeSem chan struct{} // one Update at a time per process
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a keyword/value
// connection string) and applies pending schema migrations. Several servers
// may open the same database at once: migrations are serialized by an
// advisory lock and each is applied exactly once.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect %s: %w", cfg.ConnConfig.Host, withCtx(ctx, err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port,
			cfg.ConnConfig.Database, withCtx(ctx, err))
	}
	s := &Store{pool: pool, writeSem: make(chan struct{}, 1)}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the connection pool, waiting for connections in use to be
// released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// View runs fn in a read-only REPEATABLE READ transaction.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	pgTx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", withCtx(ctx, err))
	}
	defer rollback(ctx, pgTx) // a read-only transaction has nothing to commit
	return fn(&tx{tx: pgTx})
}

// Update runs fn in a read-write transaction, serialized with every other
// Update on the database (see the package documentation).
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	select {
	case s.writeSem <- struct{}{}:
		defer func() { <-s.writeSem }()
	case <-ctx.Done():
		return fmt.Errorf("postgres: wait for writer: %w", ctx.Err())
	}
	pgTx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadWrite})
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", withCtx(ctx, err))
	}
	committed := false
	defer func() {
		if !committed { // fn failed or panicked (the panic goes on)
			rollback(ctx, pgTx)
		}
	}()
	if _, err := pgTx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, writeLockKey); err != nil {
		return fmt.Errorf("postgres: take write lock: %w", withCtx(ctx, err))
	}
	if err := fn(&tx{tx: pgTx}); err != nil {
		return err
	}
	if err := pgTx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", withCtx(ctx, err))
	}
	committed = true
	return nil
}

// rollback ends pgTx, even when ctx is already cancelled.
func rollback(ctx context.Context, pgTx pgx.Tx) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	_ = pgTx.Rollback(rctx) // on failure pgx closes the connection, which rolls back
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
