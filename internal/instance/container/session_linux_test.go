package container

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRunnerSharesOneContainerPerLayer: Runs share the runner's container
// (a file in its /dev tmpfs outlives a Run) until WriteLayer, which ends
// it; neither the runner's mount point nor runc's stubs reach the layer.
func TestRunnerSharesOneContainerPerLayer(t *testing.T) {
	requireSandbox(t)
	lower := busyboxRootFS(t)
	s, _ := openSandbox(t, Options{Lowers: []string{lower}, Runner: runnerForTest(t)})
	run(t, s, Process{}, "touch /dev/from-first-run && echo layer > /opt/file")
	if code, out, _ := run(t, s, Process{}, "test -e /dev/from-first-run && echo same"); code != 0 || out != "same\n" {
		t.Fatalf("second Run is not in the same container: %d %q", code, out)
	}
	var layer bytes.Buffer
	if err := s.WriteLayer(context.Background(), &layer); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range readLayer(t, layer.Bytes()) {
		names = append(names, e.hdr.Name)
	}
	if got := strings.Join(names, " "); got != "opt/ opt/file" {
		t.Fatalf("layer entries = %q, want only opt/ and opt/file", got)
	}
	if code, out, _ := run(t, s, Process{}, "test -e /dev/from-first-run || echo fresh; cat /opt/file"); code != 0 || out != "fresh\nlayer\n" {
		t.Fatalf("after WriteLayer: %d %q", code, out)
	}
}

// TestRunnerEndsWhatAStepStarted: a step ends with its process even when a
// background process it started holds its output open, and that process
// does not survive into the next step.
func TestRunnerEndsWhatAStepStarted(t *testing.T) {
	requireSandbox(t)
	s, _ := openSandbox(t, Options{Lowers: []string{busyboxRootFS(t)}, Runner: runnerForTest(t)})
	start := time.Now()
	code, out, _ := run(t, s, Process{}, "sleep 300 & sleep 301 >/dev/null 2>&1 & echo started")
	if code != 0 || out != "started\n" {
		t.Fatalf("%d %q", code, out)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the step waited %v for its background processes", d)
	}
	if code, out, _ := run(t, s, Process{}, "pgrep sleep || echo none"); code != 0 || out != "none\n" {
		t.Fatalf("processes of the previous step still run: %d %q", code, out)
	}
}

// TestRunnerOutput: stdout and stderr stay apart, large output arrives
// whole, and a writer that fails does not stop the step.
func TestRunnerOutput(t *testing.T) {
	requireSandbox(t)
	s, _ := openSandbox(t, Options{Lowers: []string{busyboxRootFS(t)}, Runner: runnerForTest(t)})
	var stdout, stderr bytes.Buffer
	code, err := s.Run(context.Background(), Process{Args: []string{"sh", "-c", "head -c 3000000 /dev/zero; echo err >&2"},
		Stdout: &stdout, Stderr: &stderr})
	if err != nil || code != 0 {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if stdout.Len() != 3000000 || stderr.String() != "err\n" {
		t.Fatalf("stdout %d bytes, stderr %q", stdout.Len(), stderr.String())
	}
	code, err = s.Run(context.Background(), Process{Args: []string{"sh", "-c", "echo out; echo done > /opt/x"},
		Stdout: failingWriter{}})
	if err != nil || code != 0 {
		t.Fatalf("Run with a failing writer = %d, %v", code, err)
	}
	if code, out, _ := run(t, s, Process{}, "cat /opt/x"); code != 0 || out != "done\n" {
		t.Fatalf("%d %q", code, out)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestRunnerPrestart: a prestarted runner serves the first Run; closing a
// sandbox while its runner starts leaves nothing behind.
func TestRunnerPrestart(t *testing.T) {
	requireSandbox(t)
	lower := busyboxRootFS(t)
	s, scratchRoot := openSandbox(t, Options{Lowers: []string{lower}, Runner: runnerForTest(t)})
	s.Prestart()
	waitForContainer(t, scratchRoot)
	if code, out, _ := run(t, s, Process{}, "echo ok"); code != 0 || out != "ok\n" {
		t.Fatalf("after Prestart: %d %q", code, out)
	}
	if ids, _ := listContainers(context.Background(), scratchRoot); len(ids) != 1 {
		t.Fatalf("containers = %v, want the prestarted one only", ids)
	}

	s2, scratchRoot2 := openSandbox(t, Options{Lowers: []string{lower}, Runner: runnerForTest(t)})
	s2.Prestart()
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	assertNoLeftovers(t, scratchRoot2)
}
