// Package storetest is the conformance suite for store.Store
// implementations. Every implementation runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.OpenFunc {
//			path := filepath.Join(t.TempDir(), "goldsmith.db")
//			return func(ctx context.Context) (store.Store, error) { return sqlite.Open(ctx, path) }
//		})
//	}
//
// The suite needs to open the same data more than once (to check that data
// survives Close and reopen, and that several servers may start on one
// database at once), so it asks for a Backend rather than a Store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/goldsmith/goldsmith/internal/store"
)

// OpenFunc opens a Store on one backing database. It may be called any
// number of times, also concurrently from several goroutines; every Store
// it returns sees the same data. The suite closes every Store it opens.
type OpenFunc func(ctx context.Context) (store.Store, error)

// Backend creates a fresh, empty backing database for one test (a file in
// t.TempDir(), a new PostgreSQL database, ...), registers its removal with
// t.Cleanup, and returns how to open it. It may call t.Fatal or t.Skip.
type Backend func(t *testing.T) OpenFunc

// Run runs the conformance suite against the implementation behind
// newBackend. Each subtest gets its own fresh database.
func Run(t *testing.T, newBackend Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, newBackend Backend)
	}{
		{"RoundTrip", testRoundTrip},
		{"InsertDuplicate", testInsertDuplicate},
		{"NotFound", testNotFound},
		{"Replace", testReplace},
		{"Delete", testDelete},
		{"ListOrder", testListOrder},
		{"ListFilters", testListFilters},
		{"MaxBuild", testMaxBuild},
		{"Refs", testRefs},
		{"Idempotency", testIdempotency},
		{"RollbackOnError", testRollbackOnError},
		{"RollbackOnPanic", testRollbackOnPanic},
		{"ViewIsReadOnly", testViewIsReadOnly},
		{"ViewInsideUpdate", testViewInsideUpdate},
		{"ConcurrentBuilds", testConcurrentBuilds},
		{"ConcurrentBuildsTwoStores", testConcurrentBuildsTwoStores},
		{"ContextCancellation", testContextCancellation},
		{"Reopen", testReopen},
		{"ConcurrentOpen", testConcurrentOpen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newBackend) })
	}
}

// openStore opens a fresh database and returns a Store on it (closed at the
// end of the test) plus the OpenFunc for opening it again.
func openStore(t *testing.T, newBackend Backend) (store.Store, OpenFunc) {
	t.Helper()
	open := newBackend(t)
	return mustOpen(t, open), open
}

func mustOpen(t *testing.T, open OpenFunc) store.Store {
	t.Helper()
	s, err := open(t.Context())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func mustUpdate(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func mustView(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.View(t.Context(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func insert(t *testing.T, s store.Store, rs ...*store.Resource) {
	t.Helper()
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, r := range rs {
			if err := tx.Insert(t.Context(), r); err != nil {
				return err
			}
		}
		return nil
	})
}

func get(t *testing.T, s store.Store, arn string) *store.Resource {
	t.Helper()
	var r *store.Resource
	mustView(t, s, func(tx store.Tx) error {
		var err error
		r, err = tx.Get(t.Context(), arn)
		return err
	})
	return r
}

// getErr returns the error of Get in a View (nil when the ARN exists).
func getErr(t *testing.T, s store.Store, arn string) error {
	t.Helper()
	return s.View(t.Context(), func(tx store.Tx) error {
		_, err := tx.Get(t.Context(), arn)
		return err
	})
}

func wantNotFound(t *testing.T, s store.Store, arn string) {
	t.Helper()
	if err := getErr(t, s, arn); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(%s) = %v, want ErrNotFound", arn, err)
	}
}

func list(t *testing.T, s store.Store, q store.ListQuery) []*store.Resource {
	t.Helper()
	var out []*store.Resource
	mustView(t, s, func(tx store.Tx) error {
		var err error
		out, err = tx.List(t.Context(), q)
		return err
	})
	return out
}

func refsTo(t *testing.T, s store.Store, to string) []string {
	t.Helper()
	var out []string
	mustView(t, s, func(tx store.Tx) error {
		var err error
		out, err = tx.RefsTo(t.Context(), to)
		return err
	})
	return out
}

func arns(rs []*store.Resource) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.ARN)
	}
	return out
}

// t0 has sub-millisecond digits and a non-UTC zone on purpose: stores keep
// milliseconds and return UTC.
var t0 = time.Date(2026, 11, 22, 14, 15, 25, 123456789, time.FixedZone("UTC+5:30", 5*3600+1800))

// arnOf builds an Image Builder style ARN.
func arnOf(kind, account, name, version string, build int) string {
	a := fmt.Sprintf("arn:aws:imagebuilder:us-east-1:%s:%s/%s", account, kind, name)
	if version != "" {
		a += "/" + version
	}
	if build > 0 {
		a += fmt.Sprintf("/%d", build)
	}
	return a
}

// res returns a complete resource with every field set.
func res(kind, account, name, version string, build int) *store.Resource {
	a := arnOf(kind, account, name, version, build)
	return &store.Resource{
		ARN:     a,
		Kind:    kind,
		Account: account,
		Name:    name,
		Version: version,
		Build:   build,
		Created: t0,
		Updated: t0.Add(90 * time.Minute),
		Body:    []byte(fmt.Sprintf(`{"arn":%q}`, a)),
		Tags:    map[string]string{"name": name},
		Policy:  "",
	}
}

// normalized is what a store must return for r: times in UTC truncated to
// milliseconds; nil and empty tags are equivalent.
func normalized(r *store.Resource) *store.Resource {
	c := *r
	c.Created = msUTC(r.Created)
	c.Updated = msUTC(r.Updated)
	return &c
}

func msUTC(t time.Time) time.Time {
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// diffResource describes how got differs from want (already normalized), or
// returns "" when they are equal.
func diffResource(got, want *store.Resource) string {
	if got == nil {
		return "got nil resource"
	}
	var d []string
	add := func(field string, g, w any) { d = append(d, fmt.Sprintf("%s = %#v, want %#v", field, g, w)) }
	if got.ARN != want.ARN {
		add("ARN", got.ARN, want.ARN)
	}
	if got.Kind != want.Kind {
		add("Kind", got.Kind, want.Kind)
	}
	if got.Account != want.Account {
		add("Account", got.Account, want.Account)
	}
	if got.Name != want.Name {
		add("Name", got.Name, want.Name)
	}
	if got.Version != want.Version {
		add("Version", got.Version, want.Version)
	}
	if got.Build != want.Build {
		add("Build", got.Build, want.Build)
	}
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{{"Created", got.Created, want.Created}, {"Updated", got.Updated, want.Updated}} {
		if !f.got.Equal(f.want) || f.got.Location() != time.UTC {
			add(f.name, f.got.Format(time.RFC3339Nano)+" ("+f.got.Location().String()+")",
				f.want.Format(time.RFC3339Nano)+" (UTC)")
		}
	}
	if string(got.Body) != string(want.Body) {
		add("Body", shorten(got.Body), shorten(want.Body))
	}
	if !maps.Equal(got.Tags, want.Tags) {
		add("Tags", got.Tags, want.Tags)
	}
	if got.Policy != want.Policy {
		add("Policy", got.Policy, want.Policy)
	}
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprintf("%s: %v", want.ARN, d)
}

func shorten(b []byte) string {
	if len(b) > 64 {
		return fmt.Sprintf("%q...(%d bytes)", b[:64], len(b))
	}
	return fmt.Sprintf("%q", b)
}

func equalStrings(got, want []string) bool {
	return len(got) == len(want) && (len(got) == 0 || slices.Equal(got, want))
}
