package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrations are the schema changes, applied in order. Entry i is version
// i+1 in schema_migrations. Never edit or reorder an entry once released;
// append a new one instead.
var migrations = []string{
	// 1: resources, references between them, idempotency records.
	`
CREATE TABLE resources (
	arn     text COLLATE "C" NOT NULL PRIMARY KEY,
	kind    text COLLATE "C" NOT NULL,
	account text COLLATE "C" NOT NULL,
	name    text COLLATE "C" NOT NULL,
	version text COLLATE "C" NOT NULL,
	major   bigint NOT NULL,
	minor   bigint NOT NULL,
	patch   bigint NOT NULL,
	build   bigint NOT NULL,
	created timestamptz NOT NULL,
	updated timestamptz NOT NULL,
	body    bytea NOT NULL,
	tags    jsonb,            -- NULL when there are none
	policy  text NOT NULL
);
CREATE INDEX resources_order ON resources (kind, account, name, major, minor, patch, build, arn);
CREATE INDEX resources_version ON resources (kind, account, name, version, build);

CREATE TABLE refs (
	from_arn text COLLATE "C" NOT NULL,
	to_arn   text COLLATE "C" NOT NULL,
	PRIMARY KEY (from_arn, to_arn)
);
CREATE INDEX refs_to ON refs (to_arn, from_arn);

CREATE TABLE idempotency (
	account      text COLLATE "C" NOT NULL,
	operation    text COLLATE "C" NOT NULL,
	token        text COLLATE "C" NOT NULL,
	request_hash text NOT NULL,
	response     bytea NOT NULL,
	created      timestamptz NOT NULL,
	PRIMARY KEY (account, operation, token)
);
`,
}

const createMigrationsTable = `
CREATE TABLE IF NOT EXISTS schema_migrations (
	version integer NOT NULL PRIMARY KEY,
	applied timestamptz NOT NULL DEFAULT now()
)`

// migrate applies every pending migration, each in its own transaction
// holding an advisory lock, so servers starting at the same time apply each
// one exactly once.
func (s *Store) migrate(ctx context.Context) error {
	for i, m := range migrations {
		if err := s.applyMigration(ctx, i+1, m); err != nil {
			return err
		}
	}
	var newest int
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("postgres: migrate: read schema version: %w", withCtx(ctx, err))
	}
	if newest > len(migrations) {
		return fmt.Errorf("postgres: migrate: database schema version %d is newer than this binary supports (%d)",
			newest, len(migrations))
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, version int, stmt string) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("postgres: migrate to %d: begin: %w", version, withCtx(ctx, err))
	}
	defer rollback(ctx, tx) // no-op after Commit
	if err := applyMigrationTx(ctx, tx, version, stmt); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate to %d: commit: %w", version, withCtx(ctx, err))
	}
	return nil
}

func applyMigrationTx(ctx context.Context, tx pgx.Tx, version int, stmt string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
		return fmt.Errorf("postgres: migrate to %d: lock: %w", version, withCtx(ctx, err))
	}
	if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("postgres: migrate to %d: %w", version, withCtx(ctx, err))
	}
	var applied bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).
		Scan(&applied); err != nil {
		return fmt.Errorf("postgres: migrate to %d: %w", version, withCtx(ctx, err))
	}
	if applied {
		return nil
	}
	if _, err := tx.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("postgres: migrate to %d: %w", version, withCtx(ctx, err))
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version); err != nil {
		return fmt.Errorf("postgres: migrate to %d: record: %w", version, withCtx(ctx, err))
	}
	return nil
}
