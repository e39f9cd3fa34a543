package vm

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// qmpClient is a minimal QEMU Machine Protocol client: one unix-socket
// connection, one command at a time, asynchronous events skipped.
type qmpClient struct {
	conn net.Conn
	dec  *json.Decoder
	w    *bufio.Writer
	id   int
}

type qmpMessage struct {
	QMP    json.RawMessage `json:"QMP"`
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	Event string          `json:"event"`
	ID    json.RawMessage `json:"id"`
}

// dialQMP connects to the QMP socket, reads the greeting and leaves
// capabilities negotiation mode.
func dialQMP(ctx context.Context, path string) (*qmpClient, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("dialing QMP %s: %w", path, err)
	}
	c := &qmpClient{conn: conn, dec: json.NewDecoder(conn), w: bufio.NewWriter(conn)}
	stop := c.bind(ctx)
	defer stop()
	var greet qmpMessage
	if err := c.dec.Decode(&greet); err != nil {
		conn.Close()
		return nil, fmt.Errorf("reading QMP greeting: %w", ctxErr(ctx, err))
	}
	if greet.QMP == nil {
		conn.Close()
		return nil, errors.New("QMP greeting without a QMP member")
	}
	if _, err := c.executeLocked(ctx, "qmp_capabilities", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// bind makes ctx's end (or deadline) interrupt blocking I/O on the conn.
func (c *qmpClient) bind(ctx context.Context) (stop func()) {
	deadline := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.conn.SetDeadline(deadline)
	unbind := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Unix(1, 0)) })
	return func() { unbind() }
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}

// execute runs one QMP command and returns its "return" value.
func (c *qmpClient) execute(ctx context.Context, command string, args any) (json.RawMessage, error) {
	stop := c.bind(ctx)
	defer stop()
	return c.executeLocked(ctx, command, args)
}

func (c *qmpClient) executeLocked(ctx context.Context, command string, args any) (json.RawMessage, error) {
	c.id++
	req := map[string]any{"execute": command, "id": c.id}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encoding QMP %s: %w", command, err)
	}
	if _, err := c.w.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("sending QMP %s: %w", command, ctxErr(ctx, err))
	}
	if err := c.w.Flush(); err != nil {
		return nil, fmt.Errorf("sending QMP %s: %w", command, ctxErr(ctx, err))
	}
	for {
		var m qmpMessage
		if err := c.dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("reading QMP %s reply: %w", command, ctxErr(ctx, err))
		}
		if m.Event != "" {
			continue
		}
		if m.Error != nil {
			return nil, fmt.Errorf("QMP %s: %s: %s", command, m.Error.Class, m.Error.Desc)
		}
		if m.Return != nil {
			return m.Return, nil
		}
	}
}

func (c *qmpClient) Close() error { return c.conn.Close() }
