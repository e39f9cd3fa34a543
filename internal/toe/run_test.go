package toe

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type runEnv struct {
	t       *testing.T
	logDir  string
	work    string
	console *bytes.Buffer
	events  []Event
}

func newRunEnv(t *testing.T) *runEnv {
	return &runEnv{t: t, logDir: t.TempDir(), work: t.TempDir(), console: &bytes.Buffer{}}
}

// run parses doc (with @WORK@ replaced by the work dir) and runs it.
func (e *runEnv) run(doc string, mod func(*RunOptions)) *Execution {
	e.t.Helper()
	doc = strings.ReplaceAll(doc, "@WORK@", e.work)
	d, err := ParseDocument(filepath.Join(e.work, "doc.yml"), []byte(doc))
	if err != nil {
		e.t.Fatalf("parse: %v", err)
	}
	opts := RunOptions{Documents: []*Document{d}, LogDirectory: e.logDir, WorkDir: e.work, Stdout: e.console,
		OnEvent: func(ev Event) { e.events = append(e.events, ev) }}
	if mod != nil {
		mod(&opts)
	}
	ex, err := Run(context.Background(), opts)
	if err != nil {
		e.t.Fatalf("run: %v\nconsole:\n%s", err, e.console)
	}
	return ex
}

func step(t *testing.T, ex *Execution, phase, name string) *StepResult {
	t.Helper()
	for _, d := range ex.Documents {
		for _, p := range d.Phases {
			if p.Name != phase {
				continue
			}
			for _, s := range p.Steps {
				if s.Name == name {
					return s
				}
			}
		}
	}
	t.Fatalf("step %s.%s not in the result", phase, name)
	return nil
}

func stepOutput(t *testing.T, s *StepResult, key string) string {
	t.Helper()
	var outs []map[string]any
	if err := json.Unmarshal([]byte(s.Outputs), &outs); err != nil || len(outs) != 1 {
		t.Fatalf("outputs %q: %v", s.Outputs, err)
	}
	v, _ := outs[0][key].(string)
	return v
}

const chainDoc = `name: chain
schemaVersion: 1.0
parameters:
  - Who:
      type: string
      default: nobody
constants:
  - Greeting:
      type: string
      value: hello
phases:
  - name: build
    steps:
      - name: Make
        action: CreateFolder
        inputs:
          - path: '@WORK@/made'
      - name: Say
        action: ExecuteBash
        inputs:
          commands:
            - echo "{{ Greeting }} {{ Who }}"
  - name: validate
    steps:
      - name: Check
        action: ExecuteBash
        inputs:
          commands:
            - test -d '{{ build.Make.inputs[0].path }}'
            - echo "got={{build.Say.outputs.stdout}}"
`

