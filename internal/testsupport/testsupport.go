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

// staticBinary is one command of the module built once per test binary.
type staticBinary struct {
	once sync.Once
	path string
	err  error
}

// The binaries are built once per test binary (a test process), into dir.
var (
	binDir = struct {
		sync.Mutex
		path string
	}{}
	goldsmith   staticBinary
	agentBuild  staticBinary
	runnerBuild staticBinary
)

// build makes the command pkg (static, stripped) once and returns its path.
func (b *staticBinary) build(tb testing.TB, pkg, name string) string {
	tb.Helper()
	b.once.Do(func() {
		binDir.Lock()
		if binDir.path == "" {
			binDir.path, b.err = os.MkdirTemp("", "goldsmith-bin-")
		}
		dir := binDir.path
		binDir.Unlock()
		if b.err != nil {
			return
		}
		b.path = filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", b.path, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("building %s: %v\n%s", name, err, out)
		}
	})
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.path
}

// GoldsmithBinary builds cmd/goldsmith with CGO_ENABLED=0 once per test
// binary and returns its path. Call Cleanup from TestMain.
func GoldsmithBinary(tb testing.TB) string {
	RunnerBinary(tb) // installed next to goldsmith, as make build does
	return goldsmith.build(tb, "github.com/goldsmith/goldsmith/cmd/goldsmith", "goldsmith")
}

// AgentBinary builds cmd/goldsmith-agent (the build VMs' /init) like
// GoldsmithBinary.
func AgentBinary(tb testing.TB) string {
	return agentBuild.build(tb, "github.com/goldsmith/goldsmith/cmd/goldsmith-agent", "goldsmith-agent")
}

// RunnerBinary builds cmd/goldsmith-runner (the container build sandbox's
// runner) like GoldsmithBinary, into the same directory, where the server
// looks for it next to goldsmith.
func RunnerBinary(tb testing.TB) string {
	return runnerBuild.build(tb, "github.com/goldsmith/goldsmith/cmd/goldsmith-runner", "goldsmith-runner")
}

// Cleanup removes what GoldsmithBinary, AgentBinary and RunnerBinary built.
func Cleanup() {
	binDir.Lock()
	defer binDir.Unlock()
	if binDir.path != "" {
		os.RemoveAll(binDir.path)
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
