package toe

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const helloDoc = `name: hello
description: says hello
schemaVersion: 1.0
parameters:
  - Greeting:
      type: string
      default: hello
      description: what to say
  - Count:
      type: integer
  - Verbose:
      type: boolean
      default: false
constants:
  - Target:
      type: string
      value: world
phases:
  - name: build
    steps:
      - name: Say
        action: ExecuteBash
        timeoutSeconds: 60
        onFailure: Continue
        maxAttempts: 2
        inputs:
          commands:
            - echo "{{ Greeting }} {{ Target }}"
`

func TestParseDocumentModel(t *testing.T) {
	d, err := ParseDocument("hello.yml", []byte(helloDoc))
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "hello" || d.SchemaVersion != "1.0" || len(d.Phases) != 1 {
		t.Fatalf("unexpected model %+v", d)
	}
	if len(d.Parameters) != 3 || d.Parameters[0].Name != "Greeting" || *d.Parameters[0].Default != "hello" ||
		d.Parameters[1].Default != nil || d.Parameters[1].Type != "integer" || d.Parameters[0].Description != "what to say" {
		t.Fatalf("parameters: %+v", d.Parameters)
	}
	st := d.Phases[0].Steps[0]
	if st.TimeoutSeconds != 60 || st.OnFailure != OnFailureContinue || st.MaxAttempts != 2 || st.Line != 21 {
		t.Fatalf("step: %+v", st)
	}
	if d.Constants[0].Value != "world" {
		t.Fatalf("constants: %+v", d.Constants)
	}
}

func TestParseSchemaVersionForms(t *testing.T) {
	for _, sv := range []string{`1.0`, `"1.0"`, `'1.0'`, `1`} {
		doc := "schemaVersion: " + sv + "\nphases:\n  - name: build\n    steps:\n      - name: A\n        action: ExecuteBash\n        inputs:\n          commands: [echo]\n"
		d, err := ParseDocument("x.yml", []byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", sv, err)
		}
		if d.SchemaVersion != "1.0" {
			t.Fatalf("%s: got %q", sv, d.SchemaVersion)
		}
	}
}

func TestParseJSONDocument(t *testing.T) {
	doc := "{\n\t\"schemaVersion\": 1.0,\n\t\"phases\": [{\"name\": \"build\", \"steps\": [{\"name\": \"A\", \"action\": \"ExecuteBash\", \"inputs\": {\"commands\": [\"echo hi\"]}}]}]\n}\n"
	d, err := ParseDocument("x.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if d.Phases[0].Steps[0].Name != "A" || d.Phases[0].Steps[0].Line != 3 {
		t.Fatalf("got %+v", d.Phases[0].Steps[0])
	}
}