func TestRunChainingAndLogs(t *testing.T) {
	e := newRunEnv(t)
	ex := e.run(chainDoc, func(o *RunOptions) { o.Parameters = map[string]string{"Who": "world", "Unknown": "x"} })
	if ex.Status != StatusSuccess {
		t.Fatalf("status %s: %s\n%s", ex.Status, ex.FailureMessage, e.console)
	}
	if got := stepOutput(t, step(t, ex, "validate", "Check"), "stdout"); got != "got=hello world" {
		t.Fatalf("chained stdout %q", got)
	}
	if ex.ExecutedStepCount != 3 || ex.FailedStepCount != 0 {
		t.Fatalf("counts %+v", ex.Summary())
	}
	// log folder
	if !strings.HasPrefix(filepath.Base(ex.LogURL), "TOE_") || !strings.HasSuffix(ex.LogURL, "_UTC-0_"+ex.ExecutionID) {
		t.Fatalf("log folder %s", ex.LogURL)
	}
	for _, f := range []string{ApplicationLogFile, ConsoleLogFile, DetailedOutputFile, ChainingFile, DocumentCopyFile} {
		if _, err := os.Stat(filepath.Join(ex.LogURL, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	con, _ := os.ReadFile(filepath.Join(ex.LogURL, ConsoleLogFile))
	if !strings.Contains(string(con), "hello world") || !strings.Contains(string(con), `"executedStepCount":3`) {
		t.Errorf("console.log:\n%s", con)
	}
	// detailedoutput.json shape
	var det map[string]any
	data, _ := os.ReadFile(filepath.Join(ex.LogURL, DetailedOutputFile))
	if err := json.Unmarshal(data, &det); err != nil {
		t.Fatal(err)
	}
	if det["status"] != "Success" || det["executionId"] != ex.ExecutionID {
		t.Fatalf("detailed output %v", det)
	}
	st := det["documents"].([]any)[0].(map[string]any)["phases"].([]any)[0].(map[string]any)["steps"].([]any)[1].(map[string]any)
	for _, k := range []string{"name", "status", "action", "startTime", "endTime", "inputs", "outputs", "failureMessage", "timeoutSeconds", "onFailure", "maxAttempts"} {
		if _, ok := st[k]; !ok {
			t.Errorf("step lacks %s: %v", k, st)
		}
	}
	if in, ok := st["inputs"].(string); !ok || !strings.Contains(in, `hello world`) {
		t.Errorf("inputs must be a JSON string with resolved values: %#v", st["inputs"])
	}
	if out, ok := st["outputs"].(string); !ok || out != `[{"stdout":"hello world"}]` {
		t.Errorf("outputs: %#v", st["outputs"])
	}
	var chain []chainRecord
	data, _ = os.ReadFile(filepath.Join(ex.LogURL, ChainingFile))
	if err := json.Unmarshal(data, &chain); err != nil || len(chain) < 4 {
		t.Fatalf("chaining.json %s: %v", data, err)
	}
	// events
	kinds := map[EventKind]int{}
	for _, ev := range e.events {
		kinds[ev.Kind]++
	}
	if kinds[EventStepStarted] != 3 || kinds[EventStepFinished] != 3 || kinds[EventExecutionFinished] != 1 || kinds[EventPhaseStarted] != 2 {
		t.Errorf("events %v", kinds)
	}
}

func TestRunPhaseFilterAndOrder(t *testing.T) {
	e := newRunEnv(t)
	ex := e.run(chainDoc, func(o *RunOptions) { o.Phases = []string{"validate", "build"} })
	d := ex.Documents[0]
	if len(d.Phases) != 2 || d.Phases[0].Name != "build" {
		t.Fatalf("phases must run in document order: %+v", d.Phases)
	}
	ex = e.run(chainDoc, func(o *RunOptions) { o.Phases = []string{"test"} })
	if ex.Status != StatusSuccess || ex.ExecutedStepCount != 0 {
		t.Fatalf("no matching phase: %+v", ex.Summary())
	}
}

func TestRunLoops(t *testing.T) {
	e := newRunEnv(t)
	ex := e.run(`schemaVersion: 1.0
parameters:
  - Hosts:
      type: string
      default: a;b;c
phases:
  - name: build
    steps:
      - name: For
        action: ExecuteBash
        loop:
          for: {start: 1, end: 5, updateBy: 2}
        inputs:
          commands: ['echo "{{ loop.index }}:{{ loop.value }}"']
      - name: Down
        action: ExecuteBash
        loop:
          name: down
          for: {start: 3, end: 1, updateBy: -1}
        inputs:
          commands: ['echo {{ down.value }}']
      - name: List
        action: ExecuteBash
        loop:
          forEach: [x, '{{ build.Down.outputs.stdout }}']
        inputs:
          commands: ['echo "[{{ loop.value }}]"']
      - name: Delimited
        action: ExecuteBash
        loop:
          name: host
          forEach:
            list: '{{ Hosts }}'
            delimiter: ';'
        inputs:
          commands: ['echo {{ host.index }}={{ host.value }}']
`, nil)
	if ex.Status != StatusSuccess {
		t.Fatalf("%s: %s\n%s", ex.Status, ex.FailureMessage, e.console)
	}
	for _, c := range []struct{ step, want string }{
		{"For", "0:1\n1:3\n2:5"},
		{"Down", "3\n2\n1"},
		{"List", "[x]\n[3\n2\n1]"},
		{"Delimited", "0=a\n1=b\n2=c"},
	} {
		s := step(t, ex, "build", c.step)
		if got := stepOutput(t, s, "stdout"); got != c.want {
			t.Errorf("%s: stdout %q, want %q", c.step, got, c.want)
		}
		if s.Loop == nil || len(s.DetailedOutput) != s.Loop.Iterations {
			t.Errorf("%s: loop details %+v", c.step, s.Loop)
		}
	}
	if s := step(t, ex, "build", "For"); s.DetailedOutput[1].Value != "3" || s.DetailedOutput[1].Index != 1 || !strings.Contains(s.DetailedOutput[1].Inputs, "1:3") {
		t.Errorf("iteration record %+v", s.DetailedOutput[1])
	}
}

func TestRunLoopFailureAndRetry(t *testing.T) {
	e := newRunEnv(t)
	// every attempt runs all iterations; iteration 1 fails on attempts 1 and 2
	ex := e.run(`schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: L
        action: ExecuteBash
        maxAttempts: 3
        loop:
          forEach: [a, b, c]
        inputs:
          commands:
            - echo {{ loop.value }} >> @WORK@/ran
            - n=$(grep -c . @WORK@/ran)
            - if [ {{ loop.value }} = b ] && [ $n -lt 7 ]; then exit 3; fi
`, nil)
	s := step(t, ex, "build", "L")
	if ex.Status != StatusSuccess || s.Attempts != 3 {
		t.Fatalf("status %s attempts %d: %s", ex.Status, s.Attempts, s.FailureMessage)
	}
	ran, _ := os.ReadFile(filepath.Join(e.work, "ran"))
	if string(ran) != "a\nb\nc\na\nb\nc\na\nb\nc\n" {
		t.Fatalf("a retry must re-run the whole loop, ran:\n%s", ran)
	}
	ex = e.run(`schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: L
        action: ExecuteBash
        loop:
          forEach: [a, b, c, d]
        inputs:
          commands: ['[ {{ loop.value }} != b ] && [ {{ loop.value }} != d ]']
`, nil)
	s = step(t, ex, "build", "L")
	if s.Status != StatusFailed || !strings.Contains(s.FailureMessage, "iteration(s) 1, 3 failed") {
		t.Fatalf("loop failure: %s %q", s.Status, s.FailureMessage)
	}
}

func TestRunOnFailure(t *testing.T) {
	tests := []struct {
		onFailure  string
		step, exec Status
		laterRan   bool
	}{
		{"Abort", StatusFailed, StatusFailed, false},
		{"Continue", StatusFailed, StatusFailed, true},
		{"Ignore", StatusIgnoredFailure, StatusSuccessWithIgnoredFailure, true},
	}
	for _, tc := range tests {
		t.Run(tc.onFailure, func(t *testing.T) {
			e := newRunEnv(t)
			ex := e.run(`schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Bad
        action: ExecuteBash
        onFailure: `+tc.onFailure+`
        inputs:
          commands: ['echo oops >&2', 'exit 7']
      - name: Later
        action: ExecuteBash
        inputs:
          commands: ['echo later']
  - name: validate
    steps:
      - name: NextPhase
        action: ExecuteBash
        inputs:
          commands: ['echo next']
`, nil)
			bad := step(t, ex, "build", "Bad")
			if bad.Status != tc.step || ex.Status != tc.exec {
				t.Fatalf("step %s exec %s", bad.Status, ex.Status)
			}
			if bad.FailureMessage == "" || bad.ExitCode != 7 {
				t.Errorf("failure message %q exit %d", bad.FailureMessage, bad.ExitCode)
			}
			ran := len(ex.Documents[0].Phases) == 2
			if ran != tc.laterRan {
				t.Errorf("later phases ran=%v", ran)
			}
			if tc.exec == StatusFailed && !strings.Contains(ex.FailureMessage, "Bad") {
				t.Errorf("execution failure message %q", ex.FailureMessage)
			}
			if !strings.Contains(e.console.String(), "ErrorMessage") {
				t.Errorf("console lacks the failure block:\n%s", e.console)
			}
		})
	}
}

func TestRunConditions(t *testing.T) {
	e := newRunEnv(t)
	if err := os.WriteFile(filepath.Join(e.work, "f.txt"), []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	ex := e.run(`schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Version
        action: ExecuteBash
        inputs:
          commands: ['echo 10.2']
      - name: Runs
        action: ExecuteBash
        if:
          and:
            - binaryExists: bash
            - fileExists: f.txt
            - numberGreaterThan: 9
              value: '{{ build.Version.outputs.stdout }}'
            - not:
                folderExists: /definitely/not/here
            - fileSHA256Equals: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
              path: '@WORK@/f.txt'
        inputs:
          commands: ['echo ran']
      - name: Skipped
        action: ExecuteBash
        if:
          stringEquals: '10.3'
          value: '{{ build.Version.outputs.stdout }}'
        inputs:
          commands: ['exit 1']
      - name: UsesSkipped
        action: ExecuteBash
        if:
          or:
            - stringIsEmpty: '{{ build.Skipped.outputs.stdout }}'
            - patternMatches: '^x'
              value: y
          then: Execute
        inputs:
          commands: ['echo "[{{ build.Skipped.outputs.stdout }}]"']
      - name: AbortIt
        action: ExecuteBash
        onFailure: Ignore
        if:
          numberEquals: 1
          value: not-a-number
          else: Abort
        inputs:
          commands: ['echo never']
      - name: Assertion
        action: Assert
        inputs:
          stringEquals: '10.2'
          value: '{{ build.Version.outputs.stdout }}'
`, nil)
	want := map[string]Status{"Runs": StatusSuccess, "Skipped": StatusSkipped, "UsesSkipped": StatusSuccess,
		"AbortIt": StatusIgnoredFailure, "Assertion": StatusSuccess}
	for name, st := range want {
		if got := step(t, ex, "build", name); got.Status != st {
			t.Errorf("%s: %s (%s), want %s", name, got.Status, got.FailureMessage, st)
		}
	}
	if got := stepOutput(t, step(t, ex, "build", "UsesSkipped"), "stdout"); got != "[]" {
		t.Errorf("a skipped step's output is empty, got %q", got)
	}
	if ex.Status != StatusSuccessWithIgnoredFailure {
		t.Errorf("status %s", ex.Status)
	}
}

func TestRunTimeoutKillsProcess(t *testing.T) {
	e := newRunEnv(t)
	start := time.Now()
	ex := e.run(`schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Slow
        action: ExecuteBash
        timeoutSeconds: 1
        inputs:
          commands:
            - (sleep 2; touch @WORK@/child-survived) &
            - sleep 2; touch @WORK@/survived
`, nil)
	took := time.Since(start)
	s := step(t, ex, "build", "Slow")
	if s.Status != StatusFailed || !strings.Contains(s.FailureMessage, "timed out after 1 seconds") {
		t.Fatalf("%s %q", s.Status, s.FailureMessage)
	}
	if took > 1900*time.Millisecond {
		t.Errorf("the timeout took %s", took)
	}
	time.Sleep(1500 * time.Millisecond)
	for _, f := range []string{"survived", "child-survived"} {
		if _, err := os.Stat(filepath.Join(e.work, f)); err == nil {
			t.Errorf("%s: the process group was not killed", f)
		}
	}
}

func TestRunCancelled(t *testing.T) {
	e := newRunEnv(t)
	d, err := ParseDocument("c.yml", []byte("schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: A\n        action: ExecuteBash\n        inputs:\n          commands: ['sleep 5']\n      - name: B\n        action: ExecuteBash\n        inputs:\n          commands: ['echo b']\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	ex, err := Run(ctx, RunOptions{Documents: []*Document{d}, LogDirectory: e.logDir})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != StatusCancelled || step(t, ex, "build", "A").Status != StatusCancelled {
		t.Fatalf("status %s", ex.Status)
	}
	if len(ex.Documents[0].Phases[0].Steps) != 1 {
		t.Errorf("B must not run")
	}
}

func TestRunFailedStepOutputsChain(t *testing.T) {
	e := newRunEnv(t)
	ex := e.run(`schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Bad
        action: ExecuteBash
        onFailure: Ignore
        inputs:
          commands: ['echo partial', 'exit 1']
      - name: Use
        action: ExecuteBash
        inputs:
          commands: ['echo "[{{ build.Bad.outputs.stdout }}]"']
`, nil)
	if ex.Status != StatusSuccessWithIgnoredFailure {
		t.Fatalf("%s %s", ex.Status, ex.FailureMessage)
	}
	got := stepOutput(t, step(t, ex, "build", "Use"), "stdout")
	if got != "[partial]" && got != "[]" {
		t.Fatalf("got %q", got)
	}
}
