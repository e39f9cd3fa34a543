package container

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestIsUnder(t *testing.T) {
	tests := []struct {
		p, root string
		want    bool
	}{
		{"/s/a/bundle", "/s", true},
		{"/s", "/s", false},
		{"/sx/a", "/s", false},
		{"/s/../t/a", "/s", false},
		{"/s/a", "/s/", true},
	}
	for _, tt := range tests {
		if got := isUnder(tt.p, tt.root); got != tt.want {
			t.Errorf("isUnder(%q, %q) = %v", tt.p, tt.root, got)
		}
	}
}

// TestCleanupWithoutSandboxes: a root without sandbox directories is left
// as it is.
func TestCleanupWithoutSandboxes(t *testing.T) {
	root := t.TempDir()
	keep := filepath.Join(root, "build", "image", "blobs")
	if err := os.MkdirAll(keep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keep, "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Cleanup(context.Background(), root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(keep, "x")); err != nil {
		t.Fatalf("Cleanup removed a file no sandbox owns: %v", err)
	}
}
