package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goldsmith/goldsmith/internal/store"
	"github.com/goldsmith/goldsmith/internal/store/postgres"
	"github.com/goldsmith/goldsmith/internal/store/storetest"
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

// freshDatabase creates an empty database for t on the server at admin,
// drops it when t ends, and returns its URL.
func freshDatabase(t *testing.T, admin string) string {
	t.Helper()
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL (%v)", urlEnv, err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "goldsmith_test_" + hex.EncodeToString(b)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to %s: %v", urlEnv, err)
	}
	defer conn.Close(context.Background())
	// Prefer a linguistic (ICU en-US) collation as the database default: it
	// orders "a-b", "a_b" and "ab" differently from bytewise order, so the
	// suite proves the store does not depend on the database's locale.
	// PostgreSQL < 15 or a build without ICU falls back to the default.
	create := `CREATE DATABASE ` + pgx.Identifier{name}.Sanitize() + ` TEMPLATE template0 ENCODING 'UTF8'`
	if _, err := conn.Exec(ctx, create+` LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`); err != nil {
		t.Logf("create database with ICU collation: %v; using the server default", err)
		if _, err := conn.Exec(ctx, create); err != nil {
			t.Fatalf("create database %s: %v", name, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
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
