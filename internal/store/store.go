// Package store persists goldsmith's resources behind one interface.
//
// The service layer owns the meaning of every resource: the store keeps an
// opaque JSON body per ARN plus the few columns it needs to index, order and
// relate resources (kind, owner account, name, semantic version, build
// number). Every write runs in one transaction, so a failed or interrupted
// call never leaves a half-written resource behind.
//
// Two implementations exist, both checked by the conformance suite in
// package storetest: sqlite (the embedded default) and postgres.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors returned by every implementation. Callers compare with errors.Is.
var (
	// ErrNotFound means no row exists for the key.
	ErrNotFound = errors.New("store: not found")
	// ErrExists means a row with the same key already exists.
	ErrExists = errors.New("store: already exists")
)

// Resource is one stored Image Builder resource.
type Resource struct {
	// ARN is the unique key: the build-version ARN for components, images
	// and workflows, the version ARN for recipes, the plain ARN otherwise.
	ARN string
	// Kind is the ARN resource type: "component", "image", "image-recipe",
	// "container-recipe", "infrastructure-configuration",
	// "distribution-configuration", "image-pipeline", "lifecycle-policy",
	// "workflow/build", "workflow/test", "workflow/distribution".
	Kind string
	// Account is the owning 12-digit account ID, or "aws" for managed ones.
	Account string
	// Name is the ARN name segment ([a-z0-9-_]+).
	Name string
	// Version is "major.minor.patch", or "" for unversioned kinds.
	Version string
	// Build is the service-assigned build number, 0 where there is none.
	Build int
	// Created and Updated are set by the caller (UTC, millisecond precision
	// is kept by every implementation).
	Created time.Time
	Updated time.Time
	// Body is the service layer's JSON document for the resource.
	Body []byte
	// Tags are the resource's tags (nil or empty: none).
	Tags map[string]string
	// Policy is the resource policy JSON document, "" when none is set.
	Policy string
}

// ListQuery selects resources of one kind. Empty fields match anything.
// Results are ordered by account, name, then version numerically
// (major, minor, patch), then build, then ARN.
type ListQuery struct {
	Kind     string   // required
	Accounts []string // owners to include; empty = every owner
	Name     string   // exact ARN name segment
	Version  string   // exact "major.minor.patch"
}

// IdempotencyRecord remembers the outcome of a call made with a clientToken.
type IdempotencyRecord struct {
	Account     string
	Operation   string
	Token       string
	RequestHash string // digest of the request parameters, clientToken excluded
	Response    []byte // the JSON response body that was returned
	Created     time.Time
}

// Store is a transactional resource store.
type Store interface {
	// View runs fn in a read-only transaction. fn may be called more than
	// once (a caching wrapper first tries to answer it from memory), so it
	// must only compute its result: reset what it fills in at its start.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction, committed when fn returns
	// nil and rolled back otherwise (including on panic, which is re-raised).
	Update(ctx context.Context, fn func(Tx) error) error
	// Close releases the store's connections.
	Close() error
}

// Tx is the set of operations available inside a transaction.
type Tx interface {
	// Get returns the resource with the ARN, or ErrNotFound.
	Get(ctx context.Context, arn string) (*Resource, error)
	// Insert stores a new resource, or returns ErrExists if the ARN is taken.
	Insert(ctx context.Context, r *Resource) error
	// Replace overwrites Body, Updated, Tags and Policy of an existing
	// resource, or returns ErrNotFound.
	Replace(ctx context.Context, r *Resource) error
	// Delete removes a resource and the references it holds (SetRefs), or
	// returns ErrNotFound.
	Delete(ctx context.Context, arn string) error
	// List returns the resources matching q in the documented order.
	List(ctx context.Context, q ListQuery) ([]*Resource, error)
	// MaxBuild returns the highest build number stored for the version
	// (0 when there is none).
	MaxBuild(ctx context.Context, kind, account, name, version string) (int, error)
	// SetRefs replaces the set of ARNs (or ARN patterns) that resource
	// `from` depends on.
	SetRefs(ctx context.Context, from string, to []string) error
	// RefsTo returns the ARNs of the resources that reference `to`
	// (exactly as given to SetRefs), sorted.
	RefsTo(ctx context.Context, to string) ([]string, error)
	// GetIdempotency returns the record for (account, operation, token), or
	// ErrNotFound.
	GetIdempotency(ctx context.Context, account, operation, token string) (*IdempotencyRecord, error)
	// PutIdempotency stores a record; ErrExists if the key is taken.
	PutIdempotency(ctx context.Context, rec *IdempotencyRecord) error
}
