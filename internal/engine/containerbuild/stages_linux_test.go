package containerbuild

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const defaultTemplate = "FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:environments }}}\n{{{ imagebuilder:components }}}\n"

const markerDoc = `name: marker
schemaVersion: 1.0
parameters:
  - Content:
      type: string
      default: nothing
phases:
  - name: build
    steps:
      - name: WriteMarker
        action: CreateFile
        inputs:
          - path: /etc/marker
            content: '{{ Content }}'
      - name: RemoveVi
        action: ExecuteBash
        inputs:
          commands:
            - rm -f /bin/vi
  - name: test
    steps:
      - name: CheckMarker
        action: ExecuteBash
        inputs:
          commands:
            - grep -q '{{ Content }}' /etc/marker
            - test ! -e /bin/vi
`

func markerComponent() Component {
	return Component{ARN: "arn:aws:imagebuilder:us-east-1:123456789012:component/marker/1.0.0/1", Name: "marker",
		Type: TypeBuild, Document: []byte(markerDoc), Parameters: map[string]string{"Content": "made-by-goldsmith"}}
}

func bashComponent(name, phase, step, command string) Component {
	doc := "name: " + name + "\nschemaVersion: 1.0\nphases:\n  - name: " + phase + "\n    steps:\n" +
		"      - name: " + step + "\n        action: ExecuteBash\n        inputs:\n          commands:\n" +
		"            - " + command + "\n"
	return Component{ARN: "arn:aws:imagebuilder:us-east-1:123456789012:component/" + name + "/1.0.0/1",
		Name: name, Type: TypeBuild, Document: []byte(doc)}
}

// TestStagesEndToEnd: build, test and distribute a component that writes
// /etc/marker and removes /bin/vi, then pull the pushed image by digest.
func TestStagesEndToEnd(t *testing.T) {
	e := newEnv(t, true)
	s := e.spec(defaultTemplate, []Component{markerComponent()}, true)
	ctx := t.Context()
	var rec recorder
	start := time.Now()
	br, err := BuildStage(ctx, s, rec.on)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	t.Logf("build stage %v: %s", time.Since(start), stepStatuses(br.Steps))
	if got := stepStatuses(br.Steps); got != "LaunchBuildInstance=COMPLETED BootstrapBuildInstance=COMPLETED ApplyBuildComponents=COMPLETED" {
		t.Errorf("build steps: %s", got)
	}
	if len(rec.steps) != 6 || rec.steps[0].Status != StatusRunning {
		t.Errorf("reported steps: %s", stepStatuses(rec.steps))
	}
	if d := br.Steps[2].Outputs["detailedOutput"]; d == "" {
		t.Error("no detailedoutput.json in the build step's outputs")
	} else if _, err := os.Stat(d); err != nil {
		t.Error(err)
	}
	start = time.Now()
	tr, err := TestStage(ctx, s, nil)
	if err != nil {
		t.Fatalf("test: %v", err)
	}
	t.Logf("test stage %v: %s", time.Since(start), stepStatuses(tr.Steps))
	if got := stepStatuses(tr.Steps); got != "LaunchTestInstance=COMPLETED ApplyTestComponents=COMPLETED TerminateTestInstance=COMPLETED" {
		t.Errorf("test steps: %s", got)
	}
	start = time.Now()
	dr, err := DistributeStage(ctx, s, nil)
	if err != nil {
		t.Fatalf("distribute: %v", err)
	}
	t.Logf("distribution stage %v: %v", time.Since(start), dr.ImageURIs)
	repo := e.host + "/out"
	want := []string{repo + "@" + dr.Digest, repo + ":latest", repo + ":1.0.0-1"}
	if !slices.Equal(dr.ImageURIs, want) {
		t.Errorf("image URIs %v, want %v", dr.ImageURIs, want)
	}
	if !strings.Contains(dr.OSVersion, "BusyBox") || len(dr.Packages) != 0 {
		t.Errorf("OS version %q, packages %v", dr.OSVersion, dr.Packages)
	}
	repoRef, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(repoRef)
	if err != nil || !slices.Contains(tags, "latest") || !slices.Contains(tags, "1.0.0-1") {
		t.Errorf("tags %v, %v", tags, err)
	}

	byDigest, err := name.ParseReference(dr.ImageURIs[0])
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(byDigest)
	if err != nil {
		t.Fatal(err)
	}
	var marker string
	whiteout := false
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		files := layerFiles(t, l)
		if m, ok := files["etc/marker"]; ok {
			marker = m
		}
		if _, ok := files["bin/.wh.vi"]; ok {
			whiteout = true
		}
		for f := range files {
			if strings.HasPrefix(f, "goldsmith") {
				t.Errorf("staged file %s is in the image", f)
			}
		}
	}
	if strings.TrimSpace(marker) != "made-by-goldsmith" || !whiteout {
		t.Errorf("marker %q, whiteout of /bin/vi %v", marker, whiteout)
	}
	if err := Cleanup(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.ScratchDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("scratch dir after Cleanup: %v", err)
	}
	if found, _ := filepath.Glob(filepath.Join(s.LogDir, "build", "toe", "*", "detailedoutput.json")); len(found) != 1 {
		t.Errorf("build logs after Cleanup: %v", found)
	}
}

