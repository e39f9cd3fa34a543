// Package testsupport holds what several packages' tests need: the static
// goldsmith binary that builds stage into images, the checks that real
// container builds can run here, and throw-away PostgreSQL databases.
// It is imported by tests only.
package testsupport

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The binary is built once per test binary (a test process).
var goldsmith struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// GoldsmithBinary builds cmd/goldsmith with CGO_ENABLED=0 once per test
// binary and returns its path. Call Cleanup from TestMain.
func GoldsmithBinary(tb testing.TB) string {
	tb.Helper()
	goldsmith.once.Do(func() {
		if goldsmith.dir, goldsmith.err = os.MkdirTemp("", "goldsmith-bin-"); goldsmith.err != nil {
			return
		}
		goldsmith.path = filepath.Join(goldsmith.dir, "goldsmith")
		cmd := exec.Command("go", "build", "-o", goldsmith.path, "github.com/goldsmith/goldsmith/cmd/goldsmith")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			goldsmith.err = fmt.Errorf("building goldsmith: %v\n%s", err, out)
		}
	})
	if goldsmith.err != nil {
		tb.Fatal(goldsmith.err)
	}
	return goldsmith.path
}

// Cleanup removes what GoldsmithBinary built.
func Cleanup() {
	if goldsmith.dir != "" {
		os.RemoveAll(goldsmith.dir)
	}
}

// RequireRealBuilds skips unless real container builds can run: not
// -short, root, runc, busybox-static and overlayfs.
func RequireRealBuilds(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("real container builds (runc, overlayfs, a goldsmith build) are skipped with -short")
	}
	if os.Geteuid() != 0 {
		tb.Skip("needs root for overlayfs mounts and runc")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		tb.Skip("needs runc (apt-get install runc; scripts/host-packages.sh)")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		tb.Skip("needs /bin/busybox (apt-get install busybox-static)")
	}
	if data, err := os.ReadFile("/proc/filesystems"); err != nil || !strings.Contains(string(data), "overlay") {
		tb.Skip("needs overlayfs in the kernel")
	}
}

// FreshDatabase creates an empty database on the PostgreSQL server at admin
// (a postgres:// URL), drops it when tb ends, and returns its URL. Each
// option is a CREATE DATABASE suffix tried in order (e.g. a collation); if
// all fail, the server's defaults are used.
func FreshDatabase(tb testing.TB, admin string, options ...string) string {
	tb.Helper()
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("%q must be a postgres:// URL (%v)", admin, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "goldsmith_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connect to %s: %v", admin, err)
	}
	defer conn.Close(context.Background())
	create := `CREATE DATABASE ` + pgx.Identifier{name}.Sanitize()
	created := false
	for _, opt := range options {
		if _, err := conn.Exec(ctx, create+" "+opt); err != nil {
			tb.Logf("create database with %q: %v; trying the next choice", opt, err)
			continue
		}
		created = true
		break
	}
	if !created {
		if _, err := conn.Exec(ctx, create); err != nil {
			tb.Fatalf("create database %s: %v", name, err)
		}
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
