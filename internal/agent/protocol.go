// Package agent is goldsmith's guest agent and its host client.
//
// In a VM build instance the static goldsmith binary is /init of an
// initramfs that goldsmith makes on the fly (WriteInitramfs). Init, PID 1,
// mounts the image's root disk at /root, opens the second serial port
// (/dev/ttyS1, a unix socket on the host) and serves the protocol below with
// Serve. Commands run chrooted into the image, like a container build: there
// is no systemd during builds.
//
// # Protocol
//
// Newline-delimited JSON in both directions; binary data is base64 (Go's
// []byte encoding). The host sends requests
//
//	{"id":"3","op":"exec","args":{...}}
//
// and the agent answers with messages of the same id:
//
//	{"id":"3","type":"output","data":{"stream":"stdout","line":"..."}}   (run-toe, streamed)
//	{"id":"3","type":"rebooting","data":{"reboots":1}}                 (run-toe, before a reboot)
//	{"id":"3","type":"result","data":{...}}                             (final answer)
//	{"id":"3","type":"error","error":"..."}                             (final answer)
//
// The agent sends {"type":"hello","data":Hello} whenever it (re)starts and
// answers {"op":"ping"} with {"type":"pong","data":Hello}. Lines that do not
// parse are ignored on both sides (a re-dialled socket may deliver a
// fragment), and every message starts with a newline so that a fragment
// never corrupts the next message. Requests are sent one at a time; ping
// may be sent at any time.
package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Operations.
const (
	OpPing      = "ping"
	OpRunToe    = "run-toe"
	OpExec      = "exec"
	OpReadFile  = "read-file"
	OpWriteFile = "write-file"
	OpSanitize  = "sanitize"
	OpPoweroff  = "poweroff"
	OpReboot    = "reboot"
)

// Message types sent by the agent.
const (
	TypeHello     = "hello"
	TypePong      = "pong"
	TypeOutput    = "output"
	TypeRebooting = "rebooting"
	TypeResult    = "result"
	TypeOK        = "ok"
	TypeError     = "error"
)

// MaxMessage bounds one protocol line (a run-toe result carries up to
// MaxLogs of base64 logs).
const MaxMessage = 64 << 20

// MaxLogs caps the tar.gz of toe's log folder returned by run-toe.
const MaxLogs = 32 << 20

