package container

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Run runs one process in the sandbox, whose root is merged/. Without
// Options.Runner (or when p has a Stdin) it is one `runc run` (a fresh
// container id starting with IDPrefix); with a runner, the Runs between
// two WriteLayer, CloseKeepingUpper or Close calls share one container
// whose PID 1 is the runner, which starts each process and kills what it
// leaves running when it ends. A non-zero exit is (code, nil); a process
// killed by a signal exits 128+signal. When ctx ends the container is
// killed and deleted and ctx's error is returned wrapped. Failures to
// start the process (a missing executable or working directory, ...) are
// errors.
func (s *Sandbox) Run(ctx context.Context, p Process) (exitCode int, err error) {
	if len(p.Args) == 0 {
		return -1, errors.New("run: no command")
	}
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.isClosed() {
		return -1, fmt.Errorf("run %s: sandbox closed", p.Args[0])
	}
	if err := ctx.Err(); err != nil {
		return -1, fmt.Errorf("run %s: %w", p.Args[0], err)
	}
	rp, err := s.resolve(p)
	if err != nil {
		return -1, fmt.Errorf("run %s: %w", p.Args[0], err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return -1, fmt.Errorf("run %s: sandbox closed", p.Args[0])
	}
	s.stopRun = stop
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.stopRun = nil
		s.mu.Unlock()
	}()

	start := time.Now()
	if s.opts.Runner != "" && p.Stdin == nil {
		exitCode, err = s.runInSession(ctx, runCtx, p, rp)
	} else {
		s.endSession(ctx)
		exitCode, err = s.runOnce(ctx, runCtx, p, rp)
	}
	slog.DebugContext(ctx, "sandbox run", "args", p.Args, "runner", s.opts.Runner != "", "elapsed", time.Since(start))
	if err != nil {
		return -1, fmt.Errorf("run %s: %w", p.Args[0], err)
	}
	return exitCode, nil
}

// runOnce runs p as the process of a container of its own.
func (s *Sandbox) runOnce(ctx, runCtx context.Context, p Process, rp resolved) (exitCode int, err error) {
	r, err := s.newRunc(runcSpec(s.merged, s.opts.Hostname, s.opts.Network, rp.user, rp.args, rp.env, rp.cwd))
	if err != nil {
		return -1, err
	}
	defer s.removeStubs(ctx, r.stubs)
	cmd := r.cmd
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.Stdin, p.Stdout, p.Stderr
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("starting runc: %w", err)
	}
	done := make(chan struct{})
	go s.killOnCancel(runCtx, r.id, cmd.Process, done)
	waitErr := cmd.Wait()
	close(done)
	if _, err := os.Stat(filepath.Join(StateRoot, r.id)); err == nil {
		deleteContainer(context.WithoutCancel(ctx), r.id)
	}
	if err := s.interrupted(ctx); err != nil {
		return -1, err
	}
	var ee *exec.ExitError
	switch {
	case waitErr == nil:
		exitCode = 0
	case errors.As(waitErr, &ee) && ee.ExitCode() >= 0:
		exitCode = ee.ExitCode()
	default:
		return -1, fmt.Errorf("runc: %w", waitErr)
	}
	if exitCode != 0 {
		if msg := runcError(r.logPath); msg != "" {
			return -1, fmt.Errorf("runc: %s", msg)
		}
	}
	return exitCode, nil
}

// runcRun is one `runc run` of the sandbox's bundle, not started yet.
type runcRun struct {
	cmd     *exec.Cmd
	id      string // the container's
	logPath string // runc's log (JSON)
	stubs   []stub // the mount points runc will create in the root
}

// newRunc writes spec as the bundle's config.json and returns the `runc
// run` of it (with runArgs) under a fresh container id.
func (s *Sandbox) newRunc(spec ociSpec, runArgs ...string) (*runcRun, error) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		return nil, err
	}
	id, err := newContainerID()
	if err != nil {
		return nil, err
	}
	if err := s.writeConfig(spec); err != nil {
		return nil, err
	}
	r := &runcRun{id: id, stubs: s.missingStubs(), logPath: s.runcLog()}
	args := append([]string{"--root", StateRoot, "--log", r.logPath, "--log-format", "json", "run"}, runArgs...)
	r.cmd = exec.Command(runc, append(args, "--bundle", s.bnd, id)...)
	r.cmd.WaitDelay = 5 * time.Second
	return r, nil
}

// interrupted is ctx's error, or an error when the sandbox was closed.
func (s *Sandbox) interrupted(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return errors.New("sandbox closed")
	}
	return nil
}

// writeConfig writes the bundle's config.json.
func (s *Sandbox) writeConfig(spec ociSpec) error {
	cfg, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("encoding config.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.bnd, "config.json"), cfg, 0o600); err != nil {
		return fmt.Errorf("writing config.json: %w", err)
	}
	return nil
}

// runcLog is the path of the bundle's runc log, removed first.
func (s *Sandbox) runcLog() string {
	p := filepath.Join(s.bnd, "runc.log")
	_ = os.Remove(p)
	return p
}

