package module

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// ExitError reports a child process that finished with a non-zero exit code
// (other than a reboot request).
type ExitError struct {
	Code int
}

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// RebootExitCode is the Linux exit code by which a script asks for a reboot
// followed by a re-run of the same step.
const RebootExitCode = 194

// maxCapture bounds the stdout kept in memory for the `stdout` output; the
// stream to env.Stdout is never truncated.
const maxCapture = 32 << 20

// pipeWaitDelay is how long Wait keeps reading the output pipes after the
// child exited (a background grandchild may hold them open).
const pipeWaitDelay = 2 * time.Second

// capBuffer keeps the first maxCapture bytes written to it.
type capBuffer struct {
	buf       bytes.Buffer
	truncated bool
}

func (c *capBuffer) Write(p []byte) (int, error) {
	room := maxCapture - c.buf.Len()
	if room < len(p) {
		c.truncated = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return c.buf.Write(p)
}

// lockedWriter serialises writes from the stdout and stderr copiers.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// procResult is what runProcess observed.
type procResult struct {
	Stdout    string
	Truncated bool
	ExitCode  int
}

// runProcess starts name+args in its own process group, streams stdout to
// env.Stdout (keeping a copy) and stderr to env.Stderr, and waits. When ctx
// is done the whole group is killed with SIGKILL and the child reaped; the
// returned error then wraps ctx.Err(). A non-zero exit is not an error here:
// callers interpret ExitCode.
func runProcess(ctx context.Context, env *Env, name string, args []string, extraEnv []string) (procResult, error) {
	cmd := exec.Command(name, args...)
	if env != nil {
		cmd.Dir = env.WorkDir
	}
	if len(extraEnv) > 0 {
		cmd.Env = append(cmd.Environ(), extraEnv...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var mu sync.Mutex
	var capture capBuffer
	cmd.Stdout = io.MultiWriter(&capture, lockedWriter{&mu, env.stdout()})
	cmd.Stderr = lockedWriter{&mu, env.stderr()}
	cmd.WaitDelay = pipeWaitDelay

	if err := ctx.Err(); err != nil {
		return procResult{ExitCode: -1}, fmt.Errorf("%s not started: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return procResult{ExitCode: -1}, fmt.Errorf("start %s: %w", name, err)
	}
	pgid := cmd.Process.Pid
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			// Negative pid: the whole process group, so background
			// children of a script die too.
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		case <-done:
		}
	}()
	werr := cmd.Wait()
	close(done)
	wg.Wait()

	res := procResult{Stdout: capture.buf.String(), Truncated: capture.truncated}
	if ctx.Err() != nil {
		res.ExitCode = -1
		return res, fmt.Errorf("%s killed: %w", name, ctx.Err())
	}
	var ee *exec.ExitError
	switch {
	case werr == nil:
	case errors.Is(werr, exec.ErrWaitDelay):
		// The child exited successfully but a background process kept its
		// output open; the pipes were closed after pipeWaitDelay.
		env.logger().Warn("process exited but left its output open; stopped reading", "command", name)
	case errors.As(werr, &ee):
		res.ExitCode = exitCode(ee)
	default:
		res.ExitCode = -1
		return res, fmt.Errorf("wait for %s: %w", name, werr)
	}
	return res, nil
}

// exitCode maps a wait status to a shell-style code: the exit code, or
// 128+signal for a signalled process.
func exitCode(ee *exec.ExitError) int {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}
