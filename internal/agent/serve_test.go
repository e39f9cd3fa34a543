package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goldsmith/goldsmith/internal/testsupport"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testsupport.Cleanup()
	os.Exit(code)
}

// guest is a local-mode agent behind a host connection that survives
// "reboots", as QEMU's unix socket does: each boot serves a fresh pipe.
type guest struct {
	t      *testing.T
	opts   ServeOptions
	host   net.Conn // the client's end
	relay  net.Conn // the serial line's host side
	mu     sync.Mutex
	cur    net.Conn // the current boot's agent side of the relay
	boots  int
	served sync.WaitGroup
	ctx    context.Context
}

func newGuest(t *testing.T, o ServeOptions) (*guest, *Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g := &guest{t: t, opts: o, ctx: ctx}
	g.host, g.relay = net.Pipe()
	g.opts.Reboot = func(context.Context) error { g.boot(); return nil }
	go func() { // host → current agent
		buf := make([]byte, 64<<10)
		for {
			n, err := g.relay.Read(buf)
			if err != nil {
				return
			}
			g.mu.Lock()
			c := g.cur
			g.mu.Unlock()
			if c != nil {
				_, _ = c.Write(buf[:n]) // lost while "rebooting", like a serial line
			}
		}
	}()
	g.boot()
	c := NewClient(g.host, nil)
	t.Cleanup(func() {
		c.Close()
		cancel()
		g.relay.Close()
		g.mu.Lock()
		if g.cur != nil {
			g.cur.Close()
		}
		g.mu.Unlock()
		g.served.Wait()
	})
	return g, c
}

