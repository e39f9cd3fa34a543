package toe

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCorpus runs a corpus document (with textual replacements) and reads
// back its detailedoutput.json.
func runCorpus(t *testing.T, file string, replace map[string]string, opts RunOptions) (*Execution, map[string]any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "corpus", "components", file))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for k, v := range replace {
		s = strings.ReplaceAll(s, k, v)
	}
	if opts.Documents == nil { // a non-nil empty list resumes a stored execution
		d, err := ParseDocument(file, []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		opts.Documents = []*Document{d}
	}
	ex, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(ex.LogURL, DetailedOutputFile))
	if err != nil {
		t.Fatal(err)
	}
	var det map[string]any
	if err := json.Unmarshal(raw, &det); err != nil {
		t.Fatal(err)
	}
	return ex, det
}

// detailedSteps flattens documents[].phases[].steps[] as "phase/step" → step.
func detailedSteps(det map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, d := range det["documents"].([]any) {
		for _, p := range d.(map[string]any)["phases"].([]any) {
			pm := p.(map[string]any)
			for _, s := range pm["steps"].([]any) {
				sm := s.(map[string]any)
				out[pm["name"].(string)+"/"+sm["name"].(string)] = sm
			}
		}
	}
	return out
}

func TestCorpusRunHelloWorld(t *testing.T) {
	ex, det := runCorpus(t, "awsdocs-HelloWorldTestingDocument-Linux.yaml", nil,
		RunOptions{LogDirectory: t.TempDir(), Parameters: map[string]string{"MyInputParameter": "goldsmith"}})
	if ex.Status != StatusSuccess || det["status"] != "Success" {
		t.Fatalf("status %s: %s", ex.Status, ex.FailureMessage)
	}
	steps := detailedSteps(det)
	for _, ph := range []string{"build", "validate", "test"} {
		s := steps[ph+"/HelloWorldStep"]
		if s == nil || s["status"] != "Success" || !strings.Contains(s["outputs"].(string), "My input parameter value is goldsmith") {
			t.Errorf("%s: %v", ph, s)
		}
	}
}

func TestCorpusRunHelloWorldComponent(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	ex, det := runCorpus(t, "hello-world-component.yaml", nil, RunOptions{LogDirectory: t.TempDir()})
	if ex.Status != StatusSuccess {
		t.Fatalf("status %s: %s", ex.Status, ex.FailureMessage)
	}
	if out := detailedSteps(det)["build/Assert"]["outputs"].(string); !strings.Contains(out, "Hello world echo file created") {
		t.Fatalf("outputs %s", out)
	}
}

func TestCorpusRunToleratedFailure(t *testing.T) {
	// rpm is absent or htop is not installed: the first step fails either way.
	ex, det := runCorpus(t, "awstoe-cookbook-tolerated-failure.yml", map[string]string{"rpm -q htop": "rpm -q no-such-package-goldsmith"},
		RunOptions{LogDirectory: t.TempDir()})
	if ex.Status != StatusSuccessWithIgnoredFailure || ex.IgnoredFailedStepCount != 1 {
		t.Fatalf("status %s %+v", ex.Status, ex.Summary())
	}
	steps := detailedSteps(det)
	if steps["build/OptionalCheck"]["status"] != "IgnoredFailure" || steps["build/RequiredWork"]["status"] != "Success" {
		t.Fatalf("steps %v", steps)
	}
}

func TestCorpusRunRebootAndResume(t *testing.T) {
	for _, file := range []string{"awstoe-cookbook-reboot-and-resume.yml", "awsdocs-ExitCode194Example.yaml"} {
		t.Run(file, func(t *testing.T) {
			indicator := filepath.Join(t.TempDir(), "reboot-indicator")
			repl := map[string]string{"/var/tmp/reboot-indicator": indicator}
			logs := t.TempDir()
			opts := RunOptions{LogDirectory: logs, ExecutionID: "corpus-reboot"}
			ex, det := runCorpus(t, file, repl, opts)
			if ex.Status != StatusRebootRequested || det["status"] != string(StatusRebootRequested) {
				t.Fatalf("first run: %s %s", ex.Status, ex.FailureMessage)
			}
			if _, err := os.Stat(indicator); err != nil {
				t.Fatal("the script did not run before the reboot")
			}
			// "reboot": run again with the same execution id and no documents
			ex, det = runCorpus(t, file, repl, RunOptions{LogDirectory: logs, ExecutionID: "corpus-reboot", Documents: []*Document{}})
			if ex.Status != StatusSuccess {
				t.Fatalf("after reboot: %s %s", ex.Status, ex.FailureMessage)
			}
			if _, err := os.Stat(indicator); !os.IsNotExist(err) {
				t.Fatal("the step was not re-run after the reboot")
			}
			for name, s := range detailedSteps(det) {
				if s["status"] != "Success" {
					t.Errorf("%s: %v", name, s["status"])
				}
			}
		})
	}
}
