package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// stdPath is the PATH of commands run by the agent.
const stdPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// maxExecOutput caps the stdout and stderr that exec returns (each).
const maxExecOutput = 16 << 20

// standardEnv is the environment of commands, with extra KEY=VALUE entries
// overriding it.
func standardEnv(extra []string) []string {
	env := []string{"PATH=" + stdPath, "HOME=/root", "LANG=C.UTF-8", "USER=root", "LOGNAME=root", "TERM=dumb"}
	for _, kv := range extra {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		env = replaceEnv(env, k, kv)
	}
	return env
}

func replaceEnv(env []string, key, kv string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, key+"=") {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

// command prepares argv to run as root in the image: chrooted into Root
// when Chroot is set, in its own process group (killed as a whole when ctx
// ends). cwd is an image path ("" = /).
func (s *server) command(ctx context.Context, argv []string, env []string, cwd string) (*exec.Cmd, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("empty argv")
	}
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		return nil, fmt.Errorf("working directory %q is not absolute", cwd)
	}
	prog, err := s.lookPath(argv[0])
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, prog, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = standardEnv(env)
	cmd.Dir = s.cmdPath(cwd)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.o.Chroot {
		cmd.SysProcAttr.Chroot = s.o.Root
	}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd, nil
}

// lookPath finds name as a command would in the image (PATH=stdPath) and
// returns the path to exec (inside the chroot when chrooted).
func (s *server) lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		if !path.IsAbs(name) {
			return "", fmt.Errorf("command %q: relative paths are not supported", name)
		}
		return s.cmdPath(name), nil
	}
	if !s.o.Chroot { // local mode: the host's commands
		for _, dir := range strings.Split(stdPath, ":") {
			p := path.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
				return p, nil
			}
		}
		return "", fmt.Errorf("command %q not found in %s", name, stdPath)
	}
	for _, dir := range strings.Split(stdPath, ":") {
		p := path.Join(dir, name)
		hp, err := resolveInRoot(s.o.Root, p, true)
		if err != nil {
			continue
		}
		if fi, err := os.Stat(hp); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return s.cmdPath(p), nil
		}
	}
	return "", fmt.Errorf("command %q not found in the image's %s", name, stdPath)
}

// exec runs one command to completion.
func (s *server) exec(ctx context.Context, a ExecArgs) (*ExecResult, error) {
	cmd, err := s.command(ctx, a.Argv, a.Env, a.Cwd)
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	stdout, stderr := &cappedBuffer{max: maxExecOutput}, &cappedBuffer{max: maxExecOutput}
	cmd.Stdin = bytes.NewReader(a.Stdin)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	code, err := s.run(cmd)
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w", a.Argv[0], err)
	}
	return &ExecResult{ExitCode: code, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}, nil
}

// run runs cmd and returns its exit status (128+signal when killed); the
// error is for a command that could not run. As PID 1 the agent reaps
// orphans: the child is registered so that the reaper leaves it to Wait.
func (s *server) run(cmd *exec.Cmd) (int, error) {
	if err := s.o.procs.start(cmd); err != nil {
		return -1, err
	}
	err := cmd.Wait()
	s.o.procs.done(cmd)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return -1, err
}

// cappedBuffer keeps the first max bytes written to it.
type cappedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (b *cappedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// lineWriter calls emit for each complete line written to it (a line over
// 64 KiB is split); Flush emits the rest.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(line string)
}

const maxLine = 64 << 10

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			if len(w.buf) >= maxLine {
				w.emit(string(w.buf[:maxLine]))
				w.buf = append(w.buf[:0], w.buf[maxLine:]...)
				continue
			}
			return len(p), nil
		}
		w.emit(strings.TrimSuffix(string(w.buf[:i]), "\r"))
		w.buf = append(w.buf[:0], w.buf[i+1:]...)
	}
}

// Flush emits a last unterminated line.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}

// kernelRelease is uname -r.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// procTable is the set of children that the agent waits for itself; the
// PID 1 reaper reaps every other zombie child. A nil *procTable just starts
// commands.
type procTable struct {
	mu   sync.Mutex
	pids map[int]bool
}

func newProcTable() *procTable { return &procTable{pids: map[int]bool{}} }

func (t *procTable) start(cmd *exec.Cmd) error {
	if t == nil {
		return cmd.Start()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	t.pids[cmd.Process.Pid] = true
	return nil
}

func (t *procTable) done(cmd *exec.Cmd) {
	if t == nil || cmd.Process == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pids, cmd.Process.Pid)
}

// reap waits for the zombie children that nobody else waits for.
func (t *procTable) reap() {
	t.mu.Lock()
	defer t.mu.Unlock()
	me := os.Getpid()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || t.pids[pid] {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) < 2 || f[0] != "Z" {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err != nil || ppid != me {
			continue
		}
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	}
}
