package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/goldsmith/goldsmith/internal/store"
)

// tx implements store.Tx on one database/sql transaction.
type tx struct {
	tx    *sql.Tx
	db    *sql.DB // the pool tx belongs to
	cache *stmtCache
	// misses are the queries that ran unprepared, cached after the tx.
	misses []string
}

var _ store.Tx = (*tx)(nil)

const resourceColumns = `arn, kind, account, name, version, build, created, updated, body, tags, policy`

// Get returns the resource with the ARN, or store.ErrNotFound.
func (t *tx) Get(ctx context.Context, arn string) (*store.Resource, error) {
	row := t.queryRowContext(ctx, `SELECT `+resourceColumns+` FROM resources WHERE arn = ?`, arn)
	r, err := scanResource(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get %s: %w", arn, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get %s: %w", arn, withCtx(ctx, err))
	}
	return r, nil
}

// Insert stores a new resource, or returns store.ErrExists. The
// transaction stays usable after ErrExists.
func (t *tx) Insert(ctx context.Context, r *store.Resource) error {
	major, minor, patch, err := store.VersionNodes(r.Version)
	if err != nil {
		return fmt.Errorf("sqlite: insert %s: %w", r.ARN, err)
	}
	tags, err := store.EncodeTags(r.Tags)
	if err != nil {
		return fmt.Errorf("sqlite: insert %s: %w", r.ARN, err)
	}
	res, err := t.execContext(ctx, `
INSERT INTO resources (arn, kind, account, name, version, major, minor, patch, build, created, updated, body, tags, policy)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (arn) DO NOTHING`,
		r.ARN, r.Kind, r.Account, r.Name, r.Version, major, minor, patch, r.Build,
		r.Created.UnixMilli(), r.Updated.UnixMilli(), store.NonNil(r.Body), tags, r.Policy)
	if err != nil {
		return fmt.Errorf("sqlite: insert %s: %w", r.ARN, withCtx(ctx, err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: insert %s: %w", r.ARN, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: insert %s: %w", r.ARN, store.ErrExists)
	}
	return nil
}

// Replace overwrites Body, Updated, Tags and Policy, or returns
// store.ErrNotFound.
func (t *tx) Replace(ctx context.Context, r *store.Resource) error {
	tags, err := store.EncodeTags(r.Tags)
	if err != nil {
		return fmt.Errorf("sqlite: replace %s: %w", r.ARN, err)
	}
	res, err := t.execContext(ctx,
		`UPDATE resources SET body = ?, updated = ?, tags = ?, policy = ? WHERE arn = ?`,
		store.NonNil(r.Body), r.Updated.UnixMilli(), tags, r.Policy, r.ARN)
	if err != nil {
		return fmt.Errorf("sqlite: replace %s: %w", r.ARN, withCtx(ctx, err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: replace %s: %w", r.ARN, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: replace %s: %w", r.ARN, store.ErrNotFound)
	}
	return nil
}

// Delete removes the resource and its outgoing references, or returns
// store.ErrNotFound.
func (t *tx) Delete(ctx context.Context, arn string) error {
	res, err := t.execContext(ctx, `DELETE FROM resources WHERE arn = ?`, arn)
	if err != nil {
		return fmt.Errorf("sqlite: delete %s: %w", arn, withCtx(ctx, err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: delete %s: %w", arn, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: delete %s: %w", arn, store.ErrNotFound)
	}
	if _, err := t.execContext(ctx, `DELETE FROM refs WHERE from_arn = ?`, arn); err != nil {
		return fmt.Errorf("sqlite: delete %s: refs: %w", arn, withCtx(ctx, err))
	}
	return nil
}

// List returns the resources matching q, ordered by account, name, version
// (numerically), build and ARN.
func (t *tx) List(ctx context.Context, q store.ListQuery) ([]*store.Resource, error) {
	if q.Kind == "" {
		return nil, errors.New("sqlite: list: kind is required")
	}
	var sb strings.Builder
	args := []any{q.Kind}
	sb.WriteString(`SELECT ` + resourceColumns + ` FROM resources WHERE kind = ?`)
	if len(q.Accounts) > 0 {
		sb.WriteString(` AND account IN (?` + strings.Repeat(`, ?`, len(q.Accounts)-1) + `)`)
		for _, a := range q.Accounts {
			args = append(args, a)
		}
	}
	if q.Name != "" {
		sb.WriteString(` AND name = ?`)
		args = append(args, q.Name)
	}
	if q.Version != "" {
		sb.WriteString(` AND version = ?`)
		args = append(args, q.Version)
	}
	sb.WriteString(` ORDER BY account, name, major, minor, patch, build, arn`)
	rows, err := t.queryContext(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", q.Kind, withCtx(ctx, err))
	}
	defer rows.Close()
	var out []*store.Resource
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list %s: %w", q.Kind, withCtx(ctx, err))
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", q.Kind, withCtx(ctx, err))
	}
	return out, nil
}

// MaxBuild returns the highest build number stored for the version, 0 if
// there is none.
func (t *tx) MaxBuild(ctx context.Context, kind, account, name, version string) (int, error) {
	var n int
	err := t.queryRowContext(ctx, `
SELECT COALESCE(MAX(build), 0) FROM resources
WHERE kind = ? AND account = ? AND name = ? AND version = ?`,
		kind, account, name, version).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: max build %s %s/%s/%s: %w", kind, account, name, version, withCtx(ctx, err))
	}
	return n, nil
}

// SetRefs replaces the set of ARNs that `from` references.
func (t *tx) SetRefs(ctx context.Context, from string, to []string) error {
	if _, err := t.execContext(ctx, `DELETE FROM refs WHERE from_arn = ?`, from); err != nil {
		return fmt.Errorf("sqlite: set refs %s: %w", from, withCtx(ctx, err))
	}
	for _, a := range to {
		if _, err := t.execContext(ctx,
			`INSERT INTO refs (from_arn, to_arn) VALUES (?, ?) ON CONFLICT DO NOTHING`, from, a); err != nil {
			return fmt.Errorf("sqlite: set refs %s -> %s: %w", from, a, withCtx(ctx, err))
		}
	}
	return nil
}

// RefsTo returns, sorted, the ARNs that reference `to`.
func (t *tx) RefsTo(ctx context.Context, to string) ([]string, error) {
	rows, err := t.queryContext(ctx, `SELECT from_arn FROM refs WHERE to_arn = ? ORDER BY from_arn`, to)
	if err != nil {
		return nil, fmt.Errorf("sqlite: refs to %s: %w", to, withCtx(ctx, err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("sqlite: refs to %s: %w", to, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: refs to %s: %w", to, withCtx(ctx, err))
	}
	return out, nil
}

// GetIdempotency returns the record for the key, or store.ErrNotFound.
func (t *tx) GetIdempotency(ctx context.Context, account, operation, token string) (*store.IdempotencyRecord, error) {
	rec := &store.IdempotencyRecord{Account: account, Operation: operation, Token: token}
	var created int64
	err := t.queryRowContext(ctx, `
SELECT request_hash, response, created FROM idempotency
WHERE account = ? AND operation = ? AND token = ?`, account, operation, token).
		Scan(&rec.RequestHash, &rec.Response, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get idempotency %s/%s/%s: %w", account, operation, token, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get idempotency %s/%s/%s: %w", account, operation, token, withCtx(ctx, err))
	}
	rec.Created = fromMillis(created)
	return rec, nil
}

// PutIdempotency stores a record, or returns store.ErrExists. The
// transaction stays usable after ErrExists.
func (t *tx) PutIdempotency(ctx context.Context, rec *store.IdempotencyRecord) error {
	res, err := t.execContext(ctx, `
INSERT INTO idempotency (account, operation, token, request_hash, response, created)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING`,
		rec.Account, rec.Operation, rec.Token, rec.RequestHash, store.NonNil(rec.Response), rec.Created.UnixMilli())
	if err != nil {
		return fmt.Errorf("sqlite: put idempotency %s/%s/%s: %w", rec.Account, rec.Operation, rec.Token, withCtx(ctx, err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: put idempotency %s/%s/%s: %w", rec.Account, rec.Operation, rec.Token, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: put idempotency %s/%s/%s: %w", rec.Account, rec.Operation, rec.Token, store.ErrExists)
	}
	return nil
}

type scanner interface {
	Scan(dest ...any) error
}

func scanResource(sc scanner) (*store.Resource, error) {
	var (
		res              = &store.Resource{}
		created, updated int64
		tags             sql.NullString
	)
	if err := sc.Scan(&res.ARN, &res.Kind, &res.Account, &res.Name, &res.Version, &res.Build,
		&created, &updated, &res.Body, &tags, &res.Policy); err != nil {
		return nil, err
	}
	res.Created = fromMillis(created)
	res.Updated = fromMillis(updated)
	if tags.Valid && tags.String != "" {
		if err := json.Unmarshal([]byte(tags.String), &res.Tags); err != nil {
			return nil, fmt.Errorf("decode tags of %s: %w", res.ARN, err)
		}
	}
	if res.Body == nil {
		res.Body = []byte{}
	}
	return res, nil
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
