// Package tailbuf keeps the end of a stream: the last bytes a process
// wrote, to quote in an error.
package tailbuf

import (
	"bytes"
	"sync"
)

// Buffer keeps the last Max bytes written to it. Writes may come from
// several goroutines (a process's stdout and stderr). The zero value keeps
// nothing; use New.
type Buffer struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

// New returns a Buffer keeping the last max bytes.
func New(max int) *Buffer { return &Buffer{max: max} }

// Write keeps the end of p and what came before it, up to max bytes; it
// never fails.
func (t *Buffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b.Write(p)
	if over := t.b.Len() - t.max; over > 0 {
		t.b.Next(over)
	}
	return len(p), nil
}

// String is what the buffer keeps, invalid UTF-8 (a character the cut
// went through) replaced by "?".
func (t *Buffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.ToValidUTF8(t.b.Bytes(), []byte("?")))
}
