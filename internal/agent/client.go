package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ErrAgentRestarted fails a request whose answer was lost because the agent
// restarted (it announced a new hello) while the request was pending.
var ErrAgentRestarted = errors.New("the agent restarted while the request was pending")

// ErrClosed is returned for requests after the connection ended.
var ErrClosed = errors.New("agent connection closed")

// pingInterval is how often Hello pings while it waits.
const pingInterval = time.Second

// Client is the host's side of the protocol over one connection (for a VM,
// the unix socket of its second serial port). Requests are sent one at a
// time (a mutex serialises them); Hello may be called at any time.
type Client struct {
	conn   io.ReadWriteCloser
	enc    *Encoder
	log    *slog.Logger
	prefix string
	seq    atomic.Uint64
	callMu sync.Mutex // one request at a time

	mu      sync.Mutex
	pending map[string]chan Message
	hellos  []chan Hello // waiting Hello calls, and restart watchers
	boot    int          // the agent's boot count, from its last hello or pong
	err     error        // set when reading ends
	done    chan struct{}
}

// NewClient starts reading conn. Close it with Close.
func NewClient(conn io.ReadWriteCloser, log *slog.Logger) *Client {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	c := &Client{conn: conn, enc: NewEncoder(conn), log: log, prefix: hex.EncodeToString(b),
		pending: map[string]chan Message{}, done: make(chan struct{})}
	go c.read()
	return c
}

func (c *Client) read() {
	dec := NewDecoder(c.conn, MaxMessage)
	for {
		m, err := dec.Next()
		if errors.Is(err, ErrMessageTooLong) {
			c.log.Warn("agent: skipping an oversized message")
			continue
		}
		if err != nil {
			c.mu.Lock()
			c.err = fmt.Errorf("%w: %w", ErrClosed, err)
			c.mu.Unlock()
			close(c.done)
			return
		}
		switch m.Type {
		case "":
			continue
		case TypeHello, TypePong:
			var h Hello
			if err := json.Unmarshal(m.Data, &h); err != nil {
				c.log.Warn("agent: bad hello", "err", err)
				continue
			}
			if m.Type == TypeHello {
				c.log.Info("agent hello", "boot", h.BootCount, "kernel", h.Kernel, "os", h.OSRelease, "resumedJob", h.ResumedJob)
			}
			c.mu.Lock()
			ws := c.hellos
			c.hellos = nil
			restarted := c.boot != 0 && h.BootCount != c.boot
			c.boot = h.BootCount
			c.mu.Unlock()
			for _, w := range ws {
				w <- h // buffered, one value per waiter
			}
			if restarted {
				c.restarted(h)
			}
			continue
		}
		c.mu.Lock()
		ch := c.pending[m.ID]
		c.mu.Unlock()
		if ch == nil {
			c.log.Debug("agent: message for no pending request", "id", m.ID, "type", m.Type)
			continue
		}
		select {
		case ch <- m:
		case <-time.After(time.Minute):
			c.log.Warn("agent: a request's reader is stuck; dropping a message", "id", m.ID, "type", m.Type)
		}
	}
}

// restarted tells every pending request that the agent restarted (a
// hello with a new boot count: requests sent before it were lost, or
// belong to a job that the agent resumed).
func (c *Client) restarted(h Hello) {
	data, _ := json.Marshal(h)
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, ch := range c.pending {
		select {
		case ch <- Message{ID: id, Type: TypeHello, Data: data}:
		default:
		}
	}
}

// Hello waits for the agent's next hello (or its answer to a ping, which
// Hello sends every second while it waits) and returns it.
func (c *Client) Hello(ctx context.Context) (Hello, error) {
	w := make(chan Hello, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return Hello{}, c.err
	}
	c.hellos = append(c.hellos, w)
	c.mu.Unlock()
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	for {
		if err := c.enc.Send(Message{ID: c.newID(), Op: OpPing}); err != nil {
			return Hello{}, fmt.Errorf("agent hello: %w", err)
		}
		select {
		case h := <-w:
			return h, nil
		case <-c.done:
			return Hello{}, c.closedErr()
		case <-ctx.Done():
			return Hello{}, fmt.Errorf("waiting for the agent's hello: %w", ctx.Err())
		case <-t.C:
		}
	}
}

func (c *Client) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return ErrClosed
}

func (c *Client) newID() string {
	return fmt.Sprintf("%s-%d", c.prefix, c.seq.Add(1))
}

// stream sends a request and returns the channel of its messages and a
// function that ends it.
func (c *Client) stream(op string, args any) (string, <-chan Message, func(), error) {
	raw, err := json.Marshal(args)
	if err != nil {
		return "", nil, nil, fmt.Errorf("agent %s: encoding arguments: %w", op, err)
	}
	id := c.newID()
	ch := make(chan Message, 256)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return "", nil, nil, fmt.Errorf("agent %s: %w", op, c.err)
	}
	c.pending[id] = ch
	c.mu.Unlock()
	end := func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}
	if err := c.enc.Send(Message{ID: id, Op: op, Args: raw}); err != nil {
		end()
		return "", nil, nil, fmt.Errorf("agent %s: %w", op, err)
	}
	return id, ch, end, nil
}

