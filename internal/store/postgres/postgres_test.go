package postgres_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/goldsmith/goldsmith/internal/store"
	"github.com/goldsmith/goldsmith/internal/store/postgres"
	"github.com/goldsmith/goldsmith/internal/store/storetest"
	"github.com/goldsmith/goldsmith/internal/testsupport"
)

const urlEnv = "GOLDSMITH_TEST_POSTGRES_URL"

func TestConformance(t *testing.T) {
	admin := os.Getenv(urlEnv)
	if admin == "" {
		t.Skip(urlEnv + " not set; run via make test / scripts/pg.sh")
	}
	storetest.Run(t, func(t *testing.T) storetest.OpenFunc {
		dbURL := freshDatabase(t, admin)
		return func(ctx context.Context) (store.Store, error) { return postgres.Open(ctx, dbURL) }
	})
}

// freshDatabase creates an empty database for t, dropped when t ends.
// It prefers a linguistic (ICU en-US) default collation: it orders "a-b",
// "a_b" and "ab" differently from bytewise order, so the suite proves the
// store does not depend on the database's locale; PostgreSQL < 15 or a
// build without ICU falls back to the server default.
func freshDatabase(t *testing.T, admin string) string {
	return testsupport.FreshDatabase(t, admin,
		`TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`,
		`TEMPLATE template0 ENCODING 'UTF8'`)
}

// TestNewerSchemaRefused: a binary must not run on a database migrated by a
// newer one.
func TestNewerSchemaRefused(t *testing.T) {
	admin := os.Getenv(urlEnv)
	if admin == "" {
		t.Skip(urlEnv + " not set; run via make test / scripts/pg.sh")
	}
	dbURL := freshDatabase(t, admin)
	s, err := postgres.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(t.Context(), `INSERT INTO schema_migrations (version) VALUES (999)`)
	conn.Close(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s, err = postgres.Open(t.Context(), dbURL)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded on a database with schema version 999")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open = %v, want a 'newer schema' error", err)
	}
}
