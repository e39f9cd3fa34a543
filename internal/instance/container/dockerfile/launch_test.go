package dockerfile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/goldsmith/goldsmith/internal/instance/container"
)

// TestLaunch: Build uses the sandbox Launch opened when the Dockerfile's
// base is the image it was opened over, and otherwise closes it and opens
// its own; every sandbox is closed in the end.
func TestLaunch(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the layer cache unpacks layers with their owners: needs root")
	}
	base := fakeBase(t)
	other, err := mutate.AppendLayers(base, tarLayer(t, map[string]string{"etc/other": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		over       v1.Image
		dockerfile string
		wantOpened int // sandboxes opened, the launched one included
		wantRuns   int
	}{
		{"base matches", base, "FROM base\nRUN make-file\nRUN make-file\n", 1, 2},
		{"another base", other, "FROM base\nRUN make-file\n", 2, 1},
		{"no filesystem instruction", base, "FROM base\nENV A=b\n", 1, 0},
		{"two layers", base, "FROM base\nRUN make-file\nENV A=b\nRUN make-file\n", 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache, err := container.NewLayerCache(filepath.Join(t.TempDir(), "cache"))
			if err != nil {
				t.Fatal(err)
			}
			f := &fakeRuntime{run: func(root string, p process) int {
				if err := os.WriteFile(filepath.Join(root, "made"), []byte("by RUN"), 0o644); err != nil {
					return 1
				}
				return 0
			}}
			o := Options{LayerCache: cache, ScratchDir: t.TempDir(), rt: f.runtime(),
				Base: func(ctx context.Context, ref string) (v1.Image, error) { return base, nil }}
			l, err := Launch(t.Context(), o, tt.over)
			if err != nil {
				t.Fatal(err)
			}
			o.Launched = l
			res, err := Build(t.Context(), tt.dockerfile, o)
			if err != nil {
				t.Fatal(err)
			}
			if f.opened != tt.wantOpened || f.closed != f.opened || f.prestarted != 1 || len(f.runs) != tt.wantRuns {
				t.Fatalf("opened %d, closed %d, prestarted %d, runs %d; want %d opened, all closed, 1 prestarted, %d runs",
					f.opened, f.closed, f.prestarted, len(f.runs), tt.wantOpened, tt.wantRuns)
			}
			if tt.wantRuns > 0 {
				if files := layerFiles(t, res.Image, 1); files["made"].data != "by RUN" {
					t.Fatalf("the built layers have no file made by RUN: %v", files)
				}
			}
			if err := l.Close(); err != nil { // Build owns it: closing again is harmless
				t.Fatal(err)
			}
		})
	}
}

func TestLaunchErrors(t *testing.T) {
	cache, err := container.NewLayerCache(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRuntime{}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no layer cache", Options{ScratchDir: t.TempDir(), rt: f.runtime()}, "no layer cache"},
		{"no scratch directory", Options{LayerCache: cache, rt: f.runtime()}, "no scratch directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Launch(t.Context(), tt.o, fakeBase(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) || l != nil {
				t.Fatalf("Launch = %v, %v; want an error containing %q", l, err, tt.want)
			}
		})
	}
	var nilLaunched *Launched
	if err := nilLaunched.Close(); err != nil {
		t.Fatalf("Close of nil: %v", err)
	}
}
