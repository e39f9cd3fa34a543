package app

import (
	"os"
	"testing"

	"github.com/goldsmith/goldsmith/internal/config"
	"github.com/goldsmith/goldsmith/internal/testsupport"
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
		dsn := testsupport.FreshDatabase(t, admin)
		body(t, startServer(t, func(c *config.Config) {
			c.Store = config.Store{Driver: "postgres", URL: dsn}
		}))
	})
}
