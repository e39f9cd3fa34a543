// Package service holds the domain of goldsmith: Image Builder resources,
// their ARNs, semantic versions, validation rules and state. It implements
// gen.Handler and reaches persistence only through store.Store.
package service

import (
	"context"
	"errors"
	"fmt"
	"github.com/goldsmith/goldsmith/internal/artifact/amistore"
	"log/slog"
	"time"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// KeyStore encrypts data at rest under a named key (the local stand-in for
// KMS). aad binds ciphertext to the resource it belongs to.
type KeyStore interface {
	Encrypt(ctx context.Context, keyID string, plaintext, aad []byte) ([]byte, error)
	Decrypt(ctx context.Context, keyID string, ciphertext, aad []byte) ([]byte, error)
}

// Fetcher reads a document from a URI (file://, s3://).
type Fetcher interface {
	Fetch(ctx context.Context, uri string, maxBytes int64) ([]byte, error)
}

// Options configure a Service.
type Options struct {
	Store   store.Store
	Keys    KeyStore // nil: kmsKeyId is refused
	Fetcher Fetcher  // nil: uri is refused
	// Bases builds managed base images (nil: BuildBaseImage is refused).
	Bases BaseImageBuilder
	// AMIs keeps the machine images VM builds start from and produce (nil:
	// image recipes cannot be built).
	AMIs *amistore.Store

	// Regions are the sites distributions may target (the server's own
	// region at least).
	Regions []string
	Now     func() time.Time
	Logger  *slog.Logger
}

// Service implements every Image Builder operation. Operations whose
// resources arrive in later releases answer with a modelled error saying
// they are not available yet (gen.UnimplementedHandler).
type Service struct {
	gen.UnimplementedHandler
	st      store.Store
	keys    KeyStore
	fetcher Fetcher
	regions []string
	bases   BaseImageBuilder
	amis    *amistore.Store
	builds  Builds
	now     func() time.Time
	log     *slog.Logger

	components decodeCache[componentRecord]
}

var _ gen.Handler = (*Service)(nil)

// New returns a Service.
func New(o Options) (*Service, error) {
	if o.Store == nil {
		return nil, errors.New("service: Store is required")
	}
	s := &Service{st: o.Store, keys: o.Keys, fetcher: o.Fetcher, regions: o.Regions, bases: o.Bases, amis: o.AMIs, now: o.Now, log: o.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// caller returns the authenticated caller of ctx.
func caller(ctx context.Context) (Caller, error) {
	c, ok := CallerFrom(ctx)
	if !ok {
		return Caller{}, errors.New("service: no caller in context")
	}
	return c, nil
}

// apiError returns a modelled error.
func apiError(code, format string, args ...any) error {
	return &gen.Error{Code: code, Status: gen.StatusOf(code), Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return apiError(gen.CodeResourceNotFound, format, args...)
}

func invalidValue(format string, args ...any) error {
	return apiError(gen.CodeInvalidParameterValue, format, args...)
}

// timestamp formats a DateTime field: ISO-8601 UTC with milliseconds.
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// visibleAccounts are the owners whose resources the caller may read.
func visibleAccounts(c Caller) []string { return []string{c.Account, "aws"} }

func canRead(c Caller, account string) bool {
	for _, a := range visibleAccounts(c) {
		if a == account {
			return true
		}
	}
	return false
}
