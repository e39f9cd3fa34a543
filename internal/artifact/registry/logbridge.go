package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"

	"github.com/sirupsen/logrus"
)

// The distribution library logs through logrus' standard logger; it offers
// no per-instance logger outside its internal packages. What it does offer is
// the context key "instance.id": every log entry made from a context that
// carries it gets an "instance.id" field. Each Registry therefore puts its
// own id into the contexts it hands to the library, and one process-wide
// logrus hook routes entries by that id to the Registry's slog.Logger. This
// is the only process-wide state here, and it does not stop several
// registries from living in one process. Entries without a known id (the
// library's upload purger) go to slog.Default().

// instanceIDKey is the exact key the distribution library reads.
const instanceIDKey = "instance.id"

type logBridge struct {
	once    sync.Once
	mu      sync.RWMutex
	loggers map[string]*slog.Logger
}

var bridge = &logBridge{loggers: map[string]*slog.Logger{}}

// bridgeLogs installs the hook (once per process) and registers log under a
// fresh instance id. release unregisters it.
func bridgeLogs(log *slog.Logger) (id string, release func()) {
	bridge.once.Do(func() {
		std := logrus.StandardLogger()
		std.SetOutput(io.Discard)
		std.SetLevel(logrus.DebugLevel)
		std.AddHook(bridge)
	})
	var raw [8]byte
	_, _ = rand.Read(raw[:])
	id = "goldsmith-registry-" + hex.EncodeToString(raw[:])
	bridge.mu.Lock()
	bridge.loggers[id] = log
	bridge.mu.Unlock()
	return id, func() {
		bridge.mu.Lock()
		delete(bridge.loggers, id)
		bridge.mu.Unlock()
	}
}

// withID returns ctx carrying the registry's instance id.
func (r *Registry) withID(ctx context.Context) context.Context {
	//lint:ignore SA1029 the distribution library reads this exact string key
	return context.WithValue(ctx, instanceIDKey, r.id)
}

// Levels implements logrus.Hook.
func (b *logBridge) Levels() []logrus.Level { return logrus.AllLevels }

// Fire implements logrus.Hook: it forwards one entry to the owning slog.Logger.
func (b *logBridge) Fire(e *logrus.Entry) error {
	log := slog.Default()
	if id, ok := e.Data[instanceIDKey].(string); ok {
		b.mu.RLock()
		if l, ok := b.loggers[id]; ok {
			log = l
		}
		b.mu.RUnlock()
	}
	level := slogLevel(e)
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if !log.Enabled(ctx, level) {
		return nil
	}
	log.LogAttrs(ctx, level, "distribution: "+e.Message, attrs(e.Data)...)
	return nil
}

// slogLevel maps a logrus level to slog. Per-request entries are demoted to
// Debug unless the response is a server error: the library logs every
// request at Info and every client error (a HEAD for a missing blob, the
// normal start of a push) at Error.
func slogLevel(e *logrus.Entry) slog.Level {
	_, request := e.Data["http.request.method"]
	if request {
		if status, ok := e.Data["http.response.status"].(int); ok && status >= 500 {
			return slog.LevelError
		}
		return slog.LevelDebug
	}
	switch {
	case e.Level <= logrus.ErrorLevel:
		return slog.LevelError
	case e.Level == logrus.WarnLevel:
		return slog.LevelWarn
	case e.Level == logrus.InfoLevel:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}

// attrs turns logrus fields into sorted slog attributes, leaving out the
// routing id and the constant Go version.
func attrs(data logrus.Fields) []slog.Attr {
	keys := make([]string, 0, len(data))
	for k := range data {
		if k == instanceIDKey || k == "go.version" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		switch v := data[k].(type) {
		case error:
			out = append(out, slog.String(k, v.Error()))
		case fmt.Stringer:
			out = append(out, slog.String(k, v.String()))
		default:
			out = append(out, slog.Any(k, v))
		}
	}
	return out
}
