package vmbuild

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRunDirsPerServer: build instances of servers with different scratch
// roots live apart, so that one server's start-up clean-up leaves the
// other's instances alone.
func TestRunDirsPerServer(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	ra, rb := RunDir(filepath.Join(a, "k1"), stageBuild), RunDir(filepath.Join(b, "k1"), stageBuild)
	if filepath.Dir(filepath.Dir(ra)) == filepath.Dir(filepath.Dir(rb)) {
		t.Fatalf("two scratch roots share a run dir: %s, %s", ra, rb)
	}
	if len(ra+"/agent.sock") > 107 {
		t.Errorf("socket path %d bytes long", len(ra+"/agent.sock"))
	}
	for _, d := range []string{ra, rb} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Skipf("cannot write %s: %v", runRoot, err)
		}
	}
	t.Cleanup(func() { _ = os.RemoveAll(serverRunDir(a)); _ = os.RemoveAll(serverRunDir(b)) })
	if err := CleanupAll(a, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ra); !os.IsNotExist(err) {
		t.Errorf("CleanupAll left its own run dir: %v", err)
	}
	if _, err := os.Stat(rb); err != nil {
		t.Errorf("CleanupAll of one server removed another's run dir: %v", err)
	}
}
