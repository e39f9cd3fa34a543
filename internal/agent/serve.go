package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/goldsmith/goldsmith/internal/osrelease"
)

// ServeOptions configure Serve.
type ServeOptions struct {
	// Root is the image's root directory (Init: /root).
	Root string
	// Chroot runs commands chrooted into Root; without it (local mode for
	// tests) commands run on the host with their paths under Root.
	Chroot bool
	// Binary is the goldsmith binary that runs `toe run`, as commands see
	// it (Init: /run/goldsmith/goldsmith inside the chroot).
	Binary string
	// BootCount is announced in hello (1 on the first boot).
	BootCount int
	// Kernel is announced in hello (default: the running kernel's release).
	Kernel string
	// Reboot and Poweroff are called after the agent has answered (Init:
	// the reboot system call; they do not return on success). nil refuses
	// the operation.
	Reboot   func(ctx context.Context) error
	Poweroff func(ctx context.Context) error
	// Logger receives the agent's log (default: discarded).
	Logger *slog.Logger

	procs *procTable // Init's children, shared with its reaper
}

// errStopped ends the request loop after a reboot or poweroff.
var errStopped = errors.New("agent stopped for a reboot or poweroff")

// server is one Serve call.
type server struct {
	o   ServeOptions
	enc *Encoder
	log *slog.Logger
}

