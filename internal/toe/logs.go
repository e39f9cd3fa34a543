package toe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Files of the log folder.
const (
	ApplicationLogFile = "application.log"
	ConsoleLogFile     = "console.log"
	DetailedOutputFile = "detailedoutput.json"
	ChainingFile       = "chaining.json"
	DocumentCopyFile   = "document.yaml"
)

// openLogs opens console.log and application.log (appending on resume).
func (r *runner) openLogs(appendMode bool) error {
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendMode {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	con, err := os.OpenFile(filepath.Join(r.logDir, ConsoleLogFile), flags, 0o644)
	if err != nil {
		return fmt.Errorf("opening console log: %w", err)
	}
	app, err := os.OpenFile(filepath.Join(r.logDir, ApplicationLogFile), flags, 0o644)
	if err != nil {
		con.Close()
		return fmt.Errorf("opening application log: %w", err)
	}
	r.files = append(r.files, con, app)
	var w io.Writer = con
	if r.opts.Stdout != nil {
		w = io.MultiWriter(r.opts.Stdout, con)
	}
	r.console = &lockedWriter{w: w}
	var h slog.Handler = slog.NewTextHandler(app, &slog.HandlerOptions{Level: slog.LevelDebug})
	if r.opts.Logger != nil {
		h = teeHandler{h, r.opts.Logger.Handler()}
	}
	r.log = slog.New(h).With("executionId", r.opts.ExecutionID)
	return nil
}

func (r *runner) close() {
	for _, f := range r.files {
		f.Close()
	}
	r.files = nil
}

// writeDocumentCopy writes document.yaml: every input document, separated
// by YAML document markers.
func (r *runner) writeDocumentCopy() error {
	var b bytes.Buffer
	for i, d := range r.opts.Documents {
		if i > 0 {
			b.WriteString("\n---\n")
		}
		fmt.Fprintf(&b, "# %s\n", d.File)
		b.Write(d.Source)
	}
	if err := os.WriteFile(filepath.Join(r.logDir, DocumentCopyFile), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", DocumentCopyFile, err)
	}
	return nil
}

// writeOutputs writes detailedoutput.json and chaining.json.
func (r *runner) writeOutputs() error {
	var errs []error
	write := func(name string, v any) {
		data, err := json.MarshalIndent(v, "", "  ")
		if err == nil {
			data = []byte(r.mask(string(data)))
			err = writeFileAtomic(filepath.Join(r.logDir, name), data)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("writing %s: %w", name, err))
		}
	}
	write(DetailedOutputFile, r.exec)
	chain := r.chain
	if chain == nil {
		chain = []chainRecord{}
	}
	write(ChainingFile, chain)
	return errors.Join(errs...)
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (r *runner) recordChain(rec chainRecord) {
	r.chain = append(r.chain, rec)
}

func (r *runner) addSecret(s string) {
	if s == "" {
		return
	}
	for _, x := range r.secrets {
		if x == s {
			return
		}
	}
	r.secrets = append(r.secrets, s)
}

// mask hides secret values (SSM parameters) in text.
func (r *runner) mask(s string) string {
	for _, x := range r.secrets {
		s = strings.ReplaceAll(s, x, maskedValue)
	}
	return s
}

// maskWriter masks secrets in each write (a secret split across two
// writes is not caught).
func (r *runner) maskWriter(w io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		if len(r.secrets) == 0 {
			return w.Write(p)
		}
		if _, err := io.WriteString(w, r.mask(string(p))); err != nil {
			return 0, err
		}
		return len(p), nil
	})
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// lockedWriter serialises writes from concurrent module output streams.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// teeHandler sends records to two handlers.
type teeHandler struct{ a, b slog.Handler }

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, rec slog.Record) error {
	var errs []error
	if t.a.Enabled(ctx, rec.Level) {
		errs = append(errs, t.a.Handle(ctx, rec.Clone()))
	}
	if t.b.Enabled(ctx, rec.Level) {
		errs = append(errs, t.b.Handle(ctx, rec.Clone()))
	}
	return errors.Join(errs...)
}

func (t teeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return teeHandler{t.a.WithAttrs(attrs), t.b.WithAttrs(attrs)}
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{t.a.WithGroup(name), t.b.WithGroup(name)}
}
