package engine

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
	"github.com/goldsmith/goldsmith/internal/testsupport"
)

// TestBuildAvailable: a PENDING container image is built, tested and
// pushed; its executions and steps are recorded and its URIs pull.
func TestBuildAvailable(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testBuildAvailable(t, "") })
	t.Run("postgres", func(t *testing.T) {
		admin := os.Getenv("GOLDSMITH_TEST_POSTGRES_URL")
		if admin == "" {
			t.Skip("GOLDSMITH_TEST_POSTGRES_URL not set; make test (scripts/pg.sh) provides one")
		}
		testBuildAvailable(t, admin)
	})
}

func testBuildAvailable(t *testing.T, pgAdmin string) {
	te := newTestEnv(t, pgAdmin, bashComponent("marker", "echo made-by-goldsmith > /etc/marker",
		"grep -q made-by-goldsmith /etc/marker"))
	e := te.engine(t)
	te.insertImage(t, demoARN, gen.ImageTypeDOCKER)
	start := time.Now()
	if err := e.Enqueue(t.Context(), demoARN); err != nil {
		t.Fatal(err)
	}
	if err := e.Enqueue(t.Context(), demoARN); err != nil { // harmless
		t.Fatal(err)
	}
	d := te.waitFinal(t, demoARN, 3*time.Minute)
	t.Logf("PENDING → %s in %v", d.status(), time.Since(start))
	if d.status() != gen.ImageStatusAVAILABLE {
		t.Fatalf("image %s: %s\n%s", d.status(), d.State.Reason, te.summary(t, demoARN))
	}
	want := "BUILD=COMPLETED[LaunchBuildInstance=COMPLETED BootstrapBuildInstance=COMPLETED ApplyBuildComponents=COMPLETED] " +
		"TEST=COMPLETED[LaunchTestInstance=COMPLETED ApplyTestComponents=COMPLETED TerminateTestInstance=COMPLETED] " +
		"DISTRIBUTION=COMPLETED[DistributeContainerImage=COMPLETED CollectImageMetadata=COMPLETED]"
	if got := te.summary(t, demoARN); got != want {
		t.Errorf("executions:\n got %s\nwant %s", got, want)
	}
	for _, x := range te.executions(t, demoARN) {
		if x.StartTime == "" || x.EndTime == "" || x.TotalStepCount == nil || *x.TotalStepsSucceeded != *x.TotalStepCount {
			t.Errorf("execution %+v", x.WorkflowExecutionMetadata)
		}
		if !strings.HasPrefix(x.WorkflowBuildVersionArn, "arn:aws:imagebuilder:us-east-1:aws:workflow/") {
			t.Errorf("workflow ARN %s", x.WorkflowBuildVersionArn)
		}
		got, _, err := func() (*Execution, any, error) {
			var out *Execution
			err := te.st.View(t.Context(), func(tx store.Tx) error {
				var err error
				out, _, err = ExecutionByID(t.Context(), tx, x.WorkflowExecutionId)
				return err
			})
			return out, nil, err
		}()
		if err != nil || got.Status != x.Status {
			t.Errorf("ExecutionByID(%s) = %v, %v", x.WorkflowExecutionId, got, err)
		}
	}
	if d.OutputResources == nil || len(d.OutputResources.Containers) != 1 ||
		d.OutputResources.Containers[0].Region != "us-east-1" {
		t.Fatalf("outputResources %+v", d.OutputResources)
	}
	uris := d.OutputResources.Containers[0].ImageUris
	if len(uris) < 2 || !strings.Contains(uris[0], "/demo-out@sha256:") {
		t.Errorf("image URIs %v", uris)
	}
	for _, u := range uris {
		ref, err := name.ParseReference(u, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := remote.Image(ref); err != nil {
			t.Errorf("pull %s: %v", u, err)
		}
	}
	if d.OsVersion == "" {
		t.Errorf("no osVersion")
	}
	if d.extra[keyPackages] == nil || d.extra["goldsmithImport"] == nil {
		t.Errorf("extra keys of the body: %v", d.extra)
	}
	if _, err := os.Stat(te.scratch); err == nil {
		entries, _ := os.ReadDir(te.scratch)
		if len(entries) != 0 {
			t.Errorf("scratch left: %v", entries)
		}
	}
	if err := e.Cancel(t.Context(), demoARN); !errors.Is(err, ErrNotCancellable) {
		t.Errorf("cancel of an AVAILABLE image: %v", err)
	}
}

// TestBuildFails: a failing component fails the image with a reason that
// names the step; an AMI image fails at once on a server without VM builds.
func TestBuildFails(t *testing.T) {
	te := newTestEnv(t, "", bashComponent("broken", "exit 3", ""))
	e := te.engine(t)
	te.insertImage(t, demoARN, gen.ImageTypeDOCKER)
	amiARN := strings.Replace(demoARN, "/demo/", "/vm/", 1)
	te.insertImage(t, amiARN, gen.ImageTypeAMI)
	for _, arn := range []string{demoARN, amiARN} {
		if err := e.Enqueue(t.Context(), arn); err != nil {
			t.Fatal(err)
		}
	}
	d := te.waitFinal(t, demoARN, 3*time.Minute)
	if d.status() != gen.ImageStatusFAILED || !strings.Contains(d.State.Reason, "Runbroken") ||
		!strings.Contains(d.State.Reason, "ApplyBuildComponents") {
		t.Errorf("image %s: %q", d.status(), d.State.Reason)
	}
	t.Logf("reason: %s", d.State.Reason)
	want := "BUILD=FAILED[LaunchBuildInstance=COMPLETED BootstrapBuildInstance=COMPLETED ApplyBuildComponents=FAILED]"
	if got := te.summary(t, demoARN); got != want {
		t.Errorf("executions:\n got %s\nwant %s", got, want)
	}
	d = te.waitFinal(t, amiARN, time.Minute)
	if d.status() != gen.ImageStatusFAILED || !strings.Contains(d.State.Reason, "VM image builds are not configured") {
		t.Errorf("AMI image %s: %q", d.status(), d.State.Reason)
	}
}

// TestCancel: cancelling a running build ends it CANCELLED with nothing
// left; cancelling a PENDING image ends it at once.
func TestCancel(t *testing.T) {
	te := newTestEnv(t, "", bashComponent("slow", "sleep 60", ""))
	e := te.engine(t)
	te.insertImage(t, demoARN, gen.ImageTypeDOCKER)
	if err := e.Enqueue(t.Context(), demoARN); err != nil {
		t.Fatal(err)
	}
	te.waitStep(t, demoARN, "ApplyBuildComponents", time.Minute)
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	if err := e.Cancel(t.Context(), demoARN); err != nil {
		t.Fatal(err)
	}
	d := te.waitFinal(t, demoARN, 30*time.Second)
	t.Logf("cancelled in %v", time.Since(start))
	if d.status() != gen.ImageStatusCANCELLED {
		t.Fatalf("image %s: %q", d.status(), d.State.Reason)
	}
	if got := te.summary(t, demoARN); !strings.HasPrefix(got, "BUILD=CANCELLED[") || !strings.Contains(got, "ApplyBuildComponents=CANCELLED") {
		t.Errorf("executions: %s", got)
	}
	assertNothingLeft(t, te.scratch)

	pending := strings.Replace(demoARN, "/1.0.0/1", "/1.0.0/2", 1)
	te.insertImage(t, pending, gen.ImageTypeDOCKER)
	if err := e.Cancel(t.Context(), pending); err != nil {
		t.Fatal(err)
	}
	if d := te.image(t, pending); d.status() != gen.ImageStatusCANCELLED {
		t.Errorf("pending image after cancel: %s", d.status())
	}
}

// TestRestart: the engine stops in the middle of a build; a new engine on
// the same store resumes it to AVAILABLE.
func TestRestart(t *testing.T) {
	te := newTestEnv(t, "", bashComponent("pause", "sleep 2", ""))
	e1, err := New(t.Context(), Options{Store: te.st, QueueDriver: te.driver, QueueDSN: te.dsn, Inputs: te.inputs,
		RegistryAddr: te.host, GoldsmithBinary: testsupport.GoldsmithBinary(t), ScratchRoot: te.scratch, LogRoot: te.logs,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e1.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	te.insertImage(t, demoARN, gen.ImageTypeDOCKER)
	if err := e1.Enqueue(t.Context(), demoARN); err != nil {
		t.Fatal(err)
	}
	te.waitStep(t, demoARN, "ApplyBuildComponents", time.Minute)
	time.Sleep(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := e1.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if s := te.image(t, demoARN).status(); s != gen.ImageStatusBUILDING {
		t.Fatalf("after stop: %s", s)
	}
	start := time.Now()
	te.engine(t) // a restarted server
	d := te.waitFinal(t, demoARN, 3*time.Minute)
	t.Logf("resumed to %s in %v: %s", d.status(), time.Since(start), te.summary(t, demoARN))
	if d.status() != gen.ImageStatusAVAILABLE {
		t.Fatalf("image %s: %q", d.status(), d.State.Reason)
	}
	xs := te.executions(t, demoARN)
	if len(xs) != 4 || xs[0].Status != gen.WorkflowExecutionStatusFAILED || xs[1].Retried == nil ||
		xs[1].Status != gen.WorkflowExecutionStatusCOMPLETED {
		t.Errorf("executions: %s", te.summary(t, demoARN))
	}
	if m := xs[0].Message; m == nil || !strings.Contains(*m, "interrupted") {
		t.Errorf("interrupted execution message %v", m)
	}
}
