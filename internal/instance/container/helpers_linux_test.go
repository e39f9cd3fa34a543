package container

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goldsmith/goldsmith/internal/testsupport"
)

// requireSandbox skips when the machine cannot run sandboxes: root, runc,
// overlayfs and Debian's static busybox are needed (all present in CI).
func requireSandbox(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root for overlayfs mounts and runc")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		tb.Skip("needs runc (apt-get install runc; scripts/host-packages.sh)")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		tb.Skip("needs /bin/busybox (apt-get install busybox-static)")
	}
	data, err := os.ReadFile("/proc/filesystems")
	if err != nil || !strings.Contains(string(data), "overlay") {
		tb.Skip("needs overlayfs in the kernel")
	}
}

// busyboxRootFS builds a minimal root file system in a new temporary
// directory: /bin/busybox with its applets as symlinks, /etc/passwd and
// /etc/group (root, nobody), and the usual empty directories.
func busyboxRootFS(tb testing.TB) string {
	tb.Helper()
	root := filepath.Join(tb.TempDir(), "rootfs")
	for _, d := range []string{"bin", "etc", "proc", "dev", "sys", "tmp", "opt", "root", "home", "var/empty"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		tb.Fatal(err)
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), bb, 0o755); err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		tb.Fatalf("busybox --list: %v", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
			tb.Fatal(err)
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
		"etc/motd":   "hello from the lower layer\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return root
}

// openSandbox opens a sandbox over lowers in a scratch directory under a
// fresh scratch root, closing it and checking for leftovers at the end.
func openSandbox(tb testing.TB, o Options) (*Sandbox, string) {
	tb.Helper()
	scratchRoot := tb.TempDir()
	if o.ScratchDir == "" {
		o.ScratchDir = filepath.Join(scratchRoot, "sb")
	}
	s, err := Open(context.Background(), o)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
		assertNoLeftovers(tb, scratchRoot)
	})
	return s, scratchRoot
}

// assertNoLeftovers fails when mounts, runc containers or sandbox
// directories remain under scratchRoot.
func assertNoLeftovers(tb testing.TB, scratchRoot string) {
	tb.Helper()
	mounts, err := overlayMountsUnder(scratchRoot)
	if err != nil {
		tb.Fatal(err)
	}
	if len(mounts) > 0 {
		tb.Errorf("overlay mounts left under %s: %v", scratchRoot, mounts)
	}
	ids, err := listContainers(context.Background(), scratchRoot)
	if err != nil {
		tb.Fatal(err)
	}
	if len(ids) > 0 {
		tb.Errorf("runc containers left: %v", ids)
	}
	dirs, err := sandboxDirs(scratchRoot)
	if err != nil {
		tb.Fatal(err)
	}
	if len(dirs) > 0 {
		tb.Errorf("sandbox directories left: %v", dirs)
	}
}

// run runs a shell command in s and returns its exit code and output.
func run(tb testing.TB, s *Sandbox, p Process, script string) (int, string, string) {
	tb.Helper()
	var stdout, stderr strings.Builder
	p.Args = []string{"/bin/sh", "-c", script}
	p.Stdout, p.Stderr = &stdout, &stderr
	code, err := s.Run(context.Background(), p)
	if err != nil {
		tb.Fatalf("Run(%q): %v (stderr: %s)", script, err, stderr.String())
	}
	return code, stdout.String(), stderr.String()
}

// forEachMode runs f once for each way Run can work: one `runc run` per
// Run (runner "") and one container per layer with the runner binary.
func forEachMode(t *testing.T, f func(t *testing.T, runner string)) {
	t.Helper()
	t.Run("runc-per-run", func(t *testing.T) { f(t, "") })
	t.Run("runner", func(t *testing.T) { f(t, runnerForTest(t)) })
}

// runnerForTest is the runner binary, built once per test binary.
func runnerForTest(tb testing.TB) string { return testsupport.RunnerBinary(tb) }

// endLayer calls WriteLayer (discarding the layer), which ends the
// runner's container: what upper/ holds then is what the layer gets.
func endLayer(t *testing.T, s *Sandbox) {
	t.Helper()
	if err := s.WriteLayer(context.Background(), io.Discard); err != nil {
		t.Fatal(err)
	}
}
