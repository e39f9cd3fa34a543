package containerbuild

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/goldsmith/goldsmith/internal/api/gen"
)

func TestTestsDisabledSkipped(t *testing.T) {
	dir := t.TempDir()
	var rec recorder
	res, err := TestStage(t.Context(), Spec{ScratchDir: filepath.Join(dir, "s"), LogDir: filepath.Join(dir, "l")}, rec.on)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Steps) != 1 || res.Steps[0].Status != StatusSkipped || res.Steps[0].Name != StepApplyTest ||
		!res.Steps[0].Start.Equal(res.Steps[0].End) {
		t.Errorf("steps = %+v", res.Steps)
	}
	if len(rec.steps) != 1 {
		t.Errorf("reported %d steps", len(rec.steps))
	}
}

func TestSpecErrors(t *testing.T) {
	dir := t.TempDir()
	ok := Spec{ScratchDir: filepath.Join(dir, "s"), LogDir: filepath.Join(dir, "l"),
		Recipe: &gen.ContainerRecipe{DockerfileTemplateData: "FROM x\n"}, Version: "1.0.0", Build: "1",
		Target: Target{Repository: "127.0.0.1:1/r"}}
	tests := []struct {
		name  string
		stage func(Spec) error
		edit  func(*Spec)
		want  string
	}{
		{"no scratch", buildOnly, func(s *Spec) { s.ScratchDir = "" }, "no scratch directory"},
		{"relative scratch", buildOnly, func(s *Spec) { s.ScratchDir = "rel" }, "not absolute"},
		{"no log dir", buildOnly, func(s *Spec) { s.LogDir = "" }, "no log directory"},
		{"no recipe", buildOnly, func(s *Spec) { s.Recipe = nil }, "no container recipe"},
		{"no template", buildOnly, func(s *Spec) { s.Recipe = &gen.ContainerRecipe{} }, "no dockerfileTemplateData"},
		{"no parent", buildOnly, func(s *Spec) {}, "no parent image reference"},
		{"test without build", testOnly, func(s *Spec) { s.TestsEnabled = true; s.Components = []Component{{Name: "c"}} },
			"the build stage has not completed"},
		{"no target", distributeOnly, func(s *Spec) { s.Target.Repository = "" }, "no target repository"},
		{"no version", distributeOnly, func(s *Spec) { s.Version = "" }, "<version>-<build>"},
		{"bad tag", distributeOnly, func(s *Spec) { s.Target.Tags = []string{"bad tag"} }, `tag "bad tag"`},
		{"not built", distributeOnly, func(s *Spec) {}, "the build stage has not completed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.edit(&s)
			err := tc.stage(s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func buildOnly(s Spec) error { _, err := BuildStage(bgCtx, s, nil); return err }
func testOnly(s Spec) error  { _, err := TestStage(bgCtx, s, nil); return err }
func distributeOnly(s Spec) error {
	_, err := DistributeStage(bgCtx, s, nil)
	return err
}

func TestTargetTags(t *testing.T) {
	tests := []struct {
		tags []string
		want []string
	}{
		{nil, []string{"2.1.0-3"}},
		{[]string{"latest"}, []string{"latest", "2.1.0-3"}},
		{[]string{"latest", "stable", "latest", "2.1.0-3"}, []string{"latest", "stable", "2.1.0-3"}},
	}
	for _, tc := range tests {
		s := Spec{Version: "2.1.0", Build: "3", Target: Target{Repository: "127.0.0.1:8601/my-repo", Tags: tc.tags}}
		repo, got, err := s.target()
		if err != nil || !reflect.DeepEqual(got, tc.want) || repo.Name() != "127.0.0.1:8601/my-repo" {
			t.Errorf("tags %v: got %v %v %v", tc.tags, repo, got, err)
		}
	}
}

const dpkgSample = `Package: libc6
Status: install ok installed
Priority: optional
Version: 2.36-9+deb12u13
Description: GNU C Library
 continuation line
 Version: 9.9 (not a field)

Package: removed-pkg
Status: deinstall ok config-files
Version: 1.0

Package: base-files
Status: install ok installed
Version: 12.4+deb12u11
`

func TestParseDpkgStatus(t *testing.T) {
	tests := []struct {
		in   string
		want []Package
	}{
		{dpkgSample, []Package{{"libc6", "2.36-9+deb12u13"}, {"base-files", "12.4+deb12u11"}}},
		{"Package: x\r\nStatus: install ok installed\r\nVersion: 1\r\n", []Package{{"x", "1"}}},
		{"", nil},
		{"garbage\n\n\n", nil},
	}
	for _, tc := range tests {
		if got := parseDpkgStatus([]byte(tc.in)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseApkInstalled(t *testing.T) {
	tests := []struct {
		in   string
		want []Package
	}{
		{"C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\n\nP:busybox\nV:1.36.1-r29\n", []Package{{"musl", "1.2.5-r0"}, {"busybox", "1.36.1-r29"}}},
		{"V:1\n\n", nil},
		{"", nil},
	}
	for _, tc := range tests {
		if got := parseApkInstalled([]byte(tc.in)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestImageMetadata reads a Debian-like image: /etc/os-release is a
// relative symlink, the dpkg database changes in an upper layer.
func TestImageMetadata(t *testing.T) {
	img := testImage(t,
		[]tar.Header{
			{Name: "usr/lib/os-release", Typeflag: tar.TypeReg},
			{Name: "etc/os-release", Typeflag: tar.TypeSymlink, Linkname: "../usr/lib/os-release"},
			{Name: "var/lib/dpkg/status", Typeflag: tar.TypeReg},
		},
		[]string{"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n", "", "Package: old\nStatus: install ok installed\nVersion: 1\n"},
	)
	img = appendLayer(t, img, []tar.Header{{Name: "var/lib/dpkg/status", Typeflag: tar.TypeReg}},
		[]string{dpkgSample})
	osv, pkgs, err := imageMetadata(img, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{{"base-files", "12.4+deb12u11"}, {"libc6", "2.36-9+deb12u13"}}
	if osv != "Debian GNU/Linux 12 (bookworm)" || !reflect.DeepEqual(pkgs, want) {
		t.Errorf("got %q %v", osv, pkgs)
	}
	// An image without any of the files.
	osv, pkgs, err = imageMetadata(testImage(t, []tar.Header{{Name: "bin/sh", Typeflag: tar.TypeReg}}, []string{"x"}), nil)
	if err != nil || osv != "" || len(pkgs) != 0 {
		t.Errorf("empty image: %q %v %v", osv, pkgs, err)
	}
}

func testImage(t *testing.T, hdrs []tar.Header, data []string) v1.Image {
	t.Helper()
	return appendLayer(t, empty.Image, hdrs, data)
}

func appendLayer(t *testing.T, img v1.Image, hdrs []tar.Header, data []string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, h := range hdrs {
		h.Mode, h.Size = 0o644, int64(len(data[i]))
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(data[i])); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	out, err := mutate.AppendLayers(img, l)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const failedDetailedOutput = `{"executionId":"e","status":"Failed","failureMessage":"document x failed","documents":[
 {"name":"ok","filePath":"/goldsmith/components/01-ok.yml","status":"Success","phases":[]},
 {"name":"doc-name","filePath":"/goldsmith/components/02-bad.yml","status":"Failed","failureMessage":"doc failed",
  "phases":[{"name":"build","status":"Failed","steps":[
    {"name":"Fine","action":"ExecuteBash","status":"Success"},
    {"name":"Ignored","action":"ExecuteBash","status":"IgnoredFailure"},
    {"name":"Boom","action":"ExecuteBash","status":"Failed","failureMessage":"ExecuteBash: exit status 5"}]}]}]}`

func TestDescribeFailure(t *testing.T) {
	staged := []stagedComponent{
		{path: "/goldsmith/components/01-ok.yml", comp: Component{Name: "ok"}},
		{path: "/goldsmith/components/02-bad.yml", comp: Component{Name: "bad", ARN: "arn:x:component/bad/1.0.0/1"}},
	}
	tests := []struct {
		name, in, want string
	}{
		{"step", failedDetailedOutput,
			`component "bad" (arn:x:component/bad/1.0.0/1) failed in phase build at step Boom (ExecuteBash): ExecuteBash: exit status 5`},
		{"unknown document",
			`{"status":"Failed","documents":[{"name":"n","filePath":"/elsewhere.yml","status":"Failed","failureMessage":"parse error","phases":[]}]}`,
			`component "n" (/elsewhere.yml) failed: parse error`},
		{"phase without steps",
			`{"status":"Failed","documents":[{"name":"n","filePath":"/goldsmith/components/01-ok.yml","status":"Failed","phases":[{"name":"test","status":"Failed","failureMessage":"timeout"}]}]}`,
			`component "ok" failed in phase test: timeout`},
		{"execution only", `{"status":"Failed","failureMessage":"bad config"}`, "toe run failed: bad config"},
		{"success", `{"status":"Success","documents":[{"status":"Success"}]}`, ""},
		{"not json", `{`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := describeFailure([]byte(tc.in), staged); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	if got := toeFailure("", staged); got != "" {
		t.Errorf("no file: %q", got)
	}
}

func FuzzParseDpkgStatus(f *testing.F) {
	f.Add([]byte(dpkgSample))
	f.Add([]byte("Package:\nStatus: installed\n\n:\n \n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range parseDpkgStatus(data) {
			if p.Name == "" {
				t.Fatal("package without a name")
			}
		}
	})
}

func FuzzParseApkInstalled(f *testing.F) {
	f.Add([]byte("P:musl\nV:1.2.5-r0\n\nP:busybox\nV:1\n"))
	f.Add([]byte("P:\nV\n:\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range parseApkInstalled(data) {
			if p.Name == "" {
				t.Fatal("package without a name")
			}
		}
	})
}

func FuzzDescribeFailure(f *testing.F) {
	f.Add([]byte(failedDetailedOutput))
	f.Add([]byte(`{"documents":[null,{"phases":[null,{"steps":[null]}]}]}`))
	f.Add([]byte(`{"status":"Failed"}`))
	staged := []stagedComponent{{path: "/goldsmith/components/02-bad.yml", comp: Component{Name: "bad"}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = describeFailure(data, staged)
	})
}

var bgCtx = context.Background()

// TestStepperRecording: a step whose start onStep refuses does not run
// and ends FAILED with the reason; an end onStep refuses fails the step's
// run; a skip onStep refuses is an error.
func TestStepperRecording(t *testing.T) {
	refused := errors.New("store unreachable")
	tests := []struct {
		name      string
		refuse    string // the status onStep refuses
		skip      bool
		wantRun   bool
		wantSteps string
	}{
		{"recorded", "", false, true, "a=RUNNING a=COMPLETED"},
		{"start refused", StatusRunning, false, false, "a=RUNNING a=FAILED"},
		{"end refused", StatusCompleted, false, true, "a=RUNNING a=COMPLETED"},
		{"skip refused", StatusSkipped, true, false, "a=SKIPPED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []Step
			st := &stepper{onStep: func(s Step) error {
				seen = append(seen, s)
				if s.Status == tt.refuse {
					return refused
				}
				return nil
			}}
			ran := false
			var err error
			if tt.skip {
				err = st.skip("a", "Act", "why")
			} else {
				err = st.run(t.Context(), "a", "Act", nil, func(map[string]string) (string, error) {
					ran = true
					return "", nil
				})
			}
			if ran != tt.wantRun {
				t.Errorf("ran = %v, want %v", ran, tt.wantRun)
			}
			if got := stepStatuses(seen); got != tt.wantSteps {
				t.Errorf("reported %s, want %s", got, tt.wantSteps)
			}
			if (tt.refuse == "") != (err == nil) || (err != nil && !errors.Is(err, refused)) {
				t.Errorf("err = %v", err)
			}
			if tt.refuse == StatusRunning && !strings.Contains(seen[len(seen)-1].Message, "not run") {
				t.Errorf("the refused step ends with %q", seen[len(seen)-1].Message)
			}
		})
	}
}