// call sends one request and waits for its result, ok or error; result
// (when not nil) receives the result's data.
func (c *Client) call(ctx context.Context, op string, args, result any) error {
	c.callMu.Lock()
	defer c.callMu.Unlock()
	_, ch, end, err := c.stream(op, args)
	if err != nil {
		return err
	}
	defer end()
	for {
		select {
		case m := <-ch:
			switch m.Type {
			case TypeResult, TypeOK:
				if result != nil && len(m.Data) > 0 {
					if err := json.Unmarshal(m.Data, result); err != nil {
						return fmt.Errorf("agent %s: decoding the result: %w", op, err)
					}
				}
				return nil
			case TypeError:
				return fmt.Errorf("agent %s: %s", op, m.Error)
			case TypeHello:
				return fmt.Errorf("agent %s: %w", op, ErrAgentRestarted)
			}
		case <-c.done:
			return fmt.Errorf("agent %s: %w", op, c.closedErr())
		case <-ctx.Done():
			return fmt.Errorf("agent %s: %w", op, ctx.Err())
		}
	}
}

// RunToe runs a job with the toe engine in the guest, calling onOutput (if
// not nil) with each line of its output. Reboots that toe asks for happen
// inside the call: the agent reboots the guest, resumes the job after the
// boot and answers the same request. If the agent restarts without
// resuming the job (it crashed), RunToe asks again for the same job, which
// resumes it or returns its stored result.
func (c *Client) RunToe(ctx context.Context, job ToeJob, onOutput func(stream, line string)) (*ToeResult, error) {
	c.callMu.Lock()
	defer c.callMu.Unlock()
	reboots := 0
	for attempt := 0; ; attempt++ {
		if attempt > 8 {
			return nil, fmt.Errorf("agent run-toe %s: the agent restarted %d times without finishing the job", job.ID, attempt)
		}
		_, ch, end, err := c.stream(OpRunToe, job)
		if err != nil {
			return nil, err
		}
		res, again, err := c.waitToe(ctx, job.ID, ch, onOutput, &reboots)
		end()
		if err != nil || !again {
			return res, err
		}
		c.log.Warn("agent restarted during a job without resuming it; asking again", "job", job.ID)
	}
}

// waitToe follows one run-toe request; again says to send it again.
func (c *Client) waitToe(ctx context.Context, jobID string, ch <-chan Message, onOutput func(stream, line string), reboots *int) (*ToeResult, bool, error) {
	for {
		select {
		case m := <-ch:
			switch m.Type {
			case TypeOutput:
				var ev OutputEvent
				if err := json.Unmarshal(m.Data, &ev); err == nil && onOutput != nil {
					onOutput(ev.Stream, ev.Line)
				}
			case TypeRebooting:
				var ev RebootingEvent
				_ = json.Unmarshal(m.Data, &ev)
				*reboots = max(*reboots+1, ev.Reboots)
				c.log.Info("agent: guest reboots for the job", "job", jobID, "reboots", *reboots)
			case TypeHello:
				var h Hello
				_ = json.Unmarshal(m.Data, &h)
				if h.ResumedJob != jobID {
					return nil, true, nil
				}
			case TypeResult:
				var res ToeResult
				if err := json.Unmarshal(m.Data, &res); err != nil {
					return nil, false, fmt.Errorf("agent run-toe %s: decoding the result: %w", jobID, err)
				}
				res.Reboots = max(res.Reboots, *reboots)
				return &res, false, nil
			case TypeError:
				return nil, false, fmt.Errorf("agent run-toe %s: %s", jobID, m.Error)
			}
		case <-c.done:
			return nil, false, fmt.Errorf("agent run-toe %s: %w", jobID, c.closedErr())
		case <-ctx.Done():
			return nil, false, fmt.Errorf("agent run-toe %s: %w", jobID, ctx.Err())
		}
	}
}

// Exec runs argv as root in the image (chrooted) and returns its exit
// status and output.
func (c *Client) Exec(ctx context.Context, argv []string) (*ExecResult, error) {
	return c.ExecWith(ctx, ExecArgs{Argv: argv})
}

// ExecWith is Exec with an environment, working directory and stdin.
func (c *Client) ExecWith(ctx context.Context, a ExecArgs) (*ExecResult, error) {
	var res ExecResult
	if err := c.call(ctx, OpExec, a, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// ReadFile reads a file of the image.
func (c *Client) ReadFile(ctx context.Context, path string) ([]byte, error) {
	var res FileResult
	if err := c.call(ctx, OpReadFile, FileArgs{Path: path}, &res); err != nil {
		return nil, err
	}
	return res.Data, nil
}

// WriteFile writes a file of the image (parent folders are created).
func (c *Client) WriteFile(ctx context.Context, path string, data []byte, mode os.FileMode) error {
	return c.call(ctx, OpWriteFile, FileArgs{Path: path, Data: data, Mode: mode}, nil)
}

// Sanitize cleans the image before capture (see SanitizeSections) and
// returns the clean-up's report.
func (c *Client) Sanitize(ctx context.Context, workingDir string, keepAgent bool) (string, error) {
	var res SanitizeResult
	err := c.call(ctx, OpSanitize, SanitizeArgs{WorkingDirectory: workingDir, KeepAgent: keepAgent}, &res)
	return res.Output, err
}

// Poweroff asks the agent to power the guest off cleanly; it returns once
// the agent has acknowledged (wait for QEMU to exit after it).
func (c *Client) Poweroff(ctx context.Context) error {
	return c.call(ctx, OpPoweroff, struct{}{}, nil)
}

// Reboot asks the agent to reboot the guest; it returns once the agent has
// acknowledged (then wait with Hello for the new boot).
func (c *Client) Reboot(ctx context.Context) error {
	return c.call(ctx, OpReboot, struct{}{}, nil)
}

// Close closes the connection.
func (c *Client) Close() error {
	err := c.conn.Close()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
	}
	return err
}
