package memo_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/goldsmith/goldsmith/internal/store"
	"github.com/goldsmith/goldsmith/internal/store/memo"
	"github.com/goldsmith/goldsmith/internal/store/sqlite"
	"github.com/goldsmith/goldsmith/internal/store/storetest"
)

// TestConformance runs the shared store suite through the cache: every
// Store opened on one database shares one Cache, as in one process.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.OpenFunc {
		path := filepath.Join(t.TempDir(), "goldsmith.db")
		c := &memo.Cache{}
		return func(ctx context.Context) (store.Store, error) {
			inner, err := sqlite.Open(ctx, path)
			if err != nil {
				return nil, err
			}
			return memo.New(inner, c), nil
		}
	})
}

// TestReadsSeeWrites checks the cache never serves a read older than the
// last write, and that cached values cannot be changed by callers.
func TestReadsSeeWrites(t *testing.T) {
	ctx := context.Background()
	inner, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "goldsmith.db"))
	if err != nil {
		t.Fatal(err)
	}
	s := memo.New(inner, &memo.Cache{})
	defer s.Close()
	r := &store.Resource{ARN: "arn:x", Kind: "component", Account: "000000000000", Name: "x", Version: "1.0.0", Build: 1, Body: []byte("v1"), Tags: map[string]string{"a": "1"}}
	get := func() *store.Resource {
		var got *store.Resource
		if err := s.View(ctx, func(tx store.Tx) error {
			var err error
			got, err = tx.Get(ctx, "arn:x")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if err := s.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(ctx, "arn:x")
		if err == nil {
			t.Error("found before insert")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, r) }); err != nil {
		t.Fatal(err)
	}
	first := get()
	first.Tags["a"] = "mutated"
	first.Body[0] = 'X'
	if again := get(); again.Tags["a"] != "1" || string(again.Body) != "v1" {
		t.Fatalf("cache handed out shared values: %+v", again)
	}
	r.Body = []byte("v2")
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Replace(ctx, r) }); err != nil {
		t.Fatal(err)
	}
	if got := get(); string(got.Body) != "v2" {
		t.Fatalf("read after write returned %q", got.Body)
	}
}
