package module

import (
	"context"
	"io"
	"testing"
)

// BenchmarkExecuteBashTrivial measures the cost of one trivial ExecuteBash
// step (lookup, check, script file, bash start, capture).
func BenchmarkExecuteBashTrivial(b *testing.B) {
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, WorkDir: b.TempDir(), TempDir: b.TempDir()}
	in := map[string]any{"commands": []any{"echo hi"}}
	for b.Loop() {
		m, _ := Lookup("ExecuteBash")
		if ps := m.Check(in); len(ps) > 0 {
			b.Fatal(ps)
		}
		if _, err := m.Run(context.Background(), env, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookup measures building the registry for one lookup.
func BenchmarkLookup(b *testing.B) {
	for b.Loop() {
		if _, ok := Lookup("WebDownload"); !ok {
			b.Fatal("missing")
		}
	}
}
