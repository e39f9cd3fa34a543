package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goldsmith/goldsmith/internal/store"
)

// tx implements store.Tx on one pgx transaction. Inserts use ON CONFLICT DO
// NOTHING rather than catching unique violations, so a transaction stays
// usable after ErrExists (a failed statement would abort it in PostgreSQL).
type tx struct {
	tx pgx.Tx
}

var _ store.Tx = (*tx)(nil)

const resourceColumns = `arn, kind, account, name, version, build, created, updated, body, tags, policy`

// Get returns the resource with the ARN, or store.ErrNotFound.
func (t *tx) Get(ctx context.Context, arn string) (*store.Resource, error) {
	r, err := scanResource(t.tx.QueryRow(ctx, `SELECT `+resourceColumns+` FROM resources WHERE arn = $1`, arn))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: get %s: %w", arn, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get %s: %w", arn, withCtx(ctx, err))
	}
	return r, nil
}

// Insert stores a new resource, or returns store.ErrExists.
func (t *tx) Insert(ctx context.Context, r *store.Resource) error {
	major, minor, patch, err := store.VersionNodes(r.Version)
	if err != nil {
		return fmt.Errorf("postgres: insert %s: %w", r.ARN, err)
	}
	tags, err := store.EncodeTags(r.Tags)
	if err != nil {
		return fmt.Errorf("postgres: insert %s: %w", r.ARN, err)
	}
	tag, err := t.tx.Exec(ctx, `
INSERT INTO resources (arn, kind, account, name, version, major, minor, patch, build, created, updated, body, tags, policy)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (arn) DO NOTHING`,
		r.ARN, r.Kind, r.Account, r.Name, r.Version, major, minor, patch, int64(r.Build),
		toMillis(r.Created), toMillis(r.Updated), store.NonNil(r.Body), tags, r.Policy)
	if err != nil {
		return fmt.Errorf("postgres: insert %s: %w", r.ARN, withCtx(ctx, err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: insert %s: %w", r.ARN, store.ErrExists)
	}
	return nil
}

// Replace overwrites Body, Updated, Tags and Policy, or returns
// store.ErrNotFound.
func (t *tx) Replace(ctx context.Context, r *store.Resource) error {
	tags, err := store.EncodeTags(r.Tags)
	if err != nil {
		return fmt.Errorf("postgres: replace %s: %w", r.ARN, err)
	}
	tag, err := t.tx.Exec(ctx,
		`UPDATE resources SET body = $1, updated = $2, tags = $3, policy = $4 WHERE arn = $5`,
		store.NonNil(r.Body), toMillis(r.Updated), tags, r.Policy, r.ARN)
	if err != nil {
		return fmt.Errorf("postgres: replace %s: %w", r.ARN, withCtx(ctx, err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: replace %s: %w", r.ARN, store.ErrNotFound)
	}
	return nil
}

// Delete removes the resource and its outgoing references, or returns
// store.ErrNotFound.
func (t *tx) Delete(ctx context.Context, arn string) error {
	tag, err := t.tx.Exec(ctx, `DELETE FROM resources WHERE arn = $1`, arn)
	if err != nil {
		return fmt.Errorf("postgres: delete %s: %w", arn, withCtx(ctx, err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete %s: %w", arn, store.ErrNotFound)
	}
	if _, err := t.tx.Exec(ctx, `DELETE FROM refs WHERE from_arn = $1`, arn); err != nil {
		return fmt.Errorf("postgres: delete %s: refs: %w", arn, withCtx(ctx, err))
	}
	return nil
}

// List returns the resources matching q, ordered by account, name, version
// (numerically), build and ARN.
func (t *tx) List(ctx context.Context, q store.ListQuery) ([]*store.Resource, error) {
	if q.Kind == "" {
		return nil, errors.New("postgres: list: kind is required")
	}
	var sb strings.Builder
	args := []any{q.Kind}
	sb.WriteString(`SELECT ` + resourceColumns + ` FROM resources WHERE kind = $1`)
	if len(q.Accounts) > 0 {
		args = append(args, q.Accounts)
		fmt.Fprintf(&sb, ` AND account = ANY($%d)`, len(args))
	}
	if q.Name != "" {
		args = append(args, q.Name)
		fmt.Fprintf(&sb, ` AND name = $%d`, len(args))
	}
	if q.Version != "" {
		args = append(args, q.Version)
		fmt.Fprintf(&sb, ` AND version = $%d`, len(args))
	}
	sb.WriteString(` ORDER BY account, name, major, minor, patch, build, arn`)
	rows, err := t.tx.Query(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list %s: %w", q.Kind, withCtx(ctx, err))
	}
	defer rows.Close()
	var out []*store.Resource
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list %s: %w", q.Kind, withCtx(ctx, err))
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list %s: %w", q.Kind, withCtx(ctx, err))
	}
	return out, nil
}

// MaxBuild returns the highest build number stored for the version, 0 if
// there is none.
func (t *tx) MaxBuild(ctx context.Context, kind, account, name, version string) (int, error) {
	var n int64
	err := t.tx.QueryRow(ctx, `
SELECT COALESCE(MAX(build), 0) FROM resources
WHERE kind = $1 AND account = $2 AND name = $3 AND version = $4`,
		kind, account, name, version).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: max build %s %s/%s/%s: %w", kind, account, name, version, withCtx(ctx, err))
	}
	return int(n), nil
}

// SetRefs replaces the set of ARNs that `from` references.
func (t *tx) SetRefs(ctx context.Context, from string, to []string) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM refs WHERE from_arn = $1`, from); err != nil {
		return fmt.Errorf("postgres: set refs %s: %w", from, withCtx(ctx, err))
	}
	if len(to) == 0 {
		return nil
	}
	if _, err := t.tx.Exec(ctx, `
INSERT INTO refs (from_arn, to_arn) SELECT $1, unnest($2::text[])
ON CONFLICT DO NOTHING`, from, to); err != nil {
		return fmt.Errorf("postgres: set refs %s: %w", from, withCtx(ctx, err))
	}
	return nil
}

// RefsTo returns, sorted, the ARNs that reference `to`.
func (t *tx) RefsTo(ctx context.Context, to string) ([]string, error) {
	rows, err := t.tx.Query(ctx, `SELECT from_arn FROM refs WHERE to_arn = $1 ORDER BY from_arn`, to)
	if err != nil {
		return nil, fmt.Errorf("postgres: refs to %s: %w", to, withCtx(ctx, err))
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: refs to %s: %w", to, withCtx(ctx, err))
	}
	return out, nil
}

// GetIdempotency returns the record for the key, or store.ErrNotFound.
func (t *tx) GetIdempotency(ctx context.Context, account, operation, token string) (*store.IdempotencyRecord, error) {
	rec := &store.IdempotencyRecord{Account: account, Operation: operation, Token: token}
	err := t.tx.QueryRow(ctx, `
SELECT request_hash, response, created FROM idempotency
WHERE account = $1 AND operation = $2 AND token = $3`, account, operation, token).
		Scan(&rec.RequestHash, &rec.Response, &rec.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: get idempotency %s/%s/%s: %w", account, operation, token, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get idempotency %s/%s/%s: %w", account, operation, token, withCtx(ctx, err))
	}
	rec.Created = rec.Created.UTC()
	return rec, nil
}

// PutIdempotency stores a record, or returns store.ErrExists.
func (t *tx) PutIdempotency(ctx context.Context, rec *store.IdempotencyRecord) error {
	tag, err := t.tx.Exec(ctx, `
INSERT INTO idempotency (account, operation, token, request_hash, response, created)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING`,
		rec.Account, rec.Operation, rec.Token, rec.RequestHash, store.NonNil(rec.Response), toMillis(rec.Created))
	if err != nil {
		return fmt.Errorf("postgres: put idempotency %s/%s/%s: %w", rec.Account, rec.Operation, rec.Token, withCtx(ctx, err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: put idempotency %s/%s/%s: %w", rec.Account, rec.Operation, rec.Token, store.ErrExists)
	}
	return nil
}

func scanResource(row pgx.Row) (*store.Resource, error) {
	var (
		r     = &store.Resource{}
		build int64
		tags  []byte
	)
	if err := row.Scan(&r.ARN, &r.Kind, &r.Account, &r.Name, &r.Version, &build,
		&r.Created, &r.Updated, &r.Body, &tags, &r.Policy); err != nil {
		return nil, err
	}
	r.Build = int(build)
	r.Created = r.Created.UTC()
	r.Updated = r.Updated.UTC()
	if len(tags) > 0 {
		if err := json.Unmarshal(tags, &r.Tags); err != nil {
			return nil, fmt.Errorf("decode tags of %s: %w", r.ARN, err)
		}
	}
	if r.Body == nil {
		r.Body = []byte{}
	}
	return r, nil
}

// toMillis truncates t to the millisecond, the precision every store keeps.
func toMillis(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }
