package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// serve opens a registry on dir and serves it on an httptest server; both
// are closed when the test ends (or earlier through the returned stop).
func serve(t *testing.T, dir string, log *slog.Logger) (host string, stop func()) {
	t.Helper()
	r, err := New(context.Background(), dir, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(r)
	var once sync.Once
	stop = func() {
		once.Do(func() {
			srv.Close()
			if err := r.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return strings.TrimPrefix(srv.URL, "http://"), stop
}

// ociImage is an OCI image of n random layers of size bytes each.
func ociImage(t *testing.T, n int, size int64) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for i := 0; i < n; i++ {
		l, err := random.Layer(size, types.OCILayer)
		if err != nil {
			t.Fatalf("random layer: %v", err)
		}
		img, err = mutate.AppendLayers(img, l)
		if err != nil {
			t.Fatalf("append layer: %v", err)
		}
	}
	img, err := mutate.Config(img, v1.Config{Cmd: []string{"/bin/sh"}})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return img
}

func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return r
}

func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("digest: %v", err)
	}
	return d
}

// sameImage checks that got has want's digest and byte-identical layers.
func sameImage(t *testing.T, got, want v1.Image) {
	t.Helper()
	if g, w := digestOf(t, got), digestOf(t, want); g != w {
		t.Fatalf("digest = %s, want %s", g, w)
	}
	gl, err := got.Layers()
	if err != nil {
		t.Fatalf("layers: %v", err)
	}
	wl, err := want.Layers()
	if err != nil {
		t.Fatalf("layers: %v", err)
	}
	if len(gl) != len(wl) {
		t.Fatalf("%d layers, want %d", len(gl), len(wl))
	}
	for i := range gl {
		if !bytes.Equal(layerBytes(t, gl[i]), layerBytes(t, wl[i])) {
			t.Fatalf("layer %d differs", i)
		}
	}
}

func layerBytes(t *testing.T, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatalf("layer: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read layer: %v", err)
	}
	return b
}

func TestPushPullListDeleteRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	host, stop := serve(t, dir, slog.New(slog.DiscardHandler))

	img := ociImage(t, 3, 64<<10)
	dig := digestOf(t, img)
	tags := []string{"v1", "latest"}
	for _, tag := range tags {
		if err := remote.Write(ref(t, host+"/team/app:"+tag), img, remote.WithContext(ctx)); err != nil {
			t.Fatalf("push %s: %v", tag, err)
		}
	}

	pulls := []struct{ name, ref string }{
		{"by tag", host + "/team/app:v1"},
		{"by other tag", host + "/team/app:latest"},
		{"by digest", host + "/team/app@" + dig.String()},
	}
	for _, p := range pulls {
		t.Run("pull "+p.name, func(t *testing.T) {
			got, err := remote.Image(ref(t, p.ref), remote.WithContext(ctx))
			if err != nil {
				t.Fatalf("pull: %v", err)
			}
			sameImage(t, got, img)
			mt, err := got.MediaType()
			if err != nil || mt != types.OCIManifestSchema1 {
				t.Fatalf("media type = %q, %v", mt, err)
			}
		})
	}

	repo, err := name.NewRepository(host + "/team/app")
	if err != nil {
		t.Fatal(err)
	}
	listed, err := remote.List(repo, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("list tags: %v", err)
	}
	if fmt.Sprint(listed) != "[latest v1]" {
		t.Fatalf("tags = %v, want [latest v1]", listed)
	}
	reg, err := name.NewRegistry(host)
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := remote.Catalog(ctx, reg)
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	if fmt.Sprint(catalog) != "[team/app]" {
		t.Fatalf("catalog = %v", catalog)
	}

	// Delete one tag: it is gone, the other tag and the digest still pull.
	if err := remote.Delete(ref(t, host+"/team/app:latest"), remote.WithContext(ctx)); err != nil {
		t.Fatalf("delete tag: %v", err)
	}
	if _, err := remote.Image(ref(t, host+"/team/app:latest"), remote.WithContext(ctx)); !isStatus(err, http.StatusNotFound) {
		t.Fatalf("pull deleted tag: err = %v, want 404", err)
	}
	if listed, err = remote.List(repo, remote.WithContext(ctx)); err != nil || fmt.Sprint(listed) != "[v1]" {
		t.Fatalf("tags after delete = %v, %v", listed, err)
	}

	// Restart on the same directory with a new listener.
	stop()
	secret, err := os.ReadFile(filepath.Join(dir, SecretFile))
	if err != nil {
		t.Fatalf("secret: %v", err)
	}
	host2, _ := serve(t, dir, slog.New(slog.DiscardHandler))
	if host2 == host {
		t.Fatalf("expected a new address after restart")
	}
	for _, r := range []string{host2 + "/team/app:v1", host2 + "/team/app@" + dig.String()} {
		got, err := remote.Image(ref(t, r), remote.WithContext(ctx))
		if err != nil {
			t.Fatalf("pull %s after restart: %v", r, err)
		}
		sameImage(t, got, img)
	}
	if listed, err = remote.List(ref(t, host2+"/team/app:v1").Context(), remote.WithContext(ctx)); err != nil || fmt.Sprint(listed) != "[v1]" {
		t.Fatalf("tags after restart = %v, %v", listed, err)
	}
	secret2, err := os.ReadFile(filepath.Join(dir, SecretFile))
	if err != nil || !bytes.Equal(secret, secret2) {
		t.Fatalf("secret changed across restart (%v)", err)
	}

	// Delete by digest removes the manifest.
	if err := remote.Delete(ref(t, host2+"/team/app@"+dig.String()), remote.WithContext(ctx)); err != nil {
		t.Fatalf("delete manifest: %v", err)
	}
	if _, err := remote.Image(ref(t, host2+"/team/app@"+dig.String()), remote.WithContext(ctx)); !isStatus(err, http.StatusNotFound) {
		t.Fatalf("pull deleted manifest: err = %v, want 404", err)
	}
}

