package container

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// benchScript is the three-command build step.
const benchScript = "echo built-by-goldsmith > /etc/marker && rm -f /bin/vi && head -c 1024 /dev/urandom > /opt/blob"

// BenchmarkBuildStep times one RUN of benchScript plus writing its layer:
// "sandbox" is Open + Run (runc) + WriteLayer + Close, "sandbox-runner"
// the same with the runner (one container start plus one step); "floor" is the same
// commands via unshare --mount + chroot over an overlay plus writing the
// layer from the upper directory with the same writer.
func BenchmarkBuildStep(b *testing.B) {
	requireSandbox(b)
	if _, err := exec.LookPath("unshare"); err != nil {
		b.Skip("needs unshare (util-linux) for the floor")
	}
	lower := busyboxRootFS(b)
	ctx := context.Background()

	for _, mode := range []struct{ name, runner string }{{"sandbox", ""}, {"sandbox-runner", runnerForTest(b)}} {
		b.Run(mode.name, func(b *testing.B) { benchSandbox(b, lower, mode.runner) })
	}

	b.Run("floor", func(b *testing.B) {
		scratchRoot := b.TempDir()
		var layer bytes.Buffer
		for i := 0; i < b.N; i++ {
			layer.Reset()
			dir := filepath.Join(scratchRoot, fmt.Sprint(i))
			upper, work, merged := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
			for _, d := range []string{upper, work, merged} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					b.Fatal(err)
				}
			}
			script := fmt.Sprintf("mount -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir=%s %s && mount --bind /dev %s/dev && chroot %s /bin/sh -c '%s'",
				lower, upper, work, merged, merged, merged, benchScript)
			if out, err := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", "sh", "-c", script).CombinedOutput(); err != nil {
				b.Fatalf("floor: %v %s", err, out)
			}
			if err := writeLayer(ctx, upper, &layer, time.Time{}); err != nil {
				b.Fatal(err)
			}
			if err := os.RemoveAll(dir); err != nil {
				b.Fatal(err)
			}
		}
		checkBenchLayer(b, layer.Bytes())
	})
}

// benchSandbox is Open + Run + WriteLayer + Close of benchScript.
func benchSandbox(b *testing.B, lower, runner string) {
	ctx := context.Background()
	scratchRoot := b.TempDir()
	var layer bytes.Buffer
	for i := 0; b.Loop(); i++ {
		layer.Reset()
		s, err := Open(ctx, Options{Lowers: []string{lower}, ScratchDir: filepath.Join(scratchRoot, fmt.Sprint(i)), Runner: runner})
		if err != nil {
			b.Fatal(err)
		}
		code, err := s.Run(ctx, Process{Args: []string{"/bin/sh", "-c", benchScript}})
		if err != nil || code != 0 {
			s.Close()
			b.Fatalf("Run = %d, %v", code, err)
		}
		if err := s.WriteLayer(ctx, &layer); err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	checkBenchLayer(b, layer.Bytes())
}

func checkBenchLayer(b *testing.B, data []byte) {
	b.Helper()
	s := string(data)
	for _, name := range []string{"etc/marker", "bin/.wh.vi", "opt/blob"} {
		if !strings.Contains(s, name) {
			b.Fatalf("the layer has no %s", name)
		}
	}
}