func (s *Sandbox) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// killOnCancel kills the container once ctx ends, retrying until runc run
// has returned (the container may not exist yet when ctx ends); runc itself
// is killed if it does not return in time.
func (s *Sandbox) killOnCancel(ctx context.Context, id string, runc *os.Process, done <-chan struct{}) {
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	deadline := time.Now().Add(15 * time.Second)
	for {
		killContainer(kctx, id)
		select {
		case <-done:
			return
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			slog.WarnContext(ctx, "runc did not stop after kill; killing runc", "id", id)
			_ = runc.Kill()
			return
		}
	}
}

// resolved is a Process resolved against the sandbox: numeric user,
// complete environment, absolute working directory that exists.
type resolved struct {
	user execUser
	args []string
	env  []string
	cwd  string
}

// resolve looks up p's user in the sandbox's /etc/passwd and /etc/group,
// checks its working directory and completes its environment.
func (s *Sandbox) resolve(p Process) (resolved, error) {
	var passwd, group io.Reader
	for _, f := range []struct {
		name string
		r    *io.Reader
	}{{"etc/passwd", &passwd}, {"etc/group", &group}} {
		host, err := resolveInRoot(s.merged, f.name, true)
		if err != nil {
			continue
		}
		data, err := os.ReadFile(host)
		if err == nil {
			*f.r = bytes.NewReader(data)
		}
	}
	u, err := resolveUser(p.User, passwd, group)
	if err != nil {
		return resolved{}, err
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	cwd = path.Clean("/" + cwd)
	host, err := resolveInRoot(s.merged, cwd, true)
	if err != nil {
		return resolved{}, fmt.Errorf("working directory %s: %w", cwd, err)
	}
	if fi, err := os.Stat(host); err != nil || !fi.IsDir() {
		return resolved{}, fmt.Errorf("working directory %s does not exist in the sandbox", cwd)
	}
	env := append([]string(nil), p.Env...)
	if !hasEnv(env, "PATH") {
		env = append(env, "PATH="+DefaultPath)
	}
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+u.Home)
	}
	return resolved{user: u, args: p.Args, env: env, cwd: cwd}, nil
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

// stub is a mount point runc will have to create, and the times of its
// parent directory before that.
type stub struct {
	rel          string
	parentExists bool
	atime, mtime time.Time
}

// missingStubs lists the mount points runc will have to create.
func (s *Sandbox) missingStubs() []stub {
	var missing []stub
	for _, rel := range mountStubs(s.opts.Network) {
		if _, err := os.Lstat(filepath.Join(s.merged, rel)); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		st := stub{rel: rel}
		var pst unix.Stat_t
		if unix.Stat(filepath.Join(s.merged, filepath.Dir(rel)), &pst) == nil {
			st.parentExists = true
			st.atime = time.Unix(pst.Atim.Unix())
			st.mtime = time.Unix(pst.Mtim.Unix())
		}
		missing = append(missing, st)
	}
	return missing
}

// removeStubs removes the mount points runc created, when still empty, and
// gives their parents back their times, so that a Run that changed nothing
// adds nothing but unchanged directories to the layer.
func (s *Sandbox) removeStubs(ctx context.Context, created []stub) {
	for i := len(created) - 1; i >= 0; i-- {
		st := created[i]
		p := filepath.Join(s.merged, st.rel)
		fi, err := os.Lstat(p)
		if err != nil || (fi.Mode().IsRegular() && fi.Size() != 0) || (!fi.IsDir() && !fi.Mode().IsRegular()) {
			continue
		}
		if err := os.Remove(p); err != nil {
			slog.DebugContext(ctx, "mount point kept", "path", st.rel, "err", err)
			continue
		}
		if st.parentExists {
			_ = os.Chtimes(filepath.Dir(p), st.atime, st.mtime)
		}
	}
}

func newContainerID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("container id: %w", err)
	}
	return IDPrefix + hex.EncodeToString(b), nil
}

// runcError is the last error runc logged, "" when none.
func runcError(logPath string) string {
	f, err := os.Open(logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	var msg string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		var e struct{ Level, Msg string }
		if json.Unmarshal(sc.Bytes(), &e) == nil && (e.Level == "error" || e.Level == "fatal") {
			msg = e.Msg
		}
	}
	return msg
}

// killContainer sends SIGKILL to a container's processes; errors (the
// container is gone or not created yet) are ignored.
func killContainer(ctx context.Context, id string) {
	out, err := exec.CommandContext(ctx, "runc", "--root", StateRoot, "kill", id, "KILL").CombinedOutput()
	if err != nil {
		slog.DebugContext(ctx, "runc kill", "id", id, "err", err, "output", strings.TrimSpace(string(out)))
	}
}

// deleteContainer removes a container's runc state (and cgroups), killing
// it first if it still runs.
func deleteContainer(ctx context.Context, id string) {
	out, err := exec.CommandContext(ctx, "runc", "--root", StateRoot, "delete", "--force", id).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "does not exist") {
		slog.WarnContext(ctx, "runc delete", "id", id, "err", err, "output", strings.TrimSpace(string(out)))
	}
}
