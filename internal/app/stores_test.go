package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goldsmith/goldsmith/internal/config"
)

// forEachStore runs body against a server on the embedded SQLite store and,
// when GOLDSMITH_TEST_POSTGRES_URL is set (make test starts one), against a
// server on a fresh PostgreSQL database.
func forEachStore(t *testing.T, body func(t *testing.T, a *App)) {
	t.Run("sqlite", func(t *testing.T) { body(t, startServer(t)) })
	admin := os.Getenv("GOLDSMITH_TEST_POSTGRES_URL")
	t.Run("postgres", func(t *testing.T) {
		if admin == "" {
			t.Skip("GOLDSMITH_TEST_POSTGRES_URL not set; make test (scripts/pg.sh) provides one")
		}
		dsn := freshDatabase(t, admin)
		body(t, startServer(t, func(c *config.Config) {
			c.Store = config.Store{Driver: "postgres", URL: dsn}
		}))
	})
}

// freshDatabase creates a database for one test and drops it afterwards.
func freshDatabase(t *testing.T, admin string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect %s: %v", admin, err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "goldsmith_app_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database: %v", err)
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
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
