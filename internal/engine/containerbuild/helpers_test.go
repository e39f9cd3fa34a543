package containerbuild

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/artifact/base"
	"github.com/goldsmith/goldsmith/internal/artifact/registry"
	"github.com/goldsmith/goldsmith/internal/instance/container"
)

// shared holds what the real tests of this package build once: the static
// goldsmith binary (under a directory TestMain removes) and the base image.
type shared struct {
	binOnce sync.Once
	binDir  string
	bin     string
	binErr  error

	baseOnce sync.Once
	base     v1.Image
	baseErr  error
}

var pkgShared = &shared{}

func TestMain(m *testing.M) {
	code := m.Run()
	if pkgShared.binDir != "" {
		os.RemoveAll(pkgShared.binDir)
	}
	os.Exit(code)
}

// goldsmithBinary builds the static goldsmith binary once per test binary.
func goldsmithBinary(tb testing.TB) string {
	tb.Helper()
	sh := pkgShared
	sh.binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "containerbuild-bin-")
		if err != nil {
			sh.binErr = err
			return
		}
		sh.binDir = dir
		bin := filepath.Join(dir, "goldsmith")
		cmd := exec.Command("go", "build", "-o", bin, "github.com/goldsmith/goldsmith/cmd/goldsmith")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			sh.binErr = fmt.Errorf("building goldsmith: %v\n%s", err, out)
			return
		}
		sh.bin = bin
	})
	if sh.binErr != nil {
		tb.Fatal(sh.binErr)
	}
	return sh.bin
}

// bashShim stands in for bash in the busybox base (Debian's busybox has no
// bash applet, and toe's ExecuteBash runs `bash script`).
const bashShim = "#!/bin/sh\nexec /bin/sh \"$@\"\n"

// baseImage is base.Busybox() plus a layer with /bin/bash as bashShim.
func baseImage(tb testing.TB) v1.Image {
	tb.Helper()
	sh := pkgShared
	sh.baseOnce.Do(func() {
		img, err := base.Busybox(context.Background())
		if err != nil {
			sh.baseErr = err
			return
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		hdr := &tar.Header{Name: "bin/bash", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bashShim)),
			ModTime: base.Epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err == nil {
			_, err = tw.Write([]byte(bashShim))
			sh.baseErr = err
		} else {
			sh.baseErr = err
		}
		if err := tw.Close(); err != nil {
			sh.baseErr = err
		}
		if sh.baseErr != nil {
			return
		}
		data := buf.Bytes()
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			sh.baseErr = err
			return
		}
		sh.base, sh.baseErr = mutate.AppendLayers(img, layer)
	})
	if sh.baseErr != nil {
		tb.Fatal(sh.baseErr)
	}
	return sh.base
}

// requireReal skips unless real sandboxes can run: root, runc, overlayfs,
// busybox-static, and not -short.
func requireReal(tb testing.TB) {
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
	if _, err := os.Stat(base.BusyboxBinary); err != nil {
		tb.Skip("needs /bin/busybox (apt-get install busybox-static)")
	}
	if data, err := os.ReadFile("/proc/filesystems"); err != nil || !strings.Contains(string(data), "overlay") {
		tb.Skip("needs overlayfs in the kernel")
	}
}

// env is one test's registry (with the base pushed as <host>/base:latest)
// and directories.
type env struct {
	host, parent  string
	scratch, logs string
	binary        string
}

func newEnv(tb testing.TB, withBinary bool) *env {
	tb.Helper()
	requireReal(tb)
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
	e := &env{host: host, parent: host + "/base:latest"}
	ref, err := name.ParseReference(e.parent, name.Insecure)
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Write(ref, baseImage(tb)); err != nil {
		tb.Fatalf("pushing the base: %v", err)
	}
	dir := tb.TempDir()
	e.scratch, e.logs = filepath.Join(dir, "scratch"), filepath.Join(dir, "logs")
	if withBinary {
		e.binary = goldsmithBinary(tb)
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
		ScratchDir:      e.scratch,
		LogDir:          e.logs,
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

func (r *recorder) on(s Step) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, s)
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
