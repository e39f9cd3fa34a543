package toe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// negativeDocs are corpus documents that must fail validation.
var negativeDocs = map[string]string{
	// S3Download with a local source, an s3:// destination and an
	// undocumented recurse input.
	"docgen-readme-fictional-mixed-actions-NEGATIVE.yml": "DownloadFile",
}

func TestValidateCorpusComponents(t *testing.T) {
	for _, f := range corpusFiles(t, "components") {
		base := filepath.Base(f)
		if invalidYAML[base] {
			continue
		}
		t.Run(base, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			d, err := ParseDocument(base, data)
			if err != nil {
				t.Fatal(err)
			}
			err = Validate(d)
			if step, neg := negativeDocs[base]; neg {
				if err == nil {
					t.Fatal("NEGATIVE document validated")
				}
				found := false
				for _, e := range asList(err) {
					if e.Step == step && e.Line > 0 {
						found = true
					}
				}
				if !found {
					t.Fatalf("want a located error in step %s, got:\n%v", step, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// fragmentDocument wraps a step fragment (one step or a list of steps)
// into a document with a build phase.
func fragmentDocument(t *testing.T, name string, data []byte) (*Document, error) {
	t.Helper()
	root, err := parseTree(name, data)
	if err != nil {
		return nil, err
	}
	steps := root
	if root.Kind == KindList && len(root.Items) > 0 && root.Items[0].Has("steps") {
		// a list of phases: gather their steps
		steps = &Value{Kind: KindList, Line: root.Line, Column: root.Column}
		for _, ph := range root.Items {
			steps.Items = append(steps.Items, ph.Get("steps").Items...)
		}
	}
	if root.Kind == KindMap {
		steps = &Value{Kind: KindList, Items: []*Value{root}, Line: root.Line, Column: root.Column}
	}
	doc := &Value{Kind: KindMap, Line: 1, Column: 1,
		Keys:   []string{"schemaVersion", "phases"},
		KeyPos: []*Value{StringValue("schemaVersion"), StringValue("phases")},
		Vals: []*Value{{Kind: KindScalar, Text: "1.0", Tag: "!!float"}, {Kind: KindList, Items: []*Value{{
			Kind: KindMap, Keys: []string{"name", "steps"}, KeyPos: []*Value{StringValue("name"), StringValue("steps")},
			Vals: []*Value{StringValue("build"), steps}}}}}}
	return parseDocumentValue(name, doc, data)
}

func TestValidateCorpusStepFragments(t *testing.T) {
	for _, f := range corpusFiles(t, "step-fragments") {
		base := filepath.Base(f)
		t.Run(base, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			d, err := fragmentDocument(t, base, data)
			if invalidYAML[base] {
				if err == nil {
					t.Fatal("fragment does not parse upstream, but parsed")
				}
				if l := asList(err); len(l) == 0 || l[0].Line == 0 || !strings.HasPrefix(err.Error(), base+":") {
					t.Fatalf("error is not located: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := Validate(d); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	const head = "schemaVersion: 1.0\nparameters:\n  - Param1:\n      type: string\n      default: x\nphases:\n  - name: build\n    steps:\n"
	bash := func(name, cmd string) string {
		return "      - name: " + name + "\n        action: ExecuteBash\n        inputs:\n          commands:\n            - " + cmd + "\n"
	}
	tests := []struct {
		name, doc string
		line      int
		want      []string
	}{
		{"unknown action", head + "      - name: S\n        action: ExecuteBashh\n", 9, []string{"(S)", "action", `unknown action module "ExecuteBashh"`}},
		{"module inputs", head + "      - name: S\n        action: ExecuteBash\n        inputs:\n          command: [x]\n", 12, []string{"(S)", "inputs"}},
		{"missing commands", head + "      - name: S\n        action: ExecuteBash\n", 9, []string{"(S)", "commands"}},
		{"unknown variable", head + bash("S", "echo {{ Nope }}"), 13, []string{"(S)", "inputs.commands[0]", `unknown parameter or constant "Nope"`}},
		{"later step", head + bash("S", "echo {{ build.T.outputs.stdout }}") + bash("T", "echo"), 13, []string{"runs later"}},
		{"self reference", head + bash("S", "echo {{ build.S.outputs.stdout }}"), 13, []string{"itself"}},
		{"unknown step", head + bash("S", "echo {{ build.X.outputs.stdout }}"), 13, []string{`unknown step "X"`}},
		{"unknown phase", head + bash("S", "echo {{ bild.X.outputs.stdout }}"), 13, []string{`unknown phase "bild"`}},
		{"later phase", head + bash("S", "echo {{ test.T.outputs.stdout }}") + "  - name: test\n    steps:\n" + bash("T", "echo"), 13, []string{"runs later"}},
		{"loop var outside loop", head + bash("S", "echo {{ loop.value }}"), 13, []string{"outside a loop"}},
		{"wrong loop name", head + "      - name: S\n        action: ExecuteBash\n        loop:\n          name: outer\n          forEach: [a]\n        inputs:\n          commands:\n            - echo {{ inner.value }}\n", 16, []string{`unknown loop "inner"`}},
		{"bad expression", head + bash("S", "echo {{ a b }}"), 13, []string{"invalid expression"}},
		{"unterminated", head + bash("S", "echo {{ Param1"), 13, []string{"unterminated"}},
		{"chaining in for", head + bash("A", "echo 3") + "      - name: S\n        action: ExecuteBash\n        loop:\n          for:\n            start: 0\n            end: '{{ build.A.outputs.stdout }}'\n            updateBy: 1\n        inputs:\n          commands: [echo]\n", 19, []string{"not allowed here"}},
		{"input index", head + "      - name: D\n        action: CreateFolder\n        inputs:\n          - path: /tmp/x\n" + bash("S", "echo {{ build.D.inputs[3].path }}"), 17, []string{"only 1 input item"}},
		{"if operand", head + "      - name: S\n        action: ExecuteBash\n        if:\n          stringEquals: '{{ Missing }}'\n          value: x\n        inputs:\n          commands: [echo]\n", 12, []string{"if.stringEquals", "Missing"}},
		{"executedocument timeout", head + "      - name: S\n        action: ExecuteDocument\n        timeoutSeconds: 60\n        inputs:\n          document: sub.yml\n", 9, []string{"timeoutSeconds", "ExecuteDocument"}},
		{"duplicate loop name", head + "      - name: A\n        action: ExecuteBash\n        loop:\n          name: l1\n          forEach: [a]\n        inputs:\n          commands: [echo]\n      - name: B\n        action: ExecuteBash\n        loop:\n          name: l1\n          forEach: [a]\n        inputs:\n          commands: [echo]\n", 19, []string{"duplicate loop name"}},
		{"ssm resolve unknown", head + bash("S", "echo '{{ aws:ssm:resolve(Nope) }}'"), 13, []string{"resolve()"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDocument("doc.yml", []byte(tc.doc))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			err = Validate(d)
			if err == nil {
				t.Fatal("expected a validation error")
			}
			found := false
			for _, e := range asList(err) {
				if e.Line == tc.line && containsAll(e.Error(), tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("want an error at line %d containing %q, got:\n%v", tc.line, tc.want, err)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	doc := `schemaVersion: 1.0
parameters:
  - Count:
      type: integer
      default: 2
phases:
  - name: build
    steps:
      - name: Make
        action: CreateFolder
        inputs:
          - path: /tmp/x
      - name: Loop
        action: ExecuteBash
        loop:
          name: outer
          for:
            start: 1
            end: '{{ Count }}'
            updateBy: 1
        inputs:
          commands:
            - echo {{ outer.value }} {{ loop.index }} {{build.Make.inputs[0].path}} {{ env:HOME }} {{ context:executionId }}
  - name: validate
    steps:
      - name: Check
        action: ExecuteBash
        if:
          and:
            - stringEquals: x
              value: '{{ build.Loop.outputs.stdout }}'
            - not:
                fileExists: /nope
          then: Execute
          else: Skip
        inputs:
          commands:
            - echo "{{ build.Loop.outputs.stdout }}"
`
	d, err := ParseDocument("ok.yml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(d); err != nil {
		t.Fatal(err)
	}
}
