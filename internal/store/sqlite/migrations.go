package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations are the schema changes, applied in order. Entry i is version
// i+1 in schema_migrations. Never edit or reorder an entry once released;
// append a new one instead.
var migrations = []string{
	// 1: resources, references between them, idempotency records.
	`
CREATE TABLE resources (
	arn     TEXT    NOT NULL PRIMARY KEY,
	kind    TEXT    NOT NULL,
	account TEXT    NOT NULL,
	name    TEXT    NOT NULL,
	version TEXT    NOT NULL,
	major   INTEGER NOT NULL,
	minor   INTEGER NOT NULL,
	patch   INTEGER NOT NULL,
	build   INTEGER NOT NULL,
	created INTEGER NOT NULL, -- Unix milliseconds
	updated INTEGER NOT NULL, -- Unix milliseconds
	body    BLOB    NOT NULL,
	tags    TEXT,             -- JSON object, NULL when there are none
	policy  TEXT    NOT NULL
) STRICT;
CREATE INDEX resources_order ON resources (kind, account, name, major, minor, patch, build, arn);
CREATE INDEX resources_version ON resources (kind, account, name, version, build);

CREATE TABLE refs (
	from_arn TEXT NOT NULL,
	to_arn   TEXT NOT NULL,
	PRIMARY KEY (from_arn, to_arn)
) STRICT, WITHOUT ROWID;
CREATE INDEX refs_to ON refs (to_arn, from_arn);

CREATE TABLE idempotency (
	account      TEXT    NOT NULL,
	operation    TEXT    NOT NULL,
	token        TEXT    NOT NULL,
	request_hash TEXT    NOT NULL,
	response     BLOB    NOT NULL,
	created      INTEGER NOT NULL, -- Unix milliseconds
	PRIMARY KEY (account, operation, token)
) STRICT, WITHOUT ROWID;
`,
}

const createMigrationsTable = `
CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER NOT NULL PRIMARY KEY,
	applied INTEGER NOT NULL -- Unix milliseconds
) STRICT`

// migrate applies every pending migration, each in its own IMMEDIATE
// transaction, so concurrent openers (even in other processes) apply each
// one exactly once.
func (s *Store) migrate(ctx context.Context) error {
	for i, m := range migrations {
		if err := s.applyMigration(ctx, i+1, m); err != nil {
			return err
		}
	}
	var newest sql.NullInt64
	if err := s.w.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("sqlite: migrate %s: read schema version: %w", s.path, withCtx(ctx, err))
	}
	if newest.Int64 > int64(len(migrations)) {
		return fmt.Errorf("sqlite: migrate %s: database schema version %d is newer than this binary supports (%d)",
			s.path, newest.Int64, len(migrations))
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, version int, stmt string) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migrate %s to %d: begin: %w", s.path, version, withCtx(ctx, err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("sqlite: migrate %s to %d: %w", s.path, version, withCtx(ctx, err))
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: migrate %s to %d: %w", s.path, version, withCtx(ctx, err))
	}
	if n == 0 {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("sqlite: migrate %s to %d: %w", s.path, version, withCtx(ctx, err))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`,
			version, time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("sqlite: migrate %s to %d: record: %w", s.path, version, withCtx(ctx, err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migrate %s to %d: commit: %w", s.path, version, withCtx(ctx, err))
	}
	return nil
}
