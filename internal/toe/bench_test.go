package toe

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const benchSteps = 200

func benchDocument(tb testing.TB) *Document {
	tb.Helper()
	var b strings.Builder
	b.WriteString("schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n")
	for i := 0; i < benchSteps; i++ {
		fmt.Fprintf(&b, "      - name: S%d\n        action: ExecuteBash\n        inputs:\n          commands: ['echo %d']\n", i, i)
	}
	d, err := ParseDocument("bench.yml", []byte(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// floor runs the same 200 commands as 200 separate bash scripts, without
// the engine.
func floor(tb testing.TB, dir string) time.Duration {
	start := time.Now()
	for i := 0; i < benchSteps; i++ {
		script := filepath.Join(dir, "s.sh")
		if err := os.WriteFile(script, []byte(fmt.Sprintf("echo %d\n", i)), 0o700); err != nil {
			tb.Fatal(err)
		}
		if err := exec.Command("bash", script).Run(); err != nil {
			tb.Fatal(err)
		}
	}
	return time.Since(start)
}

// oneScript runs the same 200 commands as one bash script: the issue's
// floor, so the difference includes starting a shell per step.
func oneScript(tb testing.TB, dir string) time.Duration {
	var b strings.Builder
	for i := 0; i < benchSteps; i++ {
		fmt.Fprintf(&b, "echo %d\n", i)
	}
	script := filepath.Join(dir, "all.sh")
	if err := os.WriteFile(script, []byte(b.String()), 0o700); err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	if err := exec.Command("bash", script).Run(); err != nil {
		tb.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkStepOverhead reports the engine's cost per step above the
// floor of starting one bash script per step.
func BenchmarkStepOverhead(b *testing.B) {
	d := benchDocument(b)
	dir := b.TempDir()
	var engine, base, one time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		ex, err := Run(context.Background(), RunOptions{Documents: []*Document{d}, LogDirectory: dir})
		if err != nil || ex.Status != StatusSuccess {
			b.Fatalf("%v %v", err, ex)
		}
		engine += time.Since(start)
		base += floor(b, dir)
		one += oneScript(b, dir)
	}
	perStep := float64(engine-base) / float64(b.N*benchSteps) / float64(time.Millisecond)
	b.ReportMetric(perStep, "ms-overhead/step")
	// The measure: engine ÷ the same commands in one script (goal ≤ 2 ms/step).
	b.ReportMetric(float64(engine-one)/float64(b.N*benchSteps)/float64(time.Millisecond), "ms-over-one-script/step")
	b.ReportMetric(float64(engine)/float64(b.N*benchSteps)/float64(time.Millisecond), "ms-engine/step")
	b.ReportMetric(float64(base)/float64(b.N*benchSteps)/float64(time.Millisecond), "ms-floor/step")
}