func isStatus(err error, code int) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == code
}

func TestConcurrentPushesAndTwoInstances(t *testing.T) {
	ctx := context.Background()
	hostA, _ := serve(t, t.TempDir(), slog.New(slog.DiscardHandler))
	hostB, _ := serve(t, t.TempDir(), slog.New(slog.DiscardHandler))

	type push struct {
		ref string
		img v1.Image
	}
	pushes := []push{
		{hostA + "/one/app:v1", ociImage(t, 2, 32<<10)},
		{hostA + "/two/app:v1", ociImage(t, 3, 32<<10)},
		{hostB + "/one/app:v1", ociImage(t, 2, 16<<10)},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(pushes))
	for i, p := range pushes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = remote.Write(ref(t, p.ref), p.img, remote.WithContext(ctx))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("push %s: %v", pushes[i].ref, err)
		}
	}
	for _, p := range pushes {
		got, err := remote.Image(ref(t, p.ref), remote.WithContext(ctx))
		if err != nil {
			t.Fatalf("pull %s: %v", p.ref, err)
		}
		sameImage(t, got, p.img)
	}
	// The instances are separate: B does not have A's second repository.
	if _, err := remote.Image(ref(t, hostB+"/two/app:v1"), remote.WithContext(ctx)); !isStatus(err, http.StatusNotFound) {
		t.Fatalf("B serves A's repository: %v", err)
	}
}

func TestIndexPushPull(t *testing.T) {
	ctx := context.Background()
	host, _ := serve(t, t.TempDir(), slog.New(slog.DiscardHandler))
	idx, err := random.Index(1024, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref(t, host+"/multi/app:v1"), idx, remote.WithContext(ctx)); err != nil {
		t.Fatalf("push index: %v", err)
	}
	got, err := remote.Index(ref(t, host+"/multi/app:v1"), remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("pull index: %v", err)
	}
	gd, _ := got.Digest()
	wd, _ := idx.Digest()
	if gd != wd {
		t.Fatalf("index digest = %s, want %s", gd, wd)
	}
}

// recordHandler collects log records.
type recordHandler struct {
	min     slog.Level // records below min are dropped; the zero value keeps Info and above
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordHandler) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.records {
		out = append(out, r.Message)
	}
	return out
}

