package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/goldsmith/goldsmith/internal/store"
	"github.com/goldsmith/goldsmith/internal/store/sqlite"
	"github.com/goldsmith/goldsmith/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.OpenFunc {
		path := filepath.Join(t.TempDir(), "goldsmith.db")
		return func(ctx context.Context) (store.Store, error) { return sqlite.Open(ctx, path) }
	})
}
