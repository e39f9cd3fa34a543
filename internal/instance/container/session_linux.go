package container

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goldsmith/goldsmith/internal/instance/container/runner"

	"github.com/goldsmith/goldsmith/internal/tailbuf"
)

// runnerPath is where the runner binary is bind-mounted in the container:
// in the /dev tmpfs, so that nothing of it reaches the overlay.
const runnerPath = "/dev/.goldsmith-runner"

// session is a running container whose PID 1 is the runner.
type session struct {
	*runcRun
	stdin  io.WriteCloser // requests, the runner's fd 3
	out    *os.File       // frames, the runner's fd 4
	frames *bufio.Reader
	buf    []byte
	stderr *tailbuf.Buffer
}

// startSession starts the runner's container and waits until it is up.
func (s *Sandbox) startSession(ctx, runCtx context.Context) (*session, error) {
	spec := runcSpec(s.merged, s.opts.Hostname, s.opts.Network, execUser{Home: "/"},
		[]string{runnerPath, runner.Arg}, []string{"PATH=" + DefaultPath}, "/")
	spec.Mounts = append(spec.Mounts, ociMount{
		Destination: runnerPath, Type: "bind", Source: s.opts.Runner,
		Options: []string{"bind", "ro", "nosuid", "nodev"},
	})
	// The protocol's pipes are the runner's fds 3 and 4.
	r, err := s.newRunc(spec, "--preserve-fds", "2")
	if err != nil {
		return nil, err
	}
	sess := &session{runcRun: r, stderr: tailbuf.New(4096)}
	// The protocol's pipes go to the runner as fds 3 and 4 (runc
	// --preserve-fds), not through runc's relay of its stdio.
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("runner pipes: %w", err)
	}
	frR, frW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, fmt.Errorf("runner pipes: %w", err)
	}
	sess.stdin, sess.out = reqW, frR
	sess.frames = bufio.NewReaderSize(frR, 64<<10)
	sess.cmd.ExtraFiles = []*os.File{reqR, frW}
	sess.cmd.Stdout, sess.cmd.Stderr = sess.stderr, sess.stderr
	err = sess.cmd.Start()
	reqR.Close()
	frW.Close()
	if err != nil {
		reqW.Close()
		frR.Close()
		s.removeStubs(ctx, sess.stubs)
		return nil, fmt.Errorf("starting runc: %w", err)
	}
	s.sess = sess
	done := make(chan struct{})
	defer close(done)
	go s.killOnCancel(runCtx, sess.id, sess.cmd.Process, done)
	typ, _, err := sess.read()
	if err == nil && typ != runner.FrameReady {
		err = fmt.Errorf("unexpected frame %d", typ)
	}
	if err != nil {
		return nil, s.sessionFailed(ctx, fmt.Errorf("starting the sandbox runner: %w", err))
	}
	return sess, nil
}

// Prestart starts the runner's container now, in the background, so that
// the first Run does not wait for it. Without Options.Runner it does
// nothing. A start that fails is tried again by the first Run, which
// reports the error; Close stops a start under way.
func (s *Sandbox) Prestart() {
	if s.opts.Runner == "" {
		return
	}
	go func() {
		s.runMu.Lock()
		defer s.runMu.Unlock()
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		s.mu.Lock()
		if s.closed || s.sess != nil {
			s.mu.Unlock()
			return
		}
		s.stopRun = stop
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.stopRun = nil
			s.mu.Unlock()
		}()
		if _, err := s.startSession(ctx, ctx); err != nil {
			slog.Debug("sandbox runner not started ahead", "scratch", s.scratch, "err", err)
		}
	}()
}

// read reads the next frame of the runner.
func (sess *session) read() (byte, []byte, error) {
	typ, data, buf, err := runner.ReadFrame(sess.frames, sess.buf)
	sess.buf = buf
	return typ, data, err
}

