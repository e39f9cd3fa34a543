package container

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// countedLayer counts how often its contents are read.
type countedLayer struct {
	v1.Layer
	reads *atomic.Int32
}

func (l countedLayer) Uncompressed() (io.ReadCloser, error) {
	l.reads.Add(1)
	return l.Layer.Uncompressed()
}

func testLayer(tb testing.TB, reads *atomic.Int32, entries ...tarEntry) v1.Layer {
	tb.Helper()
	return countedLayer{static.NewLayer(mkTar(tb, entries...), types.OCIUncompressedLayer), reads}
}

func TestLayerCache(t *testing.T) {
	var reads atomic.Int32
	bottom := testLayer(t, &reads, tarEntry{name: "etc/", typ: '5'}, tarEntry{name: "etc/a", body: "a1"},
		tarEntry{name: "etc/b", body: "b"})
	top := testLayer(t, &reads, tarEntry{name: "etc/a", body: "a2"}, tarEntry{name: "etc/.wh.b"})
	other := testLayer(t, &reads, tarEntry{name: "x", body: "x"})
	cache, err := NewLayerCache(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name      string
		layers    []v1.Layer
		files     map[string]string // "" : must not exist
		newReads  int32             // layer reads this call makes
		longestOf []v1.Layer        // Longest of these must give this entry
	}{
		{"one layer", []v1.Layer{bottom}, map[string]string{"etc/a": "a1", "etc/b": "b"}, 1, []v1.Layer{bottom, other}},
		{"two layers", []v1.Layer{bottom, top}, map[string]string{"etc/a": "a2", "etc/b": ""}, 2, []v1.Layer{bottom, top, other}},
		{"hit", []v1.Layer{bottom, top}, map[string]string{"etc/a": "a2"}, 0, []v1.Layer{bottom, top}},
		{"empty chain", nil, map[string]string{"etc/a": ""}, 0, nil},
	}
	dirs := map[string]string{}
	for _, tc := range tests {
		before := reads.Load()
		dir, err := cache.Lower(ctx, tc.layers)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := reads.Load() - before; got != tc.newReads {
			t.Errorf("%s: %d layer reads, want %d", tc.name, got, tc.newReads)
		}
		if !strings.HasPrefix(dir, cache.Dir()+"/") {
			t.Errorf("%s: %s is not in the cache", tc.name, dir)
		}
		for name, want := range tc.files {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if want == "" && !os.IsNotExist(err) {
				t.Errorf("%s: %s exists (%v)", tc.name, name, err)
			} else if want != "" && string(data) != want {
				t.Errorf("%s: %s = %q, %v; want %q", tc.name, name, data, err, want)
			}
		}
		if tc.longestOf != nil {
			ids, err := diffIDs(tc.longestOf)
			if err != nil {
				t.Fatal(err)
			}
			if got, n := cache.Longest(ids); got != dir || n != len(tc.layers) {
				t.Errorf("%s: Longest = %s, %d; want %s, %d", tc.name, got, n, dir, len(tc.layers))
			}
		}
		dirs[tc.name] = dir
	}
	if dirs["two layers"] != dirs["hit"] || dirs["one layer"] == dirs["two layers"] {
		t.Errorf("directories: %v", dirs)
	}
	ids, err := diffIDs([]v1.Layer{other})
	if err != nil {
		t.Fatal(err)
	}
	if _, n := cache.Longest(ids); n != 0 {
		t.Errorf("Longest of an uncached layer: %d", n)
	}
}

func TestLayerCacheConcurrentAndStale(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.MkdirAll(filepath.Join(dir, cacheTmpPrefix+"old", "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, cacheTmpPrefix+"recent"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * staleFill)
	if err := os.Chtimes(filepath.Join(dir, cacheTmpPrefix+"old"), old, old); err != nil {
		t.Fatal(err)
	}
	var reads atomic.Int32
	layer := testLayer(t, &reads, tarEntry{name: "f", body: "f"})
	// Two caches on the same directory stand for two processes.
	var wg sync.WaitGroup
	got := make([]string, 4)
	for i := range got {
		c, err := NewLayerCache(dir)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := c.Lower(context.Background(), []v1.Layer{layer})
			if err != nil {
				t.Error(err)
			}
			got[i] = d
		}()
	}
	wg.Wait()
	for _, d := range got[1:] {
		if d != got[0] {
			t.Errorf("directories differ: %v", got)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{cacheTmpPrefix + "recent", filepath.Base(got[0])}; strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("cache holds %v, want %v (stale fill removed, recent kept, no fill left over)", names, want)
	}
}

// TestCloseKeepingUpper stacks a second sandbox on the kept changes of a
// first: what the first wrote is there, what it deleted is gone, and the
// lower is untouched.
func TestCloseKeepingUpper(t *testing.T) {
	requireSandbox(t)
	lower := busyboxRootFS(t)
	first, scratchRoot := openSandbox(t, Options{Lowers: []string{lower}})
	if code, out, errOut := run(t, first, Process{}, "echo new > /etc/new && rm /etc/motd"); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	kept := filepath.Join(scratchRoot, "kept")
	if err := first.CloseKeepingUpper(kept); err != nil {
		t.Fatal(err)
	}
	if err := first.CloseKeepingUpper(filepath.Join(scratchRoot, "again")); err == nil {
		t.Error("CloseKeepingUpper of a closed sandbox: no error")
	}
	second, _ := openSandbox(t, Options{Lowers: []string{kept, lower}})
	if code, out, _ := run(t, second, Process{}, "cat /etc/new; test -e /etc/motd && echo motd; echo done"); code != 0 || out != "new\ndone\n" {
		t.Errorf("stacked sandbox: exit %d, output %q", code, out)
	}
	if _, err := os.Stat(filepath.Join(lower, "etc", "motd")); err != nil {
		t.Errorf("the lower changed: %v", err)
	}
}

func TestLayerCacheBlobs(t *testing.T) {
	c, err := NewLayerCache(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(src, []byte("layer bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	if p := c.Blob(d); p != "" {
		t.Fatalf("Blob before KeepBlob = %q", p)
	}
	for i := range 2 { // keeping it again is harmless
		if err := c.KeepBlob(d, src); err != nil {
			t.Fatalf("KeepBlob #%d: %v", i+1, err)
		}
	}
	p := c.Blob(d)
	if p == "" {
		t.Fatal("Blob after KeepBlob is empty")
	}
	a, _ := os.Stat(src)
	b, _ := os.Stat(p)
	if !os.SameFile(a, b) {
		t.Fatal("the kept blob is not a hard link to the source")
	}
	if err := c.KeepBlob(v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("cd", 32)}, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("KeepBlob of a missing file succeeded")
	}
	// the blob area is not mistaken for an unfinished fill
	if _, err := NewLayerCache(c.Dir()); err != nil || c.Blob(d) == "" {
		t.Fatalf("reopening: %v, blob %q", err, c.Blob(d))
	}
}
