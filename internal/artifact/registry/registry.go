// Package registry is goldsmith's built-in OCI distribution registry: the
// CNCF distribution (github.com/distribution/distribution/v3) registry
// handlers over its filesystem storage driver, rooted in a directory so that
// blobs, manifests and tags survive a restart. It has no authentication;
// goldsmith serve mounts it on its own listener.
//
// Layout under dir:
//
//	storage/      the distribution filesystem driver's root (docker/registry/v2/...)
//	http-secret   the key that signs upload state, kept so that uploads
//	              started before a restart can resume after it
package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"

	// The filesystem storage driver registers itself with the driver factory.
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// StorageDir and SecretFile name the entries New keeps under its directory.
const (
	StorageDir = "storage"
	SecretFile = "http-secret"
)

// Registry is an OCI distribution registry serving the /v2/ API.
type Registry struct {
	dir     string
	log     *slog.Logger
	app     *handlers.App
	storage string                 // the storage driver's root
	sync    func(dir string) error // makes the storage durable: syncStorage
	local   distribution.Namespace // the storage, for Push
	id      string
	release func()
	once    sync.Once
}

// New opens (creating if needed) a registry whose content lives under dir.
// ctx bounds the registry's background work (the upload purger); Close
// stops it as well.
func New(ctx context.Context, dir string, log *slog.Logger) (*Registry, error) {
	if log == nil {
		log = slog.Default()
	}
	if dir == "" {
		return nil, errors.New("registry: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("registry: resolve %s: %w", dir, err)
	}
	storage := filepath.Join(abs, StorageDir)
	if err := os.MkdirAll(storage, 0o700); err != nil {
		return nil, fmt.Errorf("registry: create storage directory: %w", err)
	}
	secret, err := loadSecret(filepath.Join(abs, SecretFile))
	if err != nil {
		return nil, err
	}

	id, release := bridgeLogs(log)
	r := &Registry{dir: abs, log: log, id: id, release: release, storage: storage, sync: syncStorage}
	app, err := newApp(r.withID(ctx), config(storage, secret))
	if err != nil {
		release()
		return nil, err
	}
	r.app = app
	if r.local, err = newLocal(ctx, storage); err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("registry: %w", err)
	}
	log.Info("registry opened", "dir", abs)
	return r, nil
}

// config is the distribution configuration goldsmith runs with: filesystem
// storage with group commit (driverName), deletes allowed, no redirects (the filesystem driver has none),
// an in-memory blob descriptor cache, uploads abandoned for a week purged,
// no auth, no metrics, no tracing.
func config(storage, secret string) *configuration.Configuration {
	c := &configuration.Configuration{}
	c.Version = configuration.CurrentVersion
	c.Storage = configuration.Storage{
		driverName: configuration.Parameters{"rootdirectory": storage},
		"delete":   configuration.Parameters{"enabled": true},
		"redirect": configuration.Parameters{"disable": true},
		"cache":    configuration.Parameters{"blobdescriptor": "inmemory"},
		"maintenance": configuration.Parameters{
			"uploadpurging": map[any]any{"enabled": true, "age": "168h", "interval": "24h", "dryrun": false},
		},
	}
	c.HTTP.Secret = secret
	c.Catalog.MaxEntries = 1000 // the default the YAML parser would set; clients ask for up to n=1000
	c.Log.AccessLog.Disabled = true
	return c
}

// newApp builds the distribution application, turning its configuration
// panics into errors.
func newApp(ctx context.Context, c *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("registry: configure distribution: %v", p)
		}
	}()
	return handlers.NewApp(ctx, c), nil
}

// loadSecret reads the upload-state secret at path, creating it on first use.
func loadSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("registry: %s is empty", path)
		}
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("registry: read secret: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("registry: generate secret: %w", err)
	}
	s := hex.EncodeToString(raw[:])
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("registry: write secret: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("registry: write secret: %w", err)
	}
	return s, nil
}

// Dir is the registry's directory.
func (r *Registry) Dir() string { return r.dir }

// ServeHTTP serves the OCI distribution API under /v2/.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("registry: handler panic", "method", req.Method, "path", req.URL.Path, "panic", fmt.Sprint(p))
			if !rec.wrote {
				http.Error(rec, "internal server error", http.StatusInternalServerError)
			}
		}
		r.log.Debug("registry request", "method", req.Method, "path", req.URL.Path,
			"status", rec.status, "bytes", rec.bytes, "duration", time.Since(start))
	}()
	req = req.WithContext(r.withID(req.Context()))
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		r.app.ServeHTTP(rec, req)
		return
	}
	// A request that may have changed something is answered once what it
	// (and any request before it) wrote is durable, unless its answer
	// stores nothing yet: an upload started or continued (202).
	buf := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	r.app.ServeHTTP(buf, req)
	if buf.status != http.StatusAccepted || (req.Method != http.MethodPost && req.Method != http.MethodPatch) {
		if err := r.sync(r.storage); err != nil {
			r.log.Error("registry: making a change durable", "method", req.Method, "path", req.URL.Path, "err", err)
			rec.Header().Set("Content-Type", "application/json")
			rec.WriteHeader(http.StatusInternalServerError)
			_, _ = rec.Write([]byte(`{"errors":[{"code":"UNKNOWN","message":"the change could not be made durable"}]}`))
			return
		}
	}
	buf.writeTo(rec)
}

// bufferedResponse holds a response until the registry's writes are
// durable. Only the answers to changes go through it, and those are small.
type bufferedResponse struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if !b.wrote {
		b.status, b.wrote = code, true
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}

func (b *bufferedResponse) writeTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}

// Close stops the registry's background work. Content stays on disk.
func (r *Registry) Close() error {
	var err error
	r.once.Do(func() {
		if r.app != nil {
			if e := r.app.Shutdown(); e != nil {
				err = fmt.Errorf("registry: shutdown: %w", e)
			}
		}
		r.release()
		r.log.Info("registry closed", "dir", r.dir)
	})
	return err
}

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