// boot starts a new Serve on a fresh pipe (the old one is closed).
func (g *guest) boot() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur != nil {
		g.cur.Close()
	}
	agentSide, lineSide := net.Pipe()
	g.cur = lineSide
	g.boots++
	o := g.opts
	o.BootCount = g.boots
	g.served.Add(2)
	go func() { // current agent → host
		defer g.served.Done()
		buf := make([]byte, 64<<10)
		for {
			n, err := lineSide.Read(buf)
			if err != nil {
				return
			}
			if _, err := g.relay.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	go func() {
		defer g.served.Done()
		_ = Serve(g.ctx, agentSide, o)
		agentSide.Close()
	}()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func localRoot(t *testing.T) string {
	root := t.TempDir()
	for _, d := range []string{"etc", "tmp", "var/log", "root"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("NAME=Test\nPRETTY_NAME=\"Test Linux 1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestHelloExecFiles(t *testing.T) {
	root := localRoot(t)
	_, c := newGuest(t, ServeOptions{Root: root, Kernel: "6.1.0-test"})
	ctx := ctxT(t)
	h, err := c.Hello(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.BootCount != 1 || h.Kernel != "6.1.0-test" || h.OSRelease != "Test Linux 1" {
		t.Fatalf("hello = %+v", h)
	}

	cases := []struct {
		name   string
		args   ExecArgs
		code   int
		stdout string
		stderr string
	}{
		{"echo", ExecArgs{Argv: []string{"sh", "-c", "echo out; echo err >&2"}}, 0, "out\n", "err\n"},
		{"exit code", ExecArgs{Argv: []string{"sh", "-c", "exit 42"}}, 42, "", ""},
		{"stdin", ExecArgs{Argv: []string{"cat"}, Stdin: []byte("in\x00put")}, 0, "in\x00put", ""},
		{"env and cwd", ExecArgs{Argv: []string{"sh", "-c", `echo "$FOO $HOME $LANG" && pwd`}, Env: []string{"FOO=bar"}, Cwd: "/tmp"}, 0, "bar /root C.UTF-8\n" + filepath.Join(root, "tmp") + "\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := c.ExecWith(ctx, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if r.ExitCode != tc.code || string(r.Stdout) != tc.stdout || string(r.Stderr) != tc.stderr {
				t.Fatalf("exec = %d %q %q, want %d %q %q", r.ExitCode, r.Stdout, r.Stderr, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
	if _, err := c.Exec(ctx, []string{"no-such-command-xyz"}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing command: err = %v", err)
	}

	data := []byte("binary\x00\xff\n")
	if err := c.WriteFile(ctx, "/etc/new/dir/file", data, 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, "etc/new/dir/file"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("written file: %v %v", fi, err)
	}
	got, err := c.ReadFile(ctx, "/etc/new/dir/file")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read-file = %q, %v", got, err)
	}
	// Symlinks resolve inside the root, as in a chroot.
	if err := os.Symlink("/etc/os-release", filepath.Join(root, "etc/link")); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadFile(ctx, "/etc/link"); err != nil || !strings.Contains(string(got), "Test Linux") {
		t.Fatalf("read-file through an absolute symlink = %q, %v", got, err)
	}
	if err := os.Symlink("../../../../../../etc/hostname", filepath.Join(root, "etc/escape")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadFile(ctx, "/etc/escape"); err == nil {
		t.Error("a symlink escaped the root")
	}
	if _, err := c.ReadFile(ctx, "/missing"); err == nil {
		t.Error("read-file of a missing file succeeded")
	}
	if err := c.call(ctx, "no-such-op", struct{}{}, nil); err == nil || !strings.Contains(err.Error(), "unknown op") {
		t.Errorf("unknown op: err = %v", err)
	}
	// Poweroff answers ok, then calls the injected function.
	if err := c.Poweroff(ctx); err == nil || !strings.Contains(err.Error(), "not available") {
		t.Errorf("poweroff without a function: %v", err)
	}
}

func TestExecRoundTrip(t *testing.T) {
	_, c := newGuest(t, ServeOptions{Root: localRoot(t)})
	ctx := ctxT(t)
	if _, err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 50
	start := time.Now()
	for i := 0; i < n; i++ {
		if r, err := c.Exec(ctx, []string{"true"}); err != nil || r.ExitCode != 0 {
			t.Fatal(r, err)
		}
	}
	execRTT := time.Since(start) / n
	start = time.Now()
	for i := 0; i < n; i++ {
		if _, err := c.ReadFile(ctx, "/etc/os-release"); err != nil {
			t.Fatal(err)
		}
	}
	fileRTT := time.Since(start) / n
	t.Logf("round trip over net.Pipe: exec true %v, read-file %v", execRTT, fileRTT)
}

func TestPoweroffAndReboot(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	record := func(s string) func(context.Context) error {
		return func(context.Context) error { mu.Lock(); calls = append(calls, s); mu.Unlock(); return nil }
	}
	g, c := newGuest(t, ServeOptions{Root: localRoot(t), Poweroff: record("poweroff")})
	ctx := ctxT(t)
	if _, err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Reboot(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := c.Hello(ctx)
	if err != nil || h.BootCount != 2 {
		t.Fatalf("hello after reboot = %+v, %v", h, err)
	}
	if err := c.Poweroff(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(calls)
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("poweroff function not called")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = g
}

func TestSanitize(t *testing.T) {
	files := map[string]string{
		"etc/ssh/ssh_host_ed25519_key":        "secret",
		"etc/ssh/ssh_host_ed25519_key.pub":    "pub",
		"etc/ssh/sshd_config":                 "keep",
		"root/.ssh/authorized_keys":           "key",
		"home/alice/.ssh/authorized_keys":     "key",
		"home/alice/.bash_history":            "ls",
		"root/.bash_history":                  "ls",
		"etc/machine-id":                      "0123456789abcdef",
		"var/lib/dbus/machine-id":             "0123456789abcdef",
		"var/lib/cloud/instances/i-1/x":       "data",
		"var/lib/cloud/seed/nocloud/meta":     "seed",
		"var/log/syslog":                      "log lines",
		"var/log/syslog.1":                    "old",
		"var/log/apt/history.log.2.gz":        "old",
		"var/log/journal/abc/system.journal":  "j",
		"tmp/build/file":                      "t",
		"var/tmp/x":                           "t",
		"var/lib/goldsmith-agent/j1/job.json": "{}",
		"etc/hostname":                        "build",
	}
	cases := []struct {
		name      string
		markers   []string
		keepAgent bool
		gone      []string
		kept      []string
		output    []string
	}{
		{name: "everything", gone: []string{"etc/ssh/ssh_host_ed25519_key", "etc/ssh/ssh_host_ed25519_key.pub", "root/.ssh/authorized_keys",
			"home/alice/.ssh/authorized_keys", "home/alice/.bash_history", "root/.bash_history", "var/lib/dbus/machine-id",
			"var/lib/cloud/instances", "var/log/syslog.1", "var/log/apt/history.log.2.gz", "var/log/journal/abc", "tmp/build", "var/tmp/x",
			"var/lib/goldsmith-agent", "etc/hostname"},
			kept:   []string{"etc/ssh/sshd_config", "var/lib/cloud/seed/nocloud/meta", "var/log/syslog", "etc/machine-id", "tmp", "var/tmp"},
			output: []string{"Cleaning up ssh files", "Deleting /etc/ssh/ssh_host_ed25519_key", "Truncating /var/log/syslog", "Emptying /etc/machine-id"}},
		{name: "skip markers and keepAgent", markers: []string{"skip_cleanup_ssh_files", "skip_cleanup_tmp_files"}, keepAgent: true,
			gone:   []string{"root/.bash_history", "var/lib/cloud/instances"},
			kept:   []string{"etc/ssh/ssh_host_ed25519_key", "root/.ssh/authorized_keys", "home/alice/.ssh/authorized_keys", "var/tmp/x", "tmp/build/file", "var/lib/goldsmith-agent/j1/job.json"},
			output: []string{"Skipping cleanup of ssh files (skip_cleanup_ssh_files)", "Skipping cleanup of temporary files", "Keeping /var/lib/goldsmith-agent"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for p, content := range files {
				hp := filepath.Join(root, p)
				if err := os.MkdirAll(filepath.Dir(hp), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(hp, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			wd := "/root/work"
			if err := os.MkdirAll(filepath.Join(root, wd), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, m := range tc.markers {
				if err := os.WriteFile(filepath.Join(root, wd, m), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, c := newGuest(t, ServeOptions{Root: root})
			out, err := c.Sanitize(ctxT(t), wd, tc.keepAgent)
			if err != nil {
				t.Fatalf("sanitize: %v\n%s", err, out)
			}
			for _, p := range tc.gone {
				if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s is still there (%v)", p, err)
				}
			}
			for _, p := range tc.kept {
				if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
					t.Errorf("%s was removed: %v", p, err)
				}
			}
			if tc.keepAgent == false {
				if fi, err := os.Stat(filepath.Join(root, "etc/machine-id")); err != nil || fi.Size() != 0 {
					t.Errorf("/etc/machine-id is not empty: %v %v", fi, err)
				}
				if fi, err := os.Stat(filepath.Join(root, "var/log/syslog")); err != nil || fi.Size() != 0 {
					t.Errorf("/var/log/syslog not truncated: %v %v", fi, err)
				}
			}
			for _, o := range tc.output {
				if !strings.Contains(out, o) {
					t.Errorf("output lacks %q:\n%s", o, out)
				}
			}
		})
	}
}

// toeRoot prepares a local-mode root and the agent options for run-toe.
func toeRoot(t *testing.T) (string, ServeOptions) {
	if testing.Short() {
		t.Skip("builds the goldsmith binary")
	}
	root := localRoot(t)
	return root, ServeOptions{Root: root, Binary: testsupport.GoldsmithBinary(t)}
}

func detailedSteps(t *testing.T, data []byte) string {
	t.Helper()
	if !json.Valid(data) {
		t.Fatalf("detailed output is not JSON: %q", data)
	}
	return string(data)
}

func TestRunToe(t *testing.T) {
	root, o := toeRoot(t)
	_, c := newGuest(t, o)
	ctx := ctxT(t)
	file := filepath.Join(root, "etc/created.txt")
	doc := `name: Hello
schemaVersion: 1.0
parameters:
  - who:
      type: string
phases:
  - name: build
    steps:
      - name: Create
        action: CreateFile
        inputs:
          - path: ` + file + `
            content: hello {{ who }}
      - name: Show
        action: ExecuteBash
        inputs:
          commands:
            - cat ` + file + `
            - echo to-stderr >&2
`
	var mu sync.Mutex
	var lines []string
	res, err := c.RunToe(ctx, ToeJob{ID: "job-ok", Documents: []ToeDocument{{Name: "hello", Content: []byte(doc)}},
		Parameters: map[int]map[string]string{0: {"who": "world"}}},
		func(stream, line string) { mu.Lock(); lines = append(lines, stream+": "+line); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Join(lines, "\n")
	if res.ExitCode != 0 || res.Reboots != 0 {
		t.Fatalf("result = %+v\n%s", res, out)
	}
	if got, _ := os.ReadFile(file); string(got) != "hello world" {
		t.Errorf("created file = %q", got)
	}
	if !strings.Contains(out, "hello world") {
		t.Errorf("streamed output lacks the step's output:\n%s", out)
	}
	if d := detailedSteps(t, res.DetailedOutput); !strings.Contains(d, "Show") {
		t.Errorf("detailed output lacks the step: %s", d)
	}
	if len(res.Logs) == 0 {
		t.Error("no logs")
	}
	// The same job again answers with the stored result, without running.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	again, err := c.RunToe(ctx, ToeJob{ID: "job-ok", Documents: []ToeDocument{{Name: "hello", Content: []byte(doc)}}}, nil)
	if err != nil || again.ExitCode != 0 {
		t.Fatalf("again: %+v %v", again, err)
	}
	if _, err := os.Stat(file); err == nil {
		t.Error("the finished job ran again")
	}
}

func TestRunToeFailure(t *testing.T) {
	_, o := toeRoot(t)
	_, c := newGuest(t, o)
	doc := `name: Failing
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: BreaksHere
        action: ExecuteBash
        inputs:
          commands: ["echo about to fail", "exit 3"]
`
	res, err := c.RunToe(ctxT(t), ToeJob{ID: "job-fail", Documents: []ToeDocument{{Name: "failing", Content: []byte(doc)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 1 {
		t.Fatalf("exit code = %d, want 1", res.ExitCode)
	}
	if d := detailedSteps(t, res.DetailedOutput); !strings.Contains(d, "BreaksHere") || !strings.Contains(d, "Failed") {
		t.Errorf("detailed output does not name the failed step: %s", d)
	}
	if _, err := c.RunToe(ctxT(t), ToeJob{ID: "../x"}, nil); err == nil {
		t.Error("an unsafe job id was accepted")
	}
}

func TestRunToeReboot(t *testing.T) {
	root, o := toeRoot(t)
	g, c := newGuest(t, o)
	marker := filepath.Join(root, "tmp/rebooted-once")
	doc := `name: Rebooting
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Before
        action: ExecuteBash
        inputs:
          commands: ["echo before"]
      - name: NeedsReboot
        action: ExecuteBash
        inputs:
          commands:
            - if [ -f ` + marker + ` ]; then echo after-reboot; exit 0; fi
            - touch ` + marker + `
            - exit 194
      - name: After
        action: ExecuteBash
        inputs:
          commands: ["echo done"]
`
	var mu sync.Mutex
	var lines []string
	res, err := c.RunToe(ctxT(t), ToeJob{ID: "job-reboot", Documents: []ToeDocument{{Name: "rebooting", Content: []byte(doc)}}},
		func(stream, line string) { mu.Lock(); lines = append(lines, line); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Join(lines, "\n")
	if res.ExitCode != 0 || res.Reboots != 1 {
		t.Fatalf("result = exit %d, reboots %d\n%s", res.ExitCode, res.Reboots, out)
	}
	if !strings.Contains(out, "after-reboot") || !strings.Contains(out, "done") {
		t.Errorf("output:\n%s", out)
	}
	g.mu.Lock()
	boots := g.boots
	g.mu.Unlock()
	if boots != 2 {
		t.Errorf("boots = %d, want 2", boots)
	}
	if d := string(res.DetailedOutput); !strings.Contains(d, "After") {
		t.Errorf("detailed output lacks the step after the reboot: %s", d)
	}
}