// runInSession runs p in the session's container (starting it first when
// there is none).
func (s *Sandbox) runInSession(ctx, runCtx context.Context, p Process, rp resolved) (int, error) {
	sess := s.sess
	if sess == nil {
		var err error
		if sess, err = s.startSession(ctx, runCtx); err != nil {
			return -1, err
		}
	}
	done := make(chan struct{})
	defer close(done)
	go s.killOnCancel(runCtx, sess.id, sess.cmd.Process, done)
	req, err := json.Marshal(runner.Request{Args: rp.args, Env: rp.env, Cwd: rp.cwd,
		UID: rp.user.UID, GID: rp.user.GID, Groups: rp.user.AdditionalGids})
	if err != nil {
		return -1, fmt.Errorf("encoding the request: %w", err)
	}
	if _, err := sess.stdin.Write(append(req, '\n')); err != nil {
		return -1, s.sessionFailed(ctx, fmt.Errorf("sending the step to the sandbox runner: %w", err))
	}
	for {
		typ, data, err := sess.read()
		if err != nil {
			return -1, s.sessionFailed(ctx, fmt.Errorf("sandbox runner: %w", err))
		}
		var w io.Writer
		switch typ {
		case runner.FrameStdout:
			w = p.Stdout
		case runner.FrameStderr:
			w = p.Stderr
		case runner.FrameResult:
			var res runner.Result
			if err := json.Unmarshal(data, &res); err != nil {
				return -1, s.sessionFailed(ctx, fmt.Errorf("sandbox runner: decoding the result: %w", err))
			}
			if res.Error != "" {
				return -1, errors.New(res.Error)
			}
			return res.ExitCode, nil
		default:
			return -1, s.sessionFailed(ctx, fmt.Errorf("sandbox runner: unexpected frame %d", typ))
		}
		if w != nil {
			if _, err := w.Write(data); err != nil {
				// A failing writer does not stop the step, as with runc.
				p.Stdout, p.Stderr = discardIf(p.Stdout, w), discardIf(p.Stderr, w)
			}
		}
	}
}

func discardIf(w, failed io.Writer) io.Writer {
	if w == failed {
		return io.Discard
	}
	return w
}

// sessionFailed ends a session whose runner stopped answering and returns
// the error to report: ctx's error or the closed sandbox when that is
// why, else err with what runc said.
func (s *Sandbox) sessionFailed(ctx context.Context, err error) error {
	sess := s.sess
	s.endSession(ctx)
	if ierr := s.interrupted(ctx); ierr != nil {
		return ierr
	}
	if msg := runcError(sess.logPath); msg != "" {
		return fmt.Errorf("%w; runc: %s", err, msg)
	}
	if tail := strings.TrimSpace(sess.stderr.String()); tail != "" {
		return fmt.Errorf("%w; runner: %s", err, tail)
	}
	return err
}

// endSession stops the session's container, if any: the runner exits when
// its stdin ends (killed after a while if it does not), runc removes the
// container, and the mount points runc created are removed.
func (s *Sandbox) endSession(ctx context.Context) {
	sess := s.sess
	if sess == nil {
		return
	}
	s.sess = nil
	_ = sess.stdin.Close()
	sess.wait(ctx)
	s.removeStubs(ctx, sess.stubs)
}

// releaseSession ends the session like endSession but, when runc created no
// mount point in the root, does not wait for the container to go: its
// steps have all ended (the runner kills what each leaves) and the runner
// only exits, so the root no longer changes. Close waits for it.
func (s *Sandbox) releaseSession(ctx context.Context) {
	sess := s.sess
	if sess == nil || len(sess.stubs) > 0 {
		s.endSession(ctx)
		return
	}
	s.sess = nil
	_ = sess.stdin.Close()
	done := make(chan struct{})
	s.ending = append(s.ending, done)
	go func() {
		defer close(done)
		sess.wait(context.WithoutCancel(ctx))
	}()
}

// waitEnding waits for the sessions releaseSession let go.
func (s *Sandbox) waitEnding() {
	for _, done := range s.ending {
		<-done
	}
	s.ending = nil
}

// wait waits for runc to return after the runner's stdin was closed,
// killing the container when it takes too long, and removes what runc
// left of it.
func (sess *session) wait(ctx context.Context) {
	exited := make(chan error, 1)
	go func() { exited <- sess.cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		killContainer(context.WithoutCancel(ctx), sess.id)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = sess.cmd.Process.Kill()
			<-exited
		}
	}
	sess.out.Close()
	if _, err := os.Stat(filepath.Join(StateRoot, sess.id)); err == nil {
		deleteContainer(context.WithoutCancel(ctx), sess.id)
	}
}