func TestParseDocumentErrors(t *testing.T) {
	const head = "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
	step := func(extra string) string {
		return head + "      - name: S\n        action: ExecuteBash\n        inputs:\n          commands: [echo]\n" + extra
	}
	tests := []struct {
		name, doc string
		line      int
		want      []string // substrings of the error message
	}{
		{"invalid yaml", "schemaVersion: 1.0\nphases: [\n", 2, []string{"invalid YAML"}},
		{"not a map", "- a\n- b\n", 1, []string{"must be a YAML mapping"}},
		{"empty", "", 1, []string{"empty"}},
		{"unknown top-level key", "schemaVersion: 1.0\nphase: []\n", 2, []string{`unknown top-level key "phase"`}},
		{"schemaVersion missing", "phases: []\n", 1, []string{"schemaVersion", "missing"}},
		{"schemaVersion wrong", "schemaVersion: 2.0\nphases: []\n", 1, []string{"schemaVersion", `"2.0"`}},
		{"phases missing", "schemaVersion: 1.0\n", 1, []string{"phases", "missing"}},
		{"no standard phase", "schemaVersion: 1.0\nphases:\n  - name: custom\n    steps:\n      - name: S\n        action: Reboot\n", 3, []string{"at least one of the phases build, validate or test"}},
		{"duplicate phase", head + "      - {name: S, action: Reboot}\n  - name: build\n    steps:\n      - {name: S, action: Reboot}\n", 6, []string{`duplicate phase name "build"`}},
		{"parameter type", "schemaVersion: 1.0\nparameters:\n  - Abc:\n      type: float\nphases: []\n", 4, []string{"Abc.type", `"float"`}},
		{"parameter name short", "schemaVersion: 1.0\nparameters:\n  - A:\n      type: string\nphases: []\n", 3, []string{`parameter name "A"`}},
		{"parameter default type", "schemaVersion: 1.0\nparameters:\n  - Abc:\n      type: integer\n      default: x\nphases: []\n", 5, []string{"Abc.default", `"x"`, "not an integer"}},
		{"parameter and constant clash", "schemaVersion: 1.0\nparameters:\n  - Abc:\n      type: string\nconstants:\n  - Abc:\n      type: string\n      value: v\nphases: []\n", 6, []string{`"Abc" is already used by a parameter`}},
		{"constant without value", "schemaVersion: 1.0\nconstants:\n  - Abc:\n      type: string\nphases: []\n", 4, []string{"Abc.value", "missing"}},
		{"step not a map", head + "      - just-a-string\n", 5, []string{"phases[0].steps[0]", "must be a map"}},
		{"step name missing", head + "      - action: Reboot\n", 5, []string{"name", "missing"}},
		{"action missing", head + "      - name: S\n", 5, []string{"(S)", "action", "missing"}},
		{"duplicate step", head + "      - {name: S, action: Reboot}\n      - {name: S, action: Reboot}\n", 6, []string{`duplicate step name "S"`}},
		{"unknown step key", step("        retries: 3\n"), 9, []string{"(S)", `unknown step key "retries"`}},
		{"onFailure", step("        onFailure: Stop\n"), 9, []string{"onFailure", `"Stop"`}},
		{"maxAttempts", step("        maxAttempts: 0\n"), 9, []string{"maxAttempts", "0"}},
		{"maxAttempts text", step("        maxAttempts: many\n"), 9, []string{"maxAttempts", `"many"`}},
		{"timeout zero", step("        timeoutSeconds: 0\n"), 9, []string{"timeoutSeconds", "0"}},
		{"timeout negative", step("        timeoutSeconds: -5\n"), 9, []string{"timeoutSeconds", "-5"}},
		{"if unknown op", step("        if:\n          stringEqual: a\n          value: b\n"), 10, []string{"if.stringEqual", "unknown condition operator"}},
		{"if two ops", step("        if:\n          stringEquals: a\n          fileExists: b\n          value: b\n"), 10, []string{"2 operators"}},
		{"if missing value", step("        if:\n          stringEquals: a\n"), 10, []string{"if.value", "needs a value"}},
		{"if then", step("        if:\n          fileExists: /x\n          then: Run\n"), 11, []string{"if.then", `"Run"`}},
		{"if nested then", step("        if:\n          and:\n            - fileExists: /x\n              then: Skip\n"), 12, []string{"only allowed at the top"}},
		{"if bad regex", step("        if:\n          patternMatches: '('\n          value: x\n"), 10, []string{"invalid regular expression"}},
		{"if hash needs path", step("        if:\n          fileSHA256Equals: abc\n"), 10, []string{"if.path", "needs the file"}},
		{"loop both", step("        loop:\n          for: {start: 0, end: 1, updateBy: 1}\n          forEach: [a]\n"), 10, []string{"either for or forEach"}},
		{"loop updateBy zero", step("        loop:\n          for: {start: 0, end: 1, updateBy: 0}\n"), 10, []string{"updateBy must not be 0"}},
		{"loop never ends", step("        loop:\n          for: {start: 0, end: 5, updateBy: -1}\n"), 10, []string{"never ends"}},
		{"loop bound text", step("        loop:\n          for: {start: a, end: 5, updateBy: 1}\n"), 10, []string{"loop.for.start", `"a"`}},
		{"loop delimiter", step("        loop:\n          forEach:\n            list: a|b\n            delimiter: '|'\n"), 12, []string{"delimiter", `"|"`}},
		{"loop reserved name", step("        loop:\n          name: loop\n          forEach: [a]\n"), 10, []string{"reserved"}},
		{"disableLogging", step("        disableLogging: maybe\n"), 9, []string{"disableLogging", `"maybe"`}},
		{"alias", "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: S\n        action: ListFiles\n        inputs:\n          - path: /x\n            fileNamePattern: *log\n", 9, []string{"invalid YAML"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDocument("doc.yml", []byte(tc.doc))
			if err == nil {
				t.Fatal("expected an error")
			}
			var de *DocumentError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a DocumentError: %v", err, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "doc.yml") {
				t.Errorf("message does not name the file: %s", msg)
			}
			found := false
			for _, e := range asList(err) {
				if e.Line == tc.line && containsAll(e.Error(), tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("want an error at line %d containing %q, got:\n%s", tc.line, tc.want, msg)
			}
		})
	}
}

func asList(err error) []*DocumentError {
	var v ValidationErrors
	if errors.As(err, &v) {
		return v
	}
	var d *DocumentError
	if errors.As(err, &d) {
		return []*DocumentError{d}
	}
	return nil
}

func containsAll(s string, subs []string) bool {
	for _, w := range subs {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

func TestParseKeepsOctalSourceText(t *testing.T) {
	doc := "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: P\n        action: SetFolderPermissions\n        inputs:\n          - path: /x\n            permissions: 0700\n"
	d, err := ParseDocument("p.yml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	in := decodeInputs(d.Phases[0].Steps[0].Inputs).([]any)
	if got := in[0].(map[string]any)["permissions"]; got != "0700" {
		t.Fatalf("permissions decoded as %#v", got)
	}
}

// corpusFiles lists the copied corpus files of one folder.
func corpusFiles(t testing.TB, folder string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", folder, "*.y*ml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files in %s: %v", folder, err)
	}
	return files
}

// invalidYAML are the corpus documents that are not valid YAML upstream.
var invalidYAML = map[string]bool{
	"install-vscode.yml":                true,
	"chef-recipe-execution-windows.yml": true,
	"awsdocs-toe-CreateFile-03.yml":     true,
	"awsdocs-toe-ListFiles-03.yml":      true,
	"awsdocs-toe-ListFiles-04.yml":      true,
	"awsdocs-toe-WebDownload-01.yml":    true,
	"awsdocs-toe-WebDownload-02.yml":    true,
	"awsdocs-toe-WebDownload-03.yml":    true,
	"awsdocs-toe-WebDownload-04.yml":    true,
}

func TestParseCorpusComponents(t *testing.T) {
	for _, f := range corpusFiles(t, "components") {
		base := filepath.Base(f)
		t.Run(base, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseDocument(base, data)
			if invalidYAML[base] {
				if err == nil {
					t.Fatal("invalid YAML upstream, but parsed")
				}
				if de := asList(err); len(de) == 0 || de[0].Line == 0 {
					t.Fatalf("error has no line: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a: &a [x, x, x, x, x, x, x, x, x]\n")
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		b.WriteString(n + ": &" + n + " [" + strings.Repeat("*"+prev+", ", 8) + "*" + prev + "]\n")
		prev = n
	}
	_, err := ParseDocument("bomb.yml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("got %v", err)
	}
}
