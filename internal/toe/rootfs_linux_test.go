package toe

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMain turns the test binary into the rootfs child when re-executed
// by ReexecInRootFS.
func TestMain(m *testing.M) {
	if InRootFS() {
		os.Exit(rootfsChild())
	}
	os.Exit(m.Run())
}

// rootfsChild reads the document, enters the root filesystem and runs it.
func rootfsChild() int {
	doc, logDir, rootfs := os.Getenv("TOE_TEST_DOC"), os.Getenv("TOE_TEST_LOGS"), os.Getenv("TOE_TEST_ROOTFS")
	data, err := os.ReadFile(doc)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	d, err := ParseDocument(doc, data)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := EnterRootFS(rootfs, logDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ex, err := Run(context.Background(), RunOptions{Documents: []*Document{d}, LogDirectory: logDir, WorkDir: "/tmp", Stdout: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if ex.Status != StatusSuccess {
		return 1
	}
	return 0
}

// miniRootFS copies bash and a few tools with their libraries.
func miniRootFS(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	libRe := regexp.MustCompile(`(/[^ \t]+)`)
	for _, tool := range []string{"bash", "touch", "cat", "hostname"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s not found", tool)
		}
		files := []string{p}
		out, err := exec.Command("ldd", p).Output()
		if err != nil {
			t.Skipf("ldd: %v", err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if m := libRe.FindString(line); m != "" {
				files = append(files, m)
			}
		}
		for _, f := range files {
			dst := filepath.Join(root, f)
			if f == p {
				dst = filepath.Join(root, "bin", filepath.Base(p))
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, data, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "usr"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/bin", filepath.Join(root, "usr", "bin")); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestRunInRootFS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for namespaces and overlayfs")
	}
	rootfs := miniRootFS(t)
	logs := t.TempDir()
	doc := filepath.Join(t.TempDir(), "doc.yml")
	if err := os.WriteFile(doc, []byte(`schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Inside
        action: ExecuteBash
        inputs:
          commands:
            - echo "pid=$$ host=$(hostname)"
            - touch /etc/changed
            - test ! -e `+doc+`
      - name: File
        action: CreateFile
        inputs:
          - path: /opt/created.txt
            content: hi
`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TOE_TEST_DOC", doc)
	t.Setenv("TOE_TEST_LOGS", logs)
	t.Setenv("TOE_TEST_ROOTFS", rootfs)
	var out, errb bytes.Buffer
	code, err := ReexecInRootFS(context.Background(), rootfs, []string{"-test.run=^$"}, nil, &out, &errb)
	if err != nil {
		t.Skipf("namespaces unavailable: %v", err)
	}
	if code == 2 && strings.Contains(errb.String(), "operation not permitted") {
		t.Skipf("mounts not permitted here: %s", errb.String())
	}
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "host=goldsmith-toe") {
		t.Errorf("not in a new UTS namespace:\n%s", out.String())
	}
	for _, p := range []string{"etc/changed", "opt/created.txt"} {
		if _, err := os.Stat(filepath.Join(rootfs, p)); err == nil {
			t.Errorf("%s leaked into the root filesystem", p)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(logs, "TOE_*", DetailedOutputFile)); len(m) != 1 {
		t.Errorf("the log folder was not kept on the host: %v", m)
	}
}
