package toe

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goldsmith/goldsmith/internal/toe/module"
)

func TestRunRebootResume(t *testing.T) {
	e := newRunEnv(t)
	doc := `schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: First
        action: ExecuteBash
        inputs:
          commands: ['echo first >> @WORK@/log; echo one']
      - name: InstallThenReboot
        action: ExecuteBash
        if:
          not:
            fileExists: '@WORK@/reboot-indicator'
        inputs:
          commands:
            - |
              echo install >> @WORK@/log
              if [ -f @WORK@/reboot-indicator ]; then
                rm -f @WORK@/reboot-indicator
                exit 0
              fi
              touch @WORK@/reboot-indicator
              exit 194
      - name: RebootNow
        action: Reboot
      - name: After
        action: ExecuteBash
        inputs:
          commands: ['echo "after {{ build.First.outputs.stdout }}" >> @WORK@/log']
`
	id := "exec-reboot-1"
	withID := func(o *RunOptions) { o.ExecutionID = id }
	ex := e.run(doc, withID)
	if ex.Status != StatusRebootRequested {
		t.Fatalf("status %s: %s", ex.Status, ex.FailureMessage)
	}
	if _, err := os.Stat(StatePath(e.logDir, id)); err != nil {
		t.Fatalf("no state file: %v", err)
	}
	// second run: the same step again (its if is not re-evaluated, although
	// the indicator file now makes it false), then the Reboot module.
	ex2, err := Run(context.Background(), RunOptions{ExecutionID: id, LogDirectory: e.logDir, WorkDir: e.work})
	if err != nil {
		t.Fatal(err)
	}
	if ex2.Status != StatusRebootRequested || ex2.LogURL != ex.LogURL {
		t.Fatalf("second run: %s %s", ex2.Status, ex2.FailureMessage)
	}
	ex3, err := Run(context.Background(), RunOptions{ExecutionID: id, LogDirectory: e.logDir, WorkDir: e.work})
	if err != nil {
		t.Fatal(err)
	}
	if ex3.Status != StatusSuccess {
		t.Fatalf("third run: %s %s", ex3.Status, ex3.FailureMessage)
	}
	log, _ := os.ReadFile(filepath.Join(e.work, "log"))
	if string(log) != "first\ninstall\ninstall\nafter one\n" {
		t.Fatalf("log:\n%s", log)
	}
	steps := ex3.Documents[0].Phases[0].Steps
	if len(steps) != 4 || steps[1].Status != StatusSuccess || steps[2].Status != StatusSuccess {
		t.Fatalf("steps after resume: %d", len(steps))
	}
	if _, err := os.Stat(StatePath(e.logDir, id)); !os.IsNotExist(err) {
		t.Fatalf("state file not removed: %v", err)
	}
	if ex3.ExecutedStepCount != 4 {
		t.Errorf("executed %d", ex3.ExecutedStepCount)
	}
}

