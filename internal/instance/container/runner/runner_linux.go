package runner

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Main serves requests from fd 3 (RequestFD) until it ends, writing frames
// to fd 4 (FrameFD), and returns the process exit code. It is meant to run
// as PID 1 of the sandbox's PID namespace: after each step it kills every
// other process.
func Main() int {
	in, out := os.NewFile(RequestFD, "requests"), NewFrameWriter(os.NewFile(FrameFD, "frames"))
	if err := out.Write(FrameReady, nil); err != nil {
		fmt.Fprintln(os.Stderr, "goldsmith runner:", err)
		return 1
	}
	dec := json.NewDecoder(bufio.NewReader(in))
	for {
		var req Request
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintln(os.Stderr, "goldsmith runner: reading a request:", err)
			return 1
		}
		res := Step(req, out)
		data, err := json.Marshal(res)
		if err == nil {
			err = out.Write(FrameResult, data)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "goldsmith runner:", err)
			return 1
		}
	}
}

// Step runs one request, sending its output to out as FrameStdout and
// FrameStderr frames. When the runner is PID 1, whatever else is still
// running when the step's process ends is killed and reaped.
func Step(req Request, out *FrameWriter) Result {
	res := step(req, out)
	if os.Getpid() == 1 {
		reapAll()
	}
	return res
}

func step(req Request, out *FrameWriter) Result {
	if len(req.Args) == 0 {
		return Result{ExitCode: -1, Error: "no command"}
	}
	if fi, err := os.Stat(req.Cwd); err != nil || !fi.IsDir() {
		return Result{ExitCode: -1, Error: fmt.Sprintf("working directory %q does not exist", req.Cwd)}
	}
	path, err := lookPath(req.Args[0], req.Env)
	if err != nil {
		return Result{ExitCode: -1, Error: err.Error()}
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return Result{ExitCode: -1, Error: err.Error()}
	}
	defer devnull.Close()
	var readers [2]*os.File
	var writers [2]*os.File
	for i := range readers {
		if readers[i], writers[i], err = os.Pipe(); err != nil {
			return Result{ExitCode: -1, Error: err.Error()}
		}
		defer readers[i].Close()
		defer writers[i].Close()
	}
	cmd := &exec.Cmd{
		Path: path, Args: req.Args, Env: req.Env, Dir: req.Cwd,
		Stdin: devnull, Stdout: writers[0], Stderr: writers[1],
		SysProcAttr: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: req.UID, Gid: req.GID, Groups: req.Groups},
		},
	}
	if err := cmd.Start(); err != nil {
		return Result{ExitCode: -1, Error: startError(req, err)}
	}
	writers[0].Close()
	writers[1].Close()
	var wg sync.WaitGroup
	for i, typ := range []byte{FrameStdout, FrameStderr} {
		wg.Go(func() { forward(readers[i], typ, out) })
	}
	waitErr := cmd.Wait()
	if os.Getpid() == 1 {
		// What the step started in the background would keep its pipes
		// open: the step ends with its process, as in a fresh container.
		_ = unix.Kill(-1, unix.SIGKILL)
	}
	wg.Wait()
	return Result{ExitCode: exitCode(cmd.ProcessState, waitErr)}
}

// forward copies a step's output pipe to frames until it ends.
func forward(r io.Reader, typ byte, out *FrameWriter) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if out.Write(typ, buf[:n]) != nil {
				_, _ = io.Copy(io.Discard, r)
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// reapAll waits for every child of the runner (what step killed, and the
// orphans the namespace's processes left to PID 1) until none is left.
func reapAll() {
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil { // ECHILD: nothing left
			return
		}
	}
}

func exitCode(ps *os.ProcessState, waitErr error) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if code := ps.ExitCode(); code >= 0 {
		return code
	}
	if waitErr != nil {
		return -1
	}
	return 0
}

// startError words a failed start as runc does ("exec: ...").
func startError(req Request, err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Sprintf("exec: %q: %v", req.Args[0], err)
}

// lookPath resolves name the way runc does: a name with a slash as is,
// else the first executable regular file named so in the request's PATH.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathEnv := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}
