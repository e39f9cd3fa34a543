package containerbuild

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/artifact/base"
	"github.com/goldsmith/goldsmith/internal/artifact/registry"
	"github.com/goldsmith/goldsmith/internal/instance/container"
	"github.com/goldsmith/goldsmith/internal/testsupport"
)

// shared holds what the real tests of this package build once: the base
// image.
type shared struct {
	baseOnce sync.Once
	base     v1.Image
	baseErr  error
}

var pkgShared = &shared{}

// baseImage is base.Busybox(), built once. It has no bash: ExecuteBash
// steps run with busybox sh.
func baseImage(tb testing.TB) v1.Image {
	tb.Helper()
	sh := pkgShared
	sh.baseOnce.Do(func() { sh.base, sh.baseErr = base.Busybox(context.Background()) })
	if sh.baseErr != nil {
		tb.Fatal(sh.baseErr)
	}
	return sh.base
}

// env is one test's registry (with the base pushed as <host>/base:latest)
// and directories.
type env struct {
	host, parent  string
	scratch, logs string
	layerCache    *container.LayerCache // shared by the env's builds
	binary        string
	runner        string // the sandbox runner, as the server uses it
	reg           *registry.Registry
}

func newEnv(tb testing.TB, withBinary bool) *env {
	tb.Helper()
	testsupport.RequireRealBuilds(tb)
	ctx := context.Background()
	reg, err := registry.New(ctx, filepath.Join(tb.TempDir(), "registry"), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	tb.Cleanup(func() {
		srv.Close()
		reg.Close()
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	e := &env{host: host, parent: host + "/base:latest", reg: reg}
	ref, err := name.ParseReference(e.parent, name.Insecure)
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Write(ref, baseImage(tb)); err != nil {
		tb.Fatalf("pushing the base: %v", err)
	}
	dir := tb.TempDir()
	e.scratch, e.logs = filepath.Join(dir, "scratch"), filepath.Join(dir, "logs")
	if e.layerCache, err = container.NewLayerCache(filepath.Join(dir, "layer-cache")); err != nil {
		tb.Fatal(err)
	}
	e.runner = testsupport.RunnerBinary(tb)
	if withBinary {
		e.binary = testsupport.GoldsmithBinary(tb)
	}
	tb.Cleanup(func() { assertNothingLeft(tb, e.scratch) })
	return e
}

// spec builds a fresh Spec value (as a restarted engine would).
func (e *env) spec(template string, comps []Component, tests bool) Spec {
	return Spec{
		ImageARN: "arn:aws:imagebuilder:us-east-1:123456789012:image/test/1.0.0/1",
		Version:  "1.0.0", Build: "1",
		Recipe: &gen.ContainerRecipe{Name: "test", Version: "1.0.0", DockerfileTemplateData: template,
			ParentImage: e.parent},
		Components:      comps,
		ParentRef:       e.parent,
		TestsEnabled:    tests,
		Target:          Target{Repository: e.host + "/out", Tags: []string{"latest"}, Insecure: true},
		GoldsmithBinary: e.binary,
		RunnerBinary:    e.runner,
		ScratchDir:      e.scratch,
		LogDir:          e.logs,
		LayerCache:      e.layerCache,
	}
}

// assertNothingLeft checks that no overlay mount and no goldsmith runc
// container refers to dir.
func assertNothingLeft(tb testing.TB, dir string) {
	tb.Helper()
	mounts, _ := os.ReadFile("/proc/mounts")
	if strings.Contains(string(mounts), dir) {
		tb.Errorf("mounts left under %s", dir)
	}
	out, _ := exec.Command("runc", "--root", container.StateRoot, "list", "--format", "json").Output()
	var list []struct {
		ID     string `json:"id"`
		Bundle string `json:"bundle"`
	}
	_ = json.Unmarshal(out, &list)
	for _, c := range list {
		if strings.HasPrefix(c.ID, container.IDPrefix) && strings.HasPrefix(c.Bundle, dir) {
			tb.Errorf("runc container %s left (bundle %s)", c.ID, c.Bundle)
		}
	}
}

// recorder collects the steps a stage reports.
type recorder struct {
	mu    sync.Mutex
	steps []Step
}

func (r *recorder) on(s Step) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, s)
	return nil
}

func stepStatuses(steps []Step) string {
	var b []string
	for _, s := range steps {
		b = append(b, s.Name+"="+s.Status)
	}
	return strings.Join(b, " ")
}

// waitForFile waits until file contains want.
func waitForFile(t *testing.T, file, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if data, err := os.ReadFile(file); err == nil && strings.Contains(string(data), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never contained %q", file, want)
}

func TestMain(m *testing.M) {
	code := m.Run()
	testsupport.Cleanup()
	os.Exit(code)
}