func TestRunExecuteDocument(t *testing.T) {
	e := newRunEnv(t)
	sub := "schemaVersion: 1.0\nparameters:\n  - Param1:\n      type: string\n      default: d\nphases:\n  - name: build\n    steps:\n      - name: S\n        action: ExecuteBash\n        inputs:\n          commands: ['echo sub-{{ Param1 }} >> " + e.work + "/sub']\n  - name: test\n    steps:\n      - name: T\n        action: ExecuteBash\n        inputs:\n          commands: ['echo test >> " + e.work + "/sub']\n"
	if err := os.WriteFile(filepath.Join(e.work, "Sample-1.yaml"), []byte(sub), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.work, "Sample-2.yaml"), []byte(sub), 0o644); err != nil {
		t.Fatal(err)
	}
	ex := e.run(`schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Nested
        action: ExecuteDocument
        loop:
          name: n
          for: {start: 1, end: 2, updateBy: 1}
        inputs:
          document: 'Sample-{{ n.value }}.yaml'
          phases: build
          parameters:
            - name: Param1
              value: v{{ n.value }}
`, nil)
	if ex.Status != StatusSuccess {
		t.Fatalf("%s: %s\n%s", ex.Status, ex.FailureMessage, e.console)
	}
	got, _ := os.ReadFile(filepath.Join(e.work, "sub"))
	if string(got) != "sub-v1\nsub-v2\n" {
		t.Fatalf("nested runs wrote %q", got)
	}
	// a document that runs itself is refused
	self := filepath.Join(e.work, "self.yml")
	if err := os.WriteFile(self, []byte("schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Me\n        action: ExecuteDocument\n        inputs:\n          document: "+self+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(self)
	d, err := ParseDocument(self, data)
	if err != nil {
		t.Fatal(err)
	}
	ex, err = Run(context.Background(), RunOptions{Documents: []*Document{d}, LogDirectory: e.logDir})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != StatusFailed || !strings.Contains(ex.FailureMessage, "cycle") {
		t.Fatalf("self-reference: %s %q", ex.Status, ex.FailureMessage)
	}
}

func TestRunParameterErrors(t *testing.T) {
	d, err := ParseDocument("p.yml", []byte("schemaVersion: 1.0\nparameters:\n  - Count:\n      type: integer\nphases:\n  - name: build\n    steps:\n      - name: S\n        action: ExecuteBash\n        inputs:\n          commands: ['echo {{ Count }}']\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []map[string]string{{"Count": ""}, {"Count": "abc"}} {
		if _, err := Run(context.Background(), RunOptions{Documents: []*Document{d}, LogDirectory: t.TempDir(), Parameters: p}); err == nil {
			t.Errorf("%v: expected an error", p)
		}
	}
}

func TestRunBlockedModuleAndSecrets(t *testing.T) {
	e := newRunEnv(t)
	ex := e.run(`schemaVersion: 1.0
parameters:
  - Name:
      type: string
      default: /app/secret
phases:
  - name: build
    steps:
      - name: Secret
        action: ExecuteBash
        inputs:
          commands: ['echo "value={{ aws:ssm:resolve(Name) }}"']
      - name: NoReboot
        action: Reboot
        onFailure: Continue
`, func(o *RunOptions) {
		o.BlockedModules = []string{"Reboot"}
		o.SSM = func(_ context.Context, name string) (string, error) {
			if name != "/app/secret" {
				t.Errorf("ssm name %q", name)
			}
			return "s3cr3t", nil
		}
	})
	if s := step(t, ex, "build", "NoReboot"); s.Status != StatusFailed || !strings.Contains(s.FailureMessage, "blocked") {
		t.Fatalf("blocked: %s %q", s.Status, s.FailureMessage)
	}
	for _, f := range []string{ConsoleLogFile, DetailedOutputFile, ChainingFile} {
		data, _ := os.ReadFile(filepath.Join(ex.LogURL, f))
		if bytes.Contains(data, []byte("s3cr3t")) {
			t.Errorf("%s contains the secret", f)
		}
	}
}

// fakeModule lets tests observe what the engine passes to modules.
type fakeModule struct {
	name string
	got  []any
}

func (f *fakeModule) Name() string               { return f.name }
func (f *fakeModule) Check(any) []module.Problem { return nil }
func (f *fakeModule) Run(_ context.Context, env *module.Env, in any) (module.Result, error) {
	f.got = append(f.got, in)
	return module.Result{Outputs: map[string]any{"n": len(f.got)}}, nil
}

func TestRunInputsEncoding(t *testing.T) {
	e := newRunEnv(t)
	fake := &fakeModule{name: "Fake"}
	lookup := func(n string) (module.Module, bool) {
		if n == "Fake" {
			return fake, true
		}
		return module.Lookup(n)
	}
	ex := e.run(`schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: F
        action: Fake
        inputs:
          - path: /x
            permissions: 0700
            recurse: true
            n: 12
            empty:
      - name: G
        action: Fake
        inputs:
          value: '{{ build.F.outputs.n }}/{{ build.F.inputs[0].permissions }}'
`, func(o *RunOptions) { o.Modules = lookup })
	if ex.Status != StatusSuccess {
		t.Fatalf("%s %s", ex.Status, ex.FailureMessage)
	}
	first := fake.got[0].([]any)[0].(map[string]any)
	if first["permissions"] != "0700" || first["recurse"] != "true" || first["n"] != "12" || first["empty"] != nil {
		t.Fatalf("inputs %#v", first)
	}
	if v := fake.got[1].(map[string]any)["value"]; v != "1/0700" {
		t.Fatalf("chained %q", v)
	}
}
