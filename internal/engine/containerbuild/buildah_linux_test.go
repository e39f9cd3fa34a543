package containerbuild

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"golang.org/x/sys/unix"

	"github.com/goldsmith/goldsmith/internal/mountinfo"
)

// buildahBaseName is the local name the busybox base gets in buildah's
// storage.
const buildahBaseName = "goldsmith-bench-base"

// buildahBench is Debian's buildah with private storage (a temporary root
// and run root), the busybox base already pulled into it and a build
// context whose Dockerfile is the benchmark's build.
type buildahBench struct {
	bin, root, runRoot, driver, contextDir string
}

// newBuildahBench prepares buildah, or returns nil when it is not
// installed or $BENCH_BUILDAH is 0. The storage driver is $BUILDAH_STORAGE_DRIVER, overlay by
// default (vfs works too but copies the whole root file system per
// container). Everything is removed when the benchmark ends.
func newBuildahBench(tb testing.TB, commands []string) *buildahBench {
	tb.Helper()
	bin, err := exec.LookPath("buildah")
	if err != nil || os.Getenv("BENCH_BUILDAH") == "0" {
		return nil
	}
	dir, err := os.MkdirTemp("", "goldsmith-buildah-")
	if err != nil {
		tb.Fatal(err)
	}
	bb := &buildahBench{bin: bin, root: filepath.Join(dir, "storage"), runRoot: filepath.Join(dir, "run"),
		driver: os.Getenv("BUILDAH_STORAGE_DRIVER"), contextDir: filepath.Join(dir, "context")}
	if bb.driver == "" {
		bb.driver = "overlay"
	}
	tb.Cleanup(func() { bb.close(tb, dir) })
	base := filepath.Join(dir, "base")
	p, err := layout.Write(base, empty.Index)
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.AppendImage(baseImage(tb)); err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	id, err := bb.run(ctx, "pull", "-q", "oci:"+base)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := bb.run(ctx, "tag", strings.TrimSpace(id), buildahBaseName); err != nil {
		tb.Fatal(err)
	}
	df := "FROM " + buildahBaseName + "\n"
	for _, c := range commands {
		df += "RUN " + c + "\n"
	}
	if err := os.MkdirAll(bb.contextDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bb.contextDir, "Dockerfile"), []byte(df), 0o644); err != nil {
		tb.Fatal(err)
	}
	return bb
}

func (bb *buildahBench) run(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"--root", bb.root, "--runroot", bb.runRoot, "--storage-driver", bb.driver}, args...)
	cmd := exec.CommandContext(ctx, bb.bin, full...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("buildah %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// buildAndPush is what the benchmark times: `buildah bud` of the
// Dockerfile (one layer, as goldsmith makes) and `buildah push` to the
// built-in registry over plain http.
func (bb *buildahBench) buildAndPush(ctx context.Context, tag, dest string) error {
	if _, err := bb.run(ctx, "bud", "--layers=false", "--isolation", "oci", "-q", "-t", tag, bb.contextDir); err != nil {
		return err
	}
	_, err := bb.run(ctx, "push", "-q", "--tls-verify=false", tag, "docker://"+dest)
	return err
}

// close removes buildah's images and containers, unmounts what its
// storage left mounted and removes dir.
func (bb *buildahBench) close(tb testing.TB, dir string) {
	ctx := context.Background()
	if _, err := bb.run(ctx, "rm", "--all"); err != nil {
		tb.Log(err)
	}
	if _, err := bb.run(ctx, "rmi", "--all", "--force"); err != nil {
		tb.Log(err)
	}
	for _, m := range mountsUnder(dir) {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
			tb.Errorf("unmounting %s: %v", m, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		tb.Error(err)
	}
}

// mountsUnder lists the mount points under dir, deepest first.
func mountsUnder(dir string) []string {
	mounts, err := mountinfo.Self()
	if err != nil {
		return nil
	}
	return mountinfo.Under(mounts, dir)
}