func TestLogsGoToOwnSlogLogger(t *testing.T) {
	ha, hb := &recordHandler{min: slog.LevelDebug}, &recordHandler{min: slog.LevelDebug}
	hostA, _ := serve(t, t.TempDir(), slog.New(ha))
	serve(t, t.TempDir(), slog.New(hb))
	resp, err := http.Get("http://" + hostA + "/v2/nothing/here/manifests/v1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	a := strings.Join(ha.messages(), "\n")
	for _, want := range []string{"registry opened", "registry request", "distribution: response completed with error"} {
		if !strings.Contains(a, want) {
			t.Errorf("A's log lacks %q:\n%s", want, a)
		}
	}
	if b := strings.Join(hb.messages(), "\n"); strings.Contains(b, "distribution: response completed") {
		t.Errorf("B got A's request log:\n%s", b)
	}
}

func TestNewErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	emptySecret := t.TempDir()
	if err := os.WriteFile(filepath.Join(emptySecret, SecretFile), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, want string
	}{
		{"empty dir", "", "empty directory"},
		{"dir is a file", file, "create storage directory"},
		{"empty secret", emptySecret, "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(context.Background(), tt.dir, slog.New(slog.DiscardHandler))
			if err == nil {
				r.Close()
				t.Fatalf("New(%q) succeeded", tt.dir)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	host, _ := serve(t, t.TempDir(), slog.New(slog.DiscardHandler))
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/v2/", http.StatusOK},
		{"GET", "/v2/_catalog", http.StatusOK},
		{"GET", "/v2/a/tags/list", http.StatusNotFound},
		{"HEAD", "/v2/a/blobs/sha256:" + strings.Repeat("0", 64), http.StatusNotFound},
		{"GET", "/v2/a/manifests/bad:tag", http.StatusBadRequest},
		{"POST", "/v2/a/blobs/uploads/", http.StatusAccepted},
		{"GET", "/other", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://"+host+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.want)
			}
			if got := resp.Header.Get("Docker-Distribution-API-Version"); tt.path != "/other" && got != "registry/2.0" {
				t.Fatalf("API version header = %q", got)
			}
		})
	}
}

// FuzzServeHTTP throws arbitrary requests at the registry: the handlers must
// never panic, and the registry must keep answering. (Server errors are
// allowed: distribution answers 500 UNKNOWN to some malformed manifests,
// such as "{}"; see testdata/fuzz.)
func FuzzServeHTTP(f *testing.F) {
	seeds := []struct{ method, path, body string }{
		{"GET", "/v2/", ""},
		{"GET", "/v2/_catalog?n=1&last=a", ""},
		{"GET", "/v2/a/b/tags/list?n=0", ""},
		{"PUT", "/v2/a/manifests/v1", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`},
		{"PUT", "/v2/a/manifests/v1", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}`},
		{"DELETE", "/v2/a/manifests/sha256:zz", ""},
		{"PATCH", "/v2/a/blobs/uploads/not-a-uuid?_state=x", "data"},
		{"PUT", "/v2/a/blobs/uploads/?digest=sha256:" + strings.Repeat("a", 64), "data"},
		{"GET", "/v2/../../etc/passwd", ""},
		{"GET", "/v2/A/manifests/%00", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.body)
	}
	logs := &recordHandler{min: slog.LevelError}
	r, err := New(context.Background(), f.TempDir(), slog.New(logs))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { r.Close() })
	f.Fuzz(func(t *testing.T, method, path, body string) {
		req, err := http.NewRequest(method, "http://registry.test"+path, strings.NewReader(body))
		if err != nil {
			t.Skip()
		}
		req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		r.ServeHTTP(httptest.NewRecorder(), req)
		for _, m := range logs.messages() {
			if strings.Contains(m, "panic") {
				t.Fatalf("%s %s: handler panicked", method, path)
			}
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", "/v2/", nil))
		if w.Code != http.StatusOK {
			t.Fatalf("after %s %s: GET /v2/ = %d", method, path, w.Code)
		}
	})
}
