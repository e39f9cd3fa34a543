// Package runner is the process a build sandbox keeps running inside its
// runc container, so that the RUN steps of one layer share one container
// start: the host writes one Request per step (a JSON line on RequestFD)
// and reads frames from FrameFD: the step's output and then its Result.
// Between steps the runner kills whatever the step left running, as a
// fresh container per step would.
//
// The runner is PID 1 of the container's PID namespace. It must be a
// static executable, since it runs on the image's root: cmd/goldsmith-runner
// is the small one goldsmith ships.
package runner

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// The runner reads requests from RequestFD and writes frames to FrameFD,
// pipes the host passes it (runc run --preserve-fds 2); its stdout and
// stderr are only for diagnostics.
const (
	RequestFD = 3
	FrameFD   = 4
)

// Arg, as the only argument, starts a binary as a runner (IsRunner).
const Arg = "--goldsmith-sandbox-runner"

// IsRunner reports whether a process with these arguments is a runner.
func IsRunner(args []string) bool { return len(args) == 2 && args[1] == Arg }

// Request is one step for the runner: the process to run, already
// resolved by the host (numeric user, complete environment, absolute
// working directory). Its stdin is /dev/null.
type Request struct {
	Args   []string `json:"args"`
	Env    []string `json:"env"`
	Cwd    string   `json:"cwd"`
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups,omitempty"`
}

// Result ends a step. Error is set when the process could not be started
// (the executable is missing, the working directory is gone, ...); else
// ExitCode is its exit status, 128+signal when a signal killed it.
type Result struct {
	ExitCode int    `json:"exitCode"`
	Error    string `json:"error,omitempty"`
}

// Frame types.
const (
	FrameReady  byte = 1 // the runner is up (once, first)
	FrameStdout byte = 2 // data the step wrote to stdout
	FrameStderr byte = 3 // data the step wrote to stderr
	FrameResult byte = 4 // the step's Result, JSON
)

// MaxFrame is the largest frame payload.
const MaxFrame = 1 << 20

// A frame is a header of one type byte, three zero bytes and the payload
// length (uint32, big endian), then the payload.
const headerLen = 8

// FrameWriter writes frames; it is safe for concurrent use.
type FrameWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewFrameWriter writes frames to w.
func NewFrameWriter(w io.Writer) *FrameWriter { return &FrameWriter{w: w} }

// Write sends data as frames of type typ (split at MaxFrame).
func (f *FrameWriter) Write(typ byte, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for first := true; first || len(data) > 0; first = false {
		n := min(len(data), MaxFrame)
		f.buf = append(f.buf[:0], typ, 0, 0, 0, 0, 0, 0, 0)
		binary.BigEndian.PutUint32(f.buf[4:], uint32(n))
		f.buf = append(f.buf, data[:n]...)
		if _, err := f.w.Write(f.buf); err != nil {
			return fmt.Errorf("writing a frame: %w", err)
		}
		data = data[n:]
	}
	return nil
}

// ReadFrame reads one frame from r into buf (grown as needed) and returns
// its type and payload.
func ReadFrame(r io.Reader, buf []byte) (typ byte, payload, grown []byte, err error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, buf, err
	}
	if h[1] != 0 || h[2] != 0 || h[3] != 0 {
		return 0, nil, buf, errors.New("malformed frame header")
	}
	n := binary.BigEndian.Uint32(h[4:])
	if n > MaxFrame {
		return 0, nil, buf, fmt.Errorf("frame of %d bytes is over the limit of %d", n, MaxFrame)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, buf, err
	}
	return h[0], buf, buf, nil
}