// Message is one protocol line: a request (Op set) or an agent message
// (Type set).
type Message struct {
	ID    string          `json:"id,omitempty"`
	Op    string          `json:"op,omitempty"`
	Type  string          `json:"type,omitempty"`
	Args  json.RawMessage `json:"args,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	Error string          `json:"error,omitempty"`
}

// Hello is what the agent announces when it (re)starts.
type Hello struct {
	BootCount  int    `json:"bootCount"`
	Kernel     string `json:"kernel"`
	OSRelease  string `json:"osRelease"`
	ResumedJob string `json:"resumedJob,omitempty"`
}

// OutputEvent is one line of a running toe's stdout or stderr.
type OutputEvent struct {
	Stream string `json:"stream"`
	Line   string `json:"line"`
}

// RebootingEvent says the guest reboots in the middle of a job.
type RebootingEvent struct {
	Reboots int `json:"reboots"`
}

// ToeDocument is one component document of a ToeJob.
type ToeDocument struct {
	Name     string `json:"name"`     // component name, for reporting
	FileName string `json:"fileName"` // optional; derived from Name when empty
	Content  []byte `json:"content"`  // the YAML document
}

// ToeJob is a run of component documents by the toe engine in the guest.
type ToeJob struct {
	ID         string                    `json:"id"`
	Documents  []ToeDocument             `json:"documents"`
	Parameters map[int]map[string]string `json:"parameters,omitempty"` // per document index
	Phases     string                    `json:"phases"`               // default "build,validate"
	WorkingDir string                    `json:"workingDir"`           // default /tmp
}

// ToeResult is the outcome of a ToeJob.
type ToeResult struct {
	ExitCode       int    `json:"exitCode"`
	DetailedOutput []byte `json:"detailedOutput,omitempty"` // toe's detailedoutput.json
	Logs           []byte `json:"logs,omitempty"`           // tar.gz of the toe log folder
	LogsTruncated  bool   `json:"logsTruncated,omitempty"`  // the logs passed MaxLogs and were left out
	Reboots        int    `json:"reboots"`
}

// ExecArgs are the arguments of exec.
type ExecArgs struct {
	Argv  []string `json:"argv"`
	Env   []string `json:"env,omitempty"` // KEY=VALUE, added to the standard environment
	Cwd   string   `json:"cwd,omitempty"` // default /
	Stdin []byte   `json:"stdin,omitempty"`
}

// ExecResult is the outcome of exec.
type ExecResult struct {
	ExitCode int    `json:"exitCode"`
	Stdout   []byte `json:"stdout"`
	Stderr   []byte `json:"stderr"`
}

// FileArgs are the arguments of read-file and write-file.
type FileArgs struct {
	Path string      `json:"path"`
	Data []byte      `json:"data,omitempty"`
	Mode os.FileMode `json:"mode,omitempty"`
}

// FileResult is the answer of read-file.
type FileResult struct {
	Data []byte `json:"data"`
}

// SanitizeArgs are the arguments of sanitize.
type SanitizeArgs struct {
	WorkingDirectory string `json:"workingDirectory"`
	KeepAgent        bool   `json:"keepAgent"`
}

// SanitizeResult is the answer of sanitize.
type SanitizeResult struct {
	Output string `json:"output"`
}

// ErrMessageTooLong is returned by Decoder.Next for a line over MaxMessage
// (the line is skipped).
var ErrMessageTooLong = errors.New("protocol message too long")

// Decoder reads protocol lines.
type Decoder struct {
	r   *bufio.Reader
	max int
}

// NewDecoder reads messages from r; lines over max bytes (0 = MaxMessage)
// are skipped with ErrMessageTooLong.
func NewDecoder(r io.Reader, max int) *Decoder {
	if max <= 0 {
		max = MaxMessage
	}
	return &Decoder{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Next returns the next message. Blank lines and lines that are not a JSON
// object with an op or a type are skipped. It returns the reader's error
// (io.EOF at the end), or ErrMessageTooLong once per oversized line.
func (d *Decoder) Next() (Message, error) {
	for {
		line, err := d.readLine()
		if err != nil {
			return Message{}, err
		}
		if m, ok := DecodeLine(line); ok {
			return m, nil
		}
	}
}

// readLine returns one line without its newline; an unterminated last
// line at EOF is returned too.
func (d *Decoder) readLine() ([]byte, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := d.r.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > d.max+1 {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, ErrMessageTooLong
			}
			return bytes.TrimRight(buf, "\r\n"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0 && !tooLong:
			return buf, nil
		default:
			return nil, err
		}
	}
}

// DecodeLine parses one protocol line; ok is false for anything that is
// not a message (noise, fragments, blank lines).
func DecodeLine(line []byte) (Message, bool) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[len(line)-1] != '}' {
		return Message{}, false
	}
	var m Message
	if err := json.Unmarshal(line, &m); err == nil {
		return m, m.Op != "" || m.Type != ""
	}
	return Message{}, false
}

// Encoder writes protocol lines; it is safe for concurrent use.
type Encoder struct {
	mu sync.Mutex
	w  io.Writer
}

// NewEncoder writes messages to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: w} }

// Send writes m as one line, preceded by a newline (see the package doc).
func (e *Encoder) Send(m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding %s message: %w", m.Type+m.Op, err)
	}
	buf := make([]byte, 0, len(b)+2)
	buf = append(buf, '\n')
	buf = append(buf, b...)
	buf = append(buf, '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.w.Write(buf); err != nil {
		return fmt.Errorf("sending %s message: %w", m.Type+m.Op, err)
	}
	return nil
}

// newMessage builds a message with data marshalled from v.
func newMessage(id, typ string, v any) (Message, error) {
	m := Message{ID: id, Type: typ}
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return Message{}, fmt.Errorf("encoding %s: %w", typ, err)
		}
		m.Data = b
	}
	return m, nil
}
