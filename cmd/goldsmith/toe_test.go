package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goldsmith/goldsmith/internal/testsupport"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testsupport.Cleanup()
	os.Exit(code)
}

const (
	goodDoc = `name: Good
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Hello
        action: ExecuteBash
        inputs:
          commands: ["echo hello"]
`
	failingDoc = `name: Failing
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Fail
        action: ExecuteBash
        inputs:
          commands: ["exit 7"]
`
	rebootDoc = `name: Reboot
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: NeedsReboot
        action: Reboot
`
	invalidDoc = `name: Invalid
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Bad
        action: NoSuchAction
`
)

// TestToeExitCodes runs the real binary: validate and run answer with the
// documented exit codes (0 success, 1 failure, 194 reboot requested).
func TestToeExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the goldsmith binary")
	}
	bin := testsupport.GoldsmithBinary(t)
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, failing, reboot, invalid := write("good.yml", goodDoc), write("failing.yml", failingDoc), write("reboot.yml", rebootDoc), write("invalid.yml", invalidDoc)
	cases := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"validate good", []string{"toe", "validate", "--documents", good}, 0, "success"},
		{"validate invalid", []string{"toe", "validate", "--documents", invalid}, 1, "NoSuchAction"},
		{"run good", []string{"toe", "run", "--documents", good, "--log-directory", dir}, 0, "hello"},
		{"run failing", []string{"toe", "run", "--documents", failing, "--log-directory", dir}, 1, "Fail"},
		{"run reboot", []string{"toe", "run", "--documents", reboot, "--log-directory", dir, "--execution-id", "reboot-1"}, 194, ""},
		{"no documents", []string{"toe", "run"}, 1, "no documents"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(bin, tc.args...).CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Fatalf("exit code %d, want %d\n%s", code, tc.code, out)
			}
			if !strings.Contains(strings.ToLower(string(out)), strings.ToLower(tc.out)) {
				t.Errorf("output does not mention %q:\n%s", tc.out, out)
			}
		})
	}
}
