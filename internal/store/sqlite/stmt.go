package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps one prepared statement per (pool, SQL text), so queries
// are parsed by SQLite once per connection instead of on every call;
// database/sql re-uses a statement's per-connection preparation inside
// transactions (Tx.StmtContext). A statement is prepared on the pool only
// after the transaction that first needed it has ended: preparing needs a
// free connection, and the write pool has exactly one, which the
// transaction itself holds.
type stmtCache struct {
	mu    sync.Mutex
	stmts map[stmtKey]*sql.Stmt
}

type stmtKey struct {
	db    *sql.DB
	query string
}

func (c *stmtCache) lookup(db *sql.DB, query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmts[stmtKey{db, query}]
}

// prepare caches the statements a finished transaction missed. Failures
// only mean the query stays uncached.
func (c *stmtCache) prepare(ctx context.Context, db *sql.DB, queries []string) {
	for _, q := range queries {
		if c.lookup(db, q) != nil {
			continue
		}
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if c.stmts == nil {
			c.stmts = map[stmtKey]*sql.Stmt{}
		}
		if _, dup := c.stmts[stmtKey{db, q}]; dup {
			_ = st.Close()
		} else {
			c.stmts[stmtKey{db, q}] = st
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, st := range c.stmts {
		_ = st.Close()
		delete(c.stmts, k)
	}
}

func (t *tx) queryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.cache.lookup(t.db, query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	t.misses = append(t.misses, query)
	return t.tx.QueryContext(ctx, query, args...)
}

func (t *tx) execContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.cache.lookup(t.db, query); st != nil {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	t.misses = append(t.misses, query)
	return t.tx.ExecContext(ctx, query, args...)
}

// rowScanner is what scanResource and Scan need of a row.
type cachedRow struct {
	rows *sql.Rows
	err  error
}

func (t *tx) queryRowContext(ctx context.Context, query string, args ...any) *cachedRow {
	rows, err := t.queryContext(ctx, query, args...)
	return &cachedRow{rows: rows, err: err}
}

// Scan behaves like (*sql.Row).Scan.
func (r *cachedRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	return r.rows.Close()
}
