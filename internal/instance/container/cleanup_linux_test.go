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
// as it is and Cleanup looks no further (no `runc list`); with one, it
// asks runc (a fake on PATH that leaves a mark shows which).
func TestCleanupWithoutSandboxes(t *testing.T) {
	if err := os.MkdirAll(StateRoot, 0o700); err != nil {
		t.Skipf("no runc state root: %v", err)
	}
	bin := t.TempDir()
	mark := filepath.Join(bin, "runc-called")
	fake := "#!/bin/sh\ntouch " + mark + "\necho '[]'\n"
	if err := os.WriteFile(filepath.Join(bin, "runc"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	for _, tt := range []struct {
		name     string
		sandbox  bool
		wantRunc bool
	}{
		{"no sandbox", false, false},
		{"a sandbox left", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.Remove(mark)
			root := t.TempDir()
			keep := filepath.Join(root, "build", "image", "blobs")
			if err := os.MkdirAll(keep, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(keep, "x"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.sandbox {
				sb := filepath.Join(root, "build", "scratch", "sandbox-1")
				if err := os.MkdirAll(sb, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(sb, markerFile), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := Cleanup(context.Background(), root); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(keep, "x")); err != nil {
				t.Fatalf("Cleanup removed a file no sandbox owns: %v", err)
			}
			if _, err := os.Stat(mark); (err == nil) != tt.wantRunc {
				t.Fatalf("runc called: %v, want %v", err == nil, tt.wantRunc)
			}
		})
	}
}