// layerFiles reads a layer's regular files and whiteouts (content "").
func layerFiles(t *testing.T, l v1.Layer) map[string]string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out[strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")] = string(data)
	}
}

func TestStageFailures(t *testing.T) {
	tests := []struct {
		name      string
		comps     []Component
		failStage string // "build" or "test"
		want      []string
	}{
		{name: "build component", failStage: "build",
			comps: []Component{markerComponent(), bashComponent("exploder", "build", "Explode", "echo boom >&2; exit 5")},
			want:  []string{`component "exploder"`, "component/exploder/1.0.0/1", "phase build", "step Explode (ExecuteBash)"}},
		{name: "test phase", failStage: "test",
			comps: []Component{markerComponent(), bashComponent("checker", "test", "FailingCheck", "exit 3")},
			want:  []string{`component "checker"`, "phase test", "step FailingCheck (ExecuteBash)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, true)
			s := e.spec(defaultTemplate, tc.comps, true)
			defer Cleanup(context.Background(), s)
			br, err := BuildStage(t.Context(), s, nil)
			var steps []Step
			if tc.failStage == "test" {
				if err != nil {
					t.Fatalf("build: %v", err)
				}
				var tr *TestResult
				tr, err = TestStage(t.Context(), s, nil)
				steps = tr.Steps
			} else {
				steps = br.Steps
			}
			if err == nil {
				t.Fatalf("%s stage succeeded", tc.failStage)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			t.Logf("error: %v", err)
			failed := slices.IndexFunc(steps, func(s Step) bool { return s.Status == StatusFailed })
			if failed < 0 || steps[failed].Name != map[string]string{"build": StepApplyBuild, "test": StepApplyTest}[tc.failStage] {
				t.Errorf("steps: %s", stepStatuses(steps))
			}
			if tc.failStage == "test" && steps[len(steps)-1].Status != StatusCompleted {
				t.Errorf("the test sandbox was not terminated: %s", stepStatuses(steps))
			}
		})
	}
}

// TestCancelMidStage cancels the build stage, and the test stage, while a
// component's `sleep 60` runs: the error wraps context.Canceled, the step
// is CANCELLED, and after Cleanup nothing is left.
func TestCancelMidStage(t *testing.T) {
	tests := []struct {
		stage    string
		phase    string
		wantStep string
	}{
		{"build", "build", StepApplyBuild},
		{"test", "test", StepApplyTest},
	}
	for _, tc := range tests {
		t.Run(tc.stage, func(t *testing.T) {
			e := newEnv(t, true)
			s := e.spec(defaultTemplate, []Component{
				bashComponent("sleeper", tc.phase, "Sleep", "echo started-sleeping; sleep 60")}, true)
			if tc.stage == "test" {
				if _, err := BuildStage(t.Context(), s, nil); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			type result struct {
				steps []Step
				err   error
			}
			done := make(chan result, 1)
			go func() {
				if tc.stage == "build" {
					r, err := BuildStage(ctx, s, nil)
					done <- result{r.Steps, err}
					return
				}
				r, err := TestStage(ctx, s, nil)
				done <- result{r.Steps, err}
			}()
			waitForFile(t, filepath.Join(s.LogDir, tc.stage, StdoutLog), "started-sleeping", 60*time.Second)
			cancelled := time.Now()
			cancel()
			var r result
			select {
			case r = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the stage did not return 30 s after the cancellation")
			}
			t.Logf("returned %v after the cancellation: %v", time.Since(cancelled), r.err)
			if !errors.Is(r.err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", r.err)
			}
			i := slices.IndexFunc(r.steps, func(st Step) bool { return st.Name == tc.wantStep })
			if i < 0 || r.steps[i].Status != StatusCancelled {
				t.Errorf("steps: %s", stepStatuses(r.steps))
			}
			if tc.stage == "test" && r.steps[len(r.steps)-1].Status != StatusCompleted {
				t.Errorf("the test sandbox was not terminated: %s", stepStatuses(r.steps))
			}
			assertNothingLeft(t, s.ScratchDir)
			if err := Cleanup(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(s.ScratchDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("scratch dir after Cleanup: %v", err)
			}
		})
	}
}

// TestStagesAfterRestart runs every stage twice, each time with a fresh
// Spec value and no state but the disk, as a restarted engine would.
func TestStagesAfterRestart(t *testing.T) {
	e := newEnv(t, true)
	fresh := func() Spec { return e.spec(defaultTemplate, []Component{markerComponent()}, true) }
	defer Cleanup(context.Background(), fresh())
	stages := []struct {
		name string
		run  func(ctx context.Context, s Spec) error
	}{
		{"build", func(ctx context.Context, s Spec) error { _, err := BuildStage(ctx, s, nil); return err }},
		{"test", func(ctx context.Context, s Spec) error { _, err := TestStage(ctx, s, nil); return err }},
		{"distribute", func(ctx context.Context, s Spec) error { _, err := DistributeStage(ctx, s, nil); return err }},
	}
	for _, st := range stages {
		for attempt := 1; attempt <= 2; attempt++ {
			if err := st.run(t.Context(), fresh()); err != nil {
				t.Fatalf("%s stage, attempt %d: %v", st.name, attempt, err)
			}
		}
	}
	// A crash inside the test stage leaves its sandbox: the next run of the
	// stage removes it first.
	s := fresh()
	img, _, err := readImage(s)
	if err != nil {
		t.Fatal(err)
	}
	// (Without the layer cache: the image's layers unpacked into test/lower.)
	sb, err := openImageSandbox(t.Context(), img, s.path(testDir), false, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = sb // "crashed": never closed
	if _, err := TestStage(t.Context(), fresh(), nil); err != nil {
		t.Fatalf("test stage after a crash: %v", err)
	}
	assertNothingLeft(t, s.ScratchDir)
}

// TestParentBlobsFromTheCache: the first build keeps the parent's layer
// blob in the layer cache; the next build's layout links it from there
// instead of fetching it, and distributes the same image content.
func TestParentBlobsFromTheCache(t *testing.T) {
	e := newEnv(t, false)
	tmpl := "FROM {{{ imagebuilder:parentImage }}}\nRUN echo one > /etc/one\n"
	layers, err := baseImage(t).Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	var inodes []os.FileInfo
	for i := range 2 {
		s := e.spec(tmpl, nil, false)
		s.ScratchDir = filepath.Join(e.scratch, fmt.Sprint(i))
		s.Build = fmt.Sprint(i + 1)
		if _, err := BuildStage(t.Context(), s, nil); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(s.path(imageDir), "blobs", d.Algorithm, d.Hex))
		if err != nil {
			t.Fatalf("build %d: the parent's layer is not in the layout: %v", i+1, err)
		}
		inodes = append(inodes, fi)
		if _, err := DistributeStage(t.Context(), s, nil); err != nil {
			t.Fatal(err)
		}
		if err := Cleanup(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	if !os.SameFile(inodes[0], inodes[1]) {
		t.Fatal("the second build fetched the parent's layer again instead of linking the cached blob")
	}
	if e.layerCache.Blob(d) == "" {
		t.Fatal("the cache does not keep the parent's layer blob")
	}
}

// TestBuiltInRegistry: with the registry in process, the parent is read
// from its storage (the digest a pull over HTTP gets) and storing through
// it gives the same image, under the same URIs, as pushing it over HTTP.
func TestBuiltInRegistry(t *testing.T) {
	e := newEnv(t, false)
	s := e.spec("FROM {{{ imagebuilder:parentImage }}}\nRUN echo local > /etc/local\n", nil, false)
	parentDigest := func(res *BuildResult) string {
		t.Helper()
		for _, st := range res.Steps {
			if st.Name == StepLaunchBuild && st.Status == StatusCompleted {
				return st.Outputs["parentImageDigest"]
			}
		}
		t.Fatalf("no completed %s step in %+v", StepLaunchBuild, res.Steps)
		return ""
	}
	overHTTP, err := BuildStage(t.Context(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := &countingStore{LocalRegistry: e.reg}
	s.BuiltIn = BuiltIn{Addr: e.host, Store: store}
	built, err := BuildStage(t.Context(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer Cleanup(t.Context(), s)
	if got, want := parentDigest(built), parentDigest(overHTTP); got != want || want == "" || store.images != 1 {
		t.Fatalf("parent read from storage %q (%d reads), over HTTP %q", got, store.images, want)
	}
	s.BuiltIn = BuiltIn{}
	viaHTTP, err := DistributeStage(t.Context(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.BuiltIn = BuiltIn{Addr: e.host, Store: e.reg}
	s.Target.Repository = e.host + "/out-local"
	local, err := DistributeStage(t.Context(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if local.Digest != viaHTTP.Digest || len(local.ImageURIs) != 3 {
		t.Fatalf("local %s %v, over HTTP %s", local.Digest, local.ImageURIs, viaHTTP.Digest)
	}
	for _, uri := range local.ImageURIs {
		ref, err := name.ParseReference(uri, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(ref)
		if err != nil {
			t.Fatalf("pulling %s: %v", uri, err)
		}
		if d, _ := img.Digest(); d.String() != local.Digest {
			t.Fatalf("%s has digest %s", uri, d)
		}
		files, err := readImageFiles(img, "etc/local")
		if err != nil || string(files["etc/local"]) != "local\n" {
			t.Fatalf("%s: /etc/local = %q, %v", uri, files["etc/local"], err)
		}
	}
}

// countingStore counts the images read through a LocalRegistry.
type countingStore struct {
	LocalRegistry
	images int
}

func (c *countingStore) Image(ctx context.Context, repository, ref string) (v1.Image, error) {
	c.images++
	return c.LocalRegistry.Image(ctx, repository, ref)
}

// TestBuildStageBackground: with a Background, BuildStage returns before
// its last sandbox has closed; the image is complete (the distribution
// runs meanwhile), and once Background.Wait returns the stage's working
// directory is gone, with no sandbox left (checked again by the env).
func TestBuildStageBackground(t *testing.T) {
	e := newEnv(t, false)
	s := e.spec("FROM {{{ imagebuilder:parentImage }}}\nRUN echo bg > /etc/bg\nENV A=1\nRUN rm /etc/bg\n", nil, false)
	s.Background = &Background{}
	defer Cleanup(t.Context(), s)
	if _, err := BuildStage(t.Context(), s, nil); err != nil {
		t.Fatal(err)
	}
	res, err := DistributeStage(t.Context(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Background.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.path(buildDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the build's working directory after Wait: %v", err)
	}
	ref, err := name.ParseReference(res.ImageURIs[0], name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) < 2 {
		t.Fatalf("%d layers, %v", len(layers), err)
	}
	rc, err := layers[len(layers)-1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("the last layer has no whiteout of /etc/bg: %v", err)
		}
		if path.Clean(h.Name) == "etc/.wh.bg" {
			return
		}
	}
}
