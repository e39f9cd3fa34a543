package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunEcho(t *testing.T) {
	requireSandbox(t)
	forEachMode(t, func(t *testing.T, runner string) {
		s, _ := openSandbox(t, Options{Lowers: []string{busyboxRootFS(t)}, Runner: runner})
		var out strings.Builder
		code, err := s.Run(context.Background(), Process{Args: []string{"echo", "hi"}, Stdout: &out})
		if err != nil || code != 0 {
			t.Fatalf("Run = %d, %v", code, err)
		}
		if out.String() != "hi\n" {
			t.Fatalf("stdout = %q, want %q", out.String(), "hi\n")
		}
	})
}

func TestRunExitCodes(t *testing.T) {
	requireSandbox(t)
	forEachMode(t, func(t *testing.T, runner string) {
		s, _ := openSandbox(t, Options{Lowers: []string{busyboxRootFS(t)}, Runner: runner})
		tests := []struct {
			script string
			want   int
		}{
			{"true", 0},
			{"false", 1},
			{"exit 3", 3},
			{"exit 255", 255},
			{"sh -c 'kill -9 $$'; exit $?", 137},
			{"no-such-command", 127},
		}
		for _, tt := range tests {
			t.Run(tt.script, func(t *testing.T) {
				if code, _, _ := run(t, s, Process{}, tt.script); code != tt.want {
					t.Fatalf("exit code %d, want %d", code, tt.want)
				}
			})
		}
	})
}

func TestRunProcess(t *testing.T) {
	requireSandbox(t)
	forEachMode(t, func(t *testing.T, runner string) {
		s, _ := openSandbox(t, Options{Lowers: []string{busyboxRootFS(t)}, Hostname: "box", Runner: runner})
		tests := []struct {
			name   string
			p      Process
			script string
			want   string
		}{
			{"env", Process{Env: []string{"FOO=bar baz"}}, `echo "$FOO"`, "bar baz"},
			{"default PATH", Process{}, `echo "$PATH"`, DefaultPath},
			{"PATH kept", Process{Env: []string{"PATH=/bin"}}, `echo "$PATH"`, "/bin"},
			{"root HOME", Process{}, `echo "$HOME"`, "/root"},
			{"default cwd", Process{}, "pwd", "/"},
			{"cwd", Process{Cwd: "/tmp"}, "pwd", "/tmp"},
			{"relative cwd", Process{Cwd: "opt"}, "pwd", "/opt"},
			{"root", Process{}, "id -u; id -g", "0\n0"},
			{"nobody", Process{User: "nobody"}, "id -u; id -g; echo $HOME", "65534\n65534\n/nonexistent"},
			{"numeric", Process{User: "1234:5678"}, "id -u; id -g", "1234\n5678"},
			{"user:group", Process{User: "nobody:tty"}, "id -u; id -g", "65534\n5"},
			{"hostname", Process{}, "hostname", "box"},
			{"pid 1", Process{}, `[ $$ = 1 ] && echo init || echo "child of $PPID"`, map[bool]string{true: "init", false: "child of 1"}[runner == ""]},
			{"stdin", Process{Stdin: strings.NewReader("from stdin\n")}, "cat", "from stdin"},
			{"no network", Process{}, "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '", "lo"},
			{"proc and dev", Process{}, "test -r /proc/self/status && test -c /dev/null && test -c /dev/urandom && test -d /dev/shm && echo ok", "ok"},
			{"default mounts", Process{}, "for m in /proc /dev /dev/pts /dev/shm /dev/mqueue /sys /sys/fs/cgroup; do grep -q \" $m \" /proc/mounts || echo missing $m; done; echo done", "done"},
			{"read-only /sys", Process{}, "touch /sys/x 2>/dev/null || echo ro", "ro"},
			{"nobody cannot write /etc", Process{User: "nobody"}, "touch /etc/x 2>/dev/null || echo denied", "denied"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, out, errOut := run(t, s, tt.p, tt.script)
				if code != 0 || strings.TrimSpace(out) != tt.want {
					t.Fatalf("exit %d, stdout %q (stderr %q), want %q", code, out, errOut, tt.want)
				}
			})
		}
	})
}