// Serve speaks the protocol over rw until reading fails (the error is
// returned; io.EOF as nil) or a reboot or poweroff was carried out (nil).
// It first announces hello and resumes an unfinished run-toe job. Ping is
// answered at once; other requests run one at a time. Serve does not close
// rw; a goroutine reading rw ends when the caller closes it.
func Serve(ctx context.Context, rw io.ReadWriter, o ServeOptions) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Root == "" {
		o.Root = "/"
	}
	if o.BootCount == 0 {
		o.BootCount = 1
	}
	if o.Kernel == "" {
		o.Kernel = kernelRelease()
	}
	s := &server{o: o, enc: NewEncoder(rw), log: o.Logger}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	resumed, err := s.unfinishedJob()
	if err != nil {
		s.log.Warn("looking for an unfinished job", "err", err)
	}
	hello := s.hello(resumed)
	if err := s.send("", TypeHello, hello); err != nil {
		return err
	}
	s.log.Info("agent ready", "boot", hello.BootCount, "kernel", hello.Kernel, "os", hello.OSRelease, "resumedJob", hello.ResumedJob)

	reqs := make(chan Message, 16)
	readErr := make(chan error, 1)
	go func() {
		dec := NewDecoder(rw, MaxMessage)
		for {
			m, err := dec.Next()
			if errors.Is(err, ErrMessageTooLong) {
				s.log.Warn("skipping an oversized message")
				continue
			}
			if err != nil {
				readErr <- err
				return
			}
			if m.Op == "" {
				continue // an echo or noise
			}
			if m.Op == OpPing {
				if err := s.send(m.ID, TypePong, s.hello(resumed)); err != nil {
					readErr <- err
					return
				}
				continue
			}
			select {
			case reqs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()

	if resumed != nil {
		if err := s.resumeJob(ctx, resumed); errors.Is(err, errStopped) {
			return nil
		}
		resumed = nil
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading requests: %w", err)
		case m := <-reqs:
			if err := s.handle(ctx, m); errors.Is(err, errStopped) {
				return nil
			}
		}
	}
}

func (s *server) hello(resumed *jobState) Hello {
	h := Hello{BootCount: s.o.BootCount, Kernel: s.o.Kernel, OSRelease: osReleaseName(s.o.Root)}
	if resumed != nil {
		h.ResumedJob = resumed.ID
	}
	return h
}

// send writes one agent message; data is marshalled to JSON.
func (s *server) send(id, typ string, data any) error {
	m, err := newMessage(id, typ, data)
	if err != nil {
		return err
	}
	return s.enc.Send(m)
}

func (s *server) sendError(id string, err error) {
	s.log.Warn("request failed", "id", id, "err", err)
	if serr := s.enc.Send(Message{ID: id, Type: TypeError, Error: err.Error()}); serr != nil {
		s.log.Warn("sending an error", "err", serr)
	}
}

// handle runs one request and answers it. It returns errStopped after a
// reboot or poweroff.
func (s *server) handle(ctx context.Context, m Message) error {
	s.log.Debug("request", "id", m.ID, "op", m.Op)
	var (
		result any
		err    error
	)
	switch m.Op {
	case OpExec:
		var a ExecArgs
		if err = decodeArgs(m, &a); err == nil {
			result, err = s.exec(ctx, a)
		}
	case OpReadFile:
		var a FileArgs
		if err = decodeArgs(m, &a); err == nil {
			var data []byte
			data, err = s.readFile(a.Path)
			result = FileResult{Data: data}
		}
	case OpWriteFile:
		var a FileArgs
		if err = decodeArgs(m, &a); err == nil {
			if err = s.writeFile(a.Path, a.Data, a.Mode); err == nil {
				return s.reply(m.ID, TypeOK, nil)
			}
		}
	case OpSanitize:
		var a SanitizeArgs
		if err = decodeArgs(m, &a); err == nil {
			var out string
			out, err = Sanitize(s.o.Root, a.WorkingDirectory, a.KeepAgent)
			result = SanitizeResult{Output: out}
		}
	case OpRunToe:
		var job ToeJob
		if err = decodeArgs(m, &job); err == nil {
			return s.runToe(ctx, m.ID, job)
		}
	case OpPoweroff, OpReboot:
		return s.stop(ctx, m)
	default:
		err = fmt.Errorf("unknown op %q", m.Op)
	}
	if err != nil {
		s.sendError(m.ID, err)
		return nil
	}
	return s.reply(m.ID, TypeResult, result)
}

func (s *server) reply(id, typ string, data any) error {
	if err := s.send(id, typ, data); err != nil {
		s.log.Warn("sending a reply", "id", id, "err", err)
	}
	return nil
}

// stop answers ok and powers off or reboots.
func (s *server) stop(ctx context.Context, m Message) error {
	fn := s.o.Poweroff
	if m.Op == OpReboot {
		fn = s.o.Reboot
	}
	if fn == nil {
		s.sendError(m.ID, fmt.Errorf("%s is not available", m.Op))
		return nil
	}
	_ = s.reply(m.ID, TypeOK, nil)
	s.log.Info("stopping", "op", m.Op)
	if err := fn(ctx); err != nil {
		s.log.Error("stopping failed", "op", m.Op, "err", err)
		return nil
	}
	return errStopped
}

func decodeArgs(m Message, v any) error {
	if len(m.Args) == 0 {
		return nil
	}
	if err := json.Unmarshal(m.Args, v); err != nil {
		return fmt.Errorf("%s arguments: %w", m.Op, err)
	}
	return nil
}

// hostPath is where the image path p (absolute in the image) is for the
// agent. Symlinks are not resolved (see resolveInRoot).
func (s *server) hostPath(p string) string {
	return filepath.Join(s.o.Root, path.Clean("/"+p))
}

// cmdPath is how commands see the image path p: itself when chrooted, else
// under Root.
func (s *server) cmdPath(p string) string {
	if s.o.Chroot {
		return path.Clean("/" + p)
	}
	return s.hostPath(p)
}

func (s *server) readFile(p string) ([]byte, error) {
	if !path.IsAbs(p) {
		return nil, fmt.Errorf("read-file: path %q is not absolute", p)
	}
	hp, err := resolveInRoot(s.o.Root, p, true)
	if err != nil {
		return nil, fmt.Errorf("read-file %s: %w", p, err)
	}
	data, err := os.ReadFile(hp)
	if err != nil {
		return nil, fmt.Errorf("read-file %s: %w", p, err)
	}
	return data, nil
}

func (s *server) writeFile(p string, data []byte, mode os.FileMode) error {
	if !path.IsAbs(p) {
		return fmt.Errorf("write-file: path %q is not absolute", p)
	}
	if mode == 0 {
		mode = 0o644
	}
	hp, err := resolveInRoot(s.o.Root, p, true)
	if err != nil {
		return fmt.Errorf("write-file %s: %w", p, err)
	}
	if err := os.MkdirAll(filepath.Dir(hp), 0o755); err != nil {
		return fmt.Errorf("write-file %s: %w", p, err)
	}
	if err := os.WriteFile(hp, data, mode.Perm()); err != nil {
		return fmt.Errorf("write-file %s: %w", p, err)
	}
	if err := os.Chmod(hp, mode.Perm()); err != nil {
		return fmt.Errorf("write-file %s: %w", p, err)
	}
	return nil
}

// resolveInRoot returns the host path of the image path p, resolving
// symlinks as a chroot into root would (absolute links are relative to
// root, ".." never leaves it). The last element is resolved only when
// followLast is set; missing elements are kept as they are.
func resolveInRoot(root, p string, followLast bool) (string, error) {
	rest := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	var done []string // resolved elements below root
	links := 0
	for len(rest) > 0 {
		elem := rest[0]
		rest = rest[1:]
		switch elem {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := filepath.Join(append([]string{root}, append(done, elem)...)...)
		if len(rest) == 0 && !followLast {
			done = append(done, elem)
			break
		}
		fi, err := os.Lstat(cur)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			done = append(done, elem)
			continue
		}
		if links++; links > 40 {
			return "", fmt.Errorf("resolving %s: too many symbolic links", p)
		}
		target, err := os.Readlink(cur)
		if err != nil {
			return "", fmt.Errorf("resolving %s: %w", p, err)
		}
		if path.IsAbs(target) {
			done = nil
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return filepath.Join(append([]string{root}, done...)...), nil
}

// osReleaseName is PRETTY_NAME of root's /etc/os-release ("" if unknown).
func osReleaseName(root string) string {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		hp, err := resolveInRoot(root, p, true)
		if err != nil {
			continue
		}
		data, err := os.ReadFile(hp)
		if err != nil {
			continue
		}
		if v := osrelease.PrettyName(data); v != "" {
			return v
		}
	}
	return ""
}
