package module

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// decodeYAML converts YAML text into the contract encoding: maps, lists,
// scalar source text and nil.
func decodeYAML(t testing.TB, text string) any {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(text), &n); err != nil {
		t.Fatalf("yaml: %v\n%s", err, text)
	}
	return nodeValue(&n)
}

// decodeYAMLNoFail is decodeYAML returning nil for invalid YAML.
func decodeYAMLNoFail(text string) any {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(text), &n); err != nil {
		return nil
	}
	return nodeValue(&n)
}

func nodeValue(n *yaml.Node) any {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return nodeValue(n.Content[0])
	case yaml.AliasNode:
		return nodeValue(n.Alias)
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return nil
		}
		return n.Value
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			out[i] = nodeValue(c)
		}
		return out
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			out[n.Content[i].Value] = nodeValue(n.Content[i+1])
		}
		return out
	}
	return nil
}

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv returns an Env rooted in a fresh temporary working directory.
func testEnv(t *testing.T) (*Env, *syncBuffer, *syncBuffer) {
	t.Helper()
	var out, errb syncBuffer
	return &Env{Stdout: &out, Stderr: &errb, WorkDir: t.TempDir(), TempDir: t.TempDir()}, &out, &errb
}

// mustModule looks up a module or fails the test.
func mustModule(t testing.TB, name string) Module {
	t.Helper()
	m, ok := Lookup(name)
	if !ok {
		t.Fatalf("module %s not registered", name)
	}
	return m
}

func problemsString(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "\n  %s", p)
	}
	return b.String()
}

// hasProblem reports whether a problem with the field exists.
func hasProblem(ps []Problem, field string) bool {
	for _, p := range ps {
		if p.Field == field {
			return true
		}
	}
	return false
}