func TestRunErrors(t *testing.T) {
	requireSandbox(t)
	forEachMode(t, func(t *testing.T, runner string) {
		s, _ := openSandbox(t, Options{Lowers: []string{busyboxRootFS(t)}, Runner: runner})
		tests := []struct {
			name string
			p    Process
			want string
		}{
			{"no args", Process{}, "no command"},
			{"missing cwd", Process{Args: []string{"true"}, Cwd: "/nowhere"}, "does not exist"},
			{"unknown user", Process{Args: []string{"true"}, User: "ghost"}, "no such user"},
			{"missing executable", Process{Args: []string{"/bin/nothing"}}, "no such file or directory"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, err := s.Run(context.Background(), tt.p)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Run = %d, %v; want an error containing %q", code, err, tt.want)
				}
			})
		}
		// the sandbox still works after failures
		if code, out, _ := run(t, s, Process{}, "echo fine"); code != 0 || out != "fine\n" {
			t.Fatalf("after errors: %d %q", code, out)
		}
	})
}

func TestRunChangesPersist(t *testing.T) {
	requireSandbox(t)
	forEachMode(t, func(t *testing.T, runner string) {
		s, _ := openSandbox(t, Options{Lowers: []string{busyboxRootFS(t)}, Runner: runner})
		run(t, s, Process{}, "echo one > /opt/file && mkdir -p /var/lib/x && echo two > /var/lib/x/y")
		if code, out, _ := run(t, s, Process{}, "cat /opt/file /var/lib/x/y"); code != 0 || out != "one\ntwo\n" {
			t.Fatalf("second run: %d %q", code, out)
		}
		// RootFS is the same view from the host, both ways
		data, err := os.ReadFile(filepath.Join(s.RootFS(), "opt", "file"))
		if err != nil || string(data) != "one\n" {
			t.Fatalf("host view: %q, %v", data, err)
		}
		if err := os.WriteFile(filepath.Join(s.RootFS(), "opt", "copied-in"), []byte("in\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out, _ := run(t, s, Process{}, "cat /opt/copied-in"); code != 0 || out != "in\n" {
			t.Fatalf("copied-in file: %d %q", code, out)
		}
		if _, err := os.Stat(filepath.Join(s.upper, "opt", "file")); err != nil {
			t.Fatalf("change not in upper/: %v", err)
		}
	})
}

func TestRunNetwork(t *testing.T) {
	requireSandbox(t)
	forEachMode(t, func(t *testing.T, runner string) {
		lower := busyboxRootFS(t)
		s, _ := openSandbox(t, Options{Lowers: []string{lower}, Network: true, Runner: runner})
		code, out, _ := run(t, s, Process{}, "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' '; test -s /etc/resolv.conf && echo resolv")
		if code != 0 || !strings.Contains(out, "resolv") || strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(out), "resolv")) == "lo" {
			t.Fatalf("host network: %d %q", code, out)
		}
		endLayer(t, s)
		if _, err := os.Lstat(filepath.Join(s.upper, "etc", "resolv.conf")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the resolv.conf mount point stayed in upper/: %v", err)
		}
		// /etc was copied up for the mount point, with its times kept
		assertSameTimes(t, filepath.Join(lower, "etc"), filepath.Join(s.upper, "etc"))

		// with a resolv.conf in the image, nothing is copied up at all
		if err := os.WriteFile(filepath.Join(lower, "etc", "resolv.conf"), []byte("nameserver 192.0.2.1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s2, _ := openSandbox(t, Options{Lowers: []string{lower}, Network: true, Runner: runner})
		if code, out, _ := run(t, s2, Process{}, "cat /etc/resolv.conf"); code != 0 || strings.Contains(out, "192.0.2.1") {
			t.Fatalf("the host's resolv.conf is not mounted: %d %q", code, out)
		}
		endLayer(t, s2)
		if entries, _ := os.ReadDir(s2.upper); len(entries) != 0 {
			t.Fatalf("upper/ not empty after a read-only run: %v", entries)
		}
	})
}

func assertSameTimes(t *testing.T, a, b string) {
	t.Helper()
	fa, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	if !fa.ModTime().Equal(fb.ModTime()) {
		t.Fatalf("mtime of %s is %v, want %v", b, fb.ModTime(), fa.ModTime())
	}
}

func TestRunMountPointsStayOutOfUpper(t *testing.T) {
	requireSandbox(t)
	forEachMode(t, func(t *testing.T, runner string) {
		lower := busyboxRootFS(t)
		for _, d := range []string{"proc", "dev", "sys"} {
			if err := os.Remove(filepath.Join(lower, d)); err != nil {
				t.Fatal(err)
			}
		}
		s, _ := openSandbox(t, Options{Lowers: []string{lower}, Runner: runner})
		if code, out, _ := run(t, s, Process{}, "test -c /dev/null && echo ok"); code != 0 || out != "ok\n" {
			t.Fatalf("%d %q", code, out)
		}
		endLayer(t, s)
		if entries, _ := os.ReadDir(s.upper); len(entries) != 0 {
			t.Fatalf("mount points left in upper/: %v", entries)
		}
	})
}

func TestRunTimeoutKills(t *testing.T) {
	requireSandbox(t)
	forEachMode(t, func(t *testing.T, runner string) {
		s, scratchRoot := openSandbox(t, Options{Lowers: []string{busyboxRootFS(t)}, Runner: runner})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		code, err := s.Run(ctx, Process{Args: []string{"sleep", "100"}})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run = %d, %v; want DeadlineExceeded", code, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("the timeout took %v to stop the run", d)
		}
		if ids, _ := listContainers(context.Background(), scratchRoot); len(ids) > 0 {
			t.Fatalf("containers left after the timeout: %v", ids)
		}
		// the sandbox is still usable
		if code, out, _ := run(t, s, Process{}, "echo again"); code != 0 || out != "again\n" {
			t.Fatalf("after the timeout: %d %q", code, out)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		assertNoLeftovers(t, scratchRoot)
	})
}

func TestCloseStopsRun(t *testing.T) {
	requireSandbox(t)
	forEachMode(t, func(t *testing.T, runner string) {
		s, scratchRoot := openSandbox(t, Options{Lowers: []string{busyboxRootFS(t)}, Runner: runner})
		errc := make(chan error, 1)
		go func() {
			_, err := s.Run(context.Background(), Process{Args: []string{"sleep", "100"}})
			errc <- err
		}()
		waitForContainer(t, scratchRoot)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		select {
		case err := <-errc:
			if err == nil {
				t.Fatal("Run returned no error after Close")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run still running after Close")
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := s.Run(context.Background(), Process{Args: []string{"true"}}); err == nil {
			t.Fatal("Run after Close succeeded")
		}
		assertNoLeftovers(t, scratchRoot)
	})
}

func TestCleanupAfterCrash(t *testing.T) {
	requireSandbox(t)
	forEachMode(t, func(t *testing.T, runner string) {
		lower := busyboxRootFS(t)
		scratchRoot := t.TempDir()
		keep := filepath.Join(scratchRoot, "build-1", "lower")
		if err := os.MkdirAll(keep, 0o755); err != nil {
			t.Fatal(err)
		}
		var sandboxes []*Sandbox
		for _, name := range []string{"build-1/run-1", "build-2/run-1"} {
			s, err := Open(context.Background(), Options{Lowers: []string{lower}, ScratchDir: filepath.Join(scratchRoot, name), Runner: runner})
			if err != nil {
				t.Fatal(err)
			}
			sandboxes = append(sandboxes, s)
		}
		// the first sandbox is abandoned mid-run, the second idle
		errc := make(chan error, 1)
		go func() {
			_, err := sandboxes[0].Run(context.Background(), Process{Args: []string{"sleep", "100"}})
			errc <- err
		}()
		waitForContainer(t, scratchRoot)
		if err := Cleanup(context.Background(), scratchRoot); err != nil {
			t.Fatalf("Cleanup: %v", err)
		}
		select {
		case <-errc:
		case <-time.After(10 * time.Second):
			t.Fatal("the abandoned run survived Cleanup")
		}
		assertNoLeftovers(t, scratchRoot)
		for _, s := range sandboxes {
			if _, err := os.Stat(s.scratch); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s left: %v", s.scratch, err)
			}
		}
		if _, err := os.Stat(keep); err != nil {
			t.Fatalf("Cleanup removed a directory that no sandbox owns: %v", err)
		}
		// Close after Cleanup is harmless; Cleanup of nothing too
		for _, s := range sandboxes {
			if err := s.Close(); err != nil {
				t.Fatalf("Close after Cleanup: %v", err)
			}
		}
		if err := Cleanup(context.Background(), filepath.Join(scratchRoot, "nothing-here")); err != nil {
			t.Fatalf("Cleanup of a missing root: %v", err)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	requireSandbox(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no lowers", Options{ScratchDir: filepath.Join(dir, "a")}, "no lower"},
		{"no scratch", Options{Lowers: []string{dir}}, "no scratch"},
		{"missing lower", Options{Lowers: []string{filepath.Join(dir, "missing")}, ScratchDir: filepath.Join(dir, "b")}, "no such file"},
		{"lower is a file", Options{Lowers: []string{file}, ScratchDir: filepath.Join(dir, "c")}, "not a directory"},
		{"colon", Options{Lowers: []string{dir + "/x:y"}, ScratchDir: filepath.Join(dir, "d")}, "cannot take"},
		{"relative runner", Options{Lowers: []string{dir}, ScratchDir: filepath.Join(dir, "e"), Runner: "goldsmith-runner"}, "not an absolute path"},
		{"missing runner", Options{Lowers: []string{dir}, ScratchDir: filepath.Join(dir, "f"), Runner: filepath.Join(dir, "nothing")}, "no such file"},
		{"runner not executable", Options{Lowers: []string{dir}, ScratchDir: filepath.Join(dir, "g"), Runner: file}, "not an executable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), tt.o)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	assertNoLeftovers(t, dir)
}

func TestMultipleLowers(t *testing.T) {
	requireSandbox(t)
	base := busyboxRootFS(t)
	top := t.TempDir()
	if err := os.MkdirAll(filepath.Join(top, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(top, "etc", "motd"), []byte("from the top layer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := openSandbox(t, Options{Lowers: []string{top, base}})
	if code, out, _ := run(t, s, Process{}, "cat /etc/motd; cat /etc/passwd | head -1"); code != 0 || out != "from the top layer\nroot:x:0:0:root:/root:/bin/sh\n" {
		t.Fatalf("%d %q", code, out)
	}
}

// waitForContainer waits until a container with its bundle under
// scratchRoot is listed by runc.
func waitForContainer(t *testing.T, scratchRoot string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ids, _ := listContainers(context.Background(), scratchRoot); len(ids) > 0 {
			time.Sleep(50 * time.Millisecond) // let it reach the sleep
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no container started")
}

func TestParallelSandboxesShareALower(t *testing.T) {
	requireSandbox(t)
	forEachMode(t, func(t *testing.T, runner string) {
		lower := busyboxRootFS(t)
		const n = 4
		sandboxes := make([]*Sandbox, n)
		for i := range sandboxes {
			sandboxes[i], _ = openSandbox(t, Options{Lowers: []string{lower}, Runner: runner})
		}
		errc := make(chan error, n)
		for i, s := range sandboxes {
			go func() {
				var out strings.Builder
				script := fmt.Sprintf("echo %d > /etc/who && sleep 0.2 && cat /etc/who", i)
				code, err := s.Run(context.Background(), Process{Args: []string{"sh", "-c", script}, Stdout: &out})
				if err == nil && (code != 0 || out.String() != fmt.Sprintf("%d\n", i)) {
					err = fmt.Errorf("sandbox %d: exit %d, %q", i, code, out.String())
				}
				errc <- err
			}()
		}
		for range sandboxes {
			if err := <-errc; err != nil {
				t.Error(err)
			}
		}
		if _, err := os.Stat(filepath.Join(lower, "etc", "who")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a sandbox wrote into its lower: %v", err)
		}
	})
}
