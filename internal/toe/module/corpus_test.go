package module

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// corpusSteps returns every step (as decoded maps) of a corpus file: a full
// document (phases/steps), a single step, or a list of steps or phases.
func corpusSteps(doc any) []map[string]any {
	var out []map[string]any
	var visit func(v any)
	visit = func(v any) {
		switch t := v.(type) {
		case []any:
			for _, it := range t {
				visit(it)
			}
		case map[string]any:
			if ph, ok := t["phases"]; ok {
				visit(ph)
				return
			}
			if st, ok := t["steps"]; ok {
				visit(st)
				return
			}
			if _, ok := t["action"]; ok {
				out = append(out, t)
			}
		}
	}
	visit(doc)
	return out
}

func TestCorpusStepsPassCheck(t *testing.T) {
	for _, dir := range []string{"testdata/components", "testdata/step-fragments"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.y*ml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no corpus files in %s: %v", dir, err)
		}
		for _, f := range files {
			t.Run(filepath.Base(f), func(t *testing.T) {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				var n yaml.Node
				if err := yaml.Unmarshal(data, &n); err != nil {
					t.Skipf("does not parse as YAML (negative case for the document parser): %v", err)
				}
				steps := corpusSteps(nodeValue(&n))
				if len(steps) == 0 {
					t.Fatal("no steps found")
				}
				negative := strings.Contains(f, "NEGATIVE")
				total := 0
				for _, st := range steps {
					action, _ := st["action"].(string)
					m, ok := Lookup(action)
					if !ok {
						t.Errorf("step %v: unknown action %q", st["name"], action)
						continue
					}
					ps := m.Check(st["inputs"])
					total += len(ps)
					if len(ps) > 0 && !negative {
						t.Errorf("step %v (%s): unexpected problems:%s", st["name"], action, problemsString(ps))
					}
				}
				if negative && total == 0 {
					t.Errorf("NEGATIVE document passed every module check")
				}
			})
		}
	}
}
