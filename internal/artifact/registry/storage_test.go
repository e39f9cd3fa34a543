package registry

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/testsuites"
)

// slowDriverTests are the suite's tests left out: writing and reading back
// a 5 GiB stream says nothing about this driver that the small streams do
// not (the writer code is the same) and takes half a minute of disk; the
// Stat test sleeps 15 s, and Stat is the filesystem driver's own.
var slowDriverTests = map[string]bool{"TestWriteReadLargeStreams": true, "TestStatCall": true}

// TestStorageDriverConformance runs distribution's storage driver test
// suite against the group-commit driver.
func TestStorageDriverConformance(t *testing.T) {
	var names []string
	st := reflect.TypeFor[*testsuites.DriverSuite]()
	for i := range st.NumMethod() {
		if n := st.Method(i).Name; strings.HasPrefix(n, "Test") && !slowDriverTests[n] {
			names = append(names, regexp.QuoteMeta(n))
		}
	}
	f := flag.Lookup("testify.m")
	if f == nil {
		t.Fatal("testify has no -testify.m flag any more")
	}
	old := f.Value.String()
	if err := f.Value.Set("^(" + strings.Join(names, "|") + ")$"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Value.Set(old) })
	root := t.TempDir()
	testsuites.Driver(t, func() (storagedriver.StorageDriver, error) {
		return groupCommitFactory{}.Create(context.Background(), map[string]any{"rootdirectory": root})
	}, false)
}

// TestChangesAreDurableBeforeTheAnswer: a push syncs the storage before
// each answer that stores something (a finished upload, a manifest, a
// delete) and not for upload steps (202 to POST and PATCH), nor for reads;
// when the sync fails the client gets an error, not a success.
func TestChangesAreDurableBeforeTheAnswer(t *testing.T) {
	r, err := New(context.Background(), t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var mu sync.Mutex
	synced := map[string]int{}
	var failSync bool
	var current string
	r.sync = func(dir string) error {
		mu.Lock()
		defer mu.Unlock()
		synced[current]++
		if failSync {
			return errors.New("disk gone")
		}
		return syncStorage(dir)
	}
	var serial sync.Mutex // one request at a time, so that current is the one syncing
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		serial.Lock()
		defer serial.Unlock()
		mu.Lock()
		current = req.Method
		mu.Unlock()
		r.ServeHTTP(w, req)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, err := name.ParseReference(host+"/durable:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img := ociImage(t, 2, 1000)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	// 2 layers and the config are uploaded (PUT each) and the manifest put.
	if synced["PUT"] != 4 || synced["POST"] != 0 || synced["PATCH"] != 0 || synced["GET"]+synced["HEAD"] != 0 {
		t.Fatalf("syncs per method = %v, want 4 PUT only", synced)
	}
	if _, err := remote.Image(ref); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	failSync = true
	mu.Unlock()
	ref2, _ := name.ParseReference(host+"/durable:v2", name.Insecure)
	err = remote.Write(ref2, img, remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
	if err == nil || !strings.Contains(err.Error(), "durable") {
		t.Fatalf("push with a failing sync = %v, want an error saying the change is not durable", err)
	}
}

// TestPush: an image pushed straight into the storage is served over HTTP
// under every tag with the same digest; pushing it again under another tag
// stores nothing twice; each push syncs once; bad names are refused.
func TestPush(t *testing.T) {
	r, err := New(context.Background(), t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var syncs int
	r.sync = func(dir string) error { syncs++; return syncStorage(dir) }
	srv := httptest.NewServer(r)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img := ociImage(t, 2, 2000)
	large := ociImage(t, 1, smallBlob+1000) // streamed through an upload
	liar := func(size int64) v1.Image {     // a layer whose content is not what its digest says
		l, err := random.Layer(size, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		other, _ := random.Layer(10, types.OCILayer)
		d, _ := other.Digest()
		out, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), lyingLayer{l, d})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	tests := []struct {
		name, repo string
		tags       []string
		img        v1.Image
		wantErr    string
	}{
		{"two tags", "team/app", []string{"latest", "1.0.0-1"}, img, ""},
		{"again, another tag", "team/app", []string{"1.0.0-2"}, img, ""},
		{"another repository", "other", []string{"v1"}, img, ""},
		{"a large layer", "team/large", []string{"v1"}, large, ""},
		{"bad repository", "Team/App", []string{"v1"}, img, "invalid"},
		{"bad tag", "team/app", []string{"no spaces"}, img, "invalid"},
		{"small layer not matching its digest", "team/liar", []string{"v1"}, liar(100), "digest"},
		{"large layer not matching its digest", "team/liar", []string{"v1"}, liar(smallBlob + 1000), "digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := tt.img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			before := syncs
			err = r.Push(t.Context(), tt.repo, tt.tags, tt.img)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(strings.ToLower(err.Error()), tt.wantErr) {
					t.Fatalf("Push = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if syncs != before+1 {
				t.Fatalf("%d syncs, want 1", syncs-before)
			}
			for _, tag := range tt.tags {
				ref, err := name.ParseReference(host+"/"+tt.repo+":"+tag, name.Insecure)
				if err != nil {
					t.Fatal(err)
				}
				got, err := remote.Image(ref)
				if err != nil {
					t.Fatal(err)
				}
				if d, err := got.Digest(); err != nil || d != want {
					t.Fatalf("%s: digest %v (%v), want %v", ref, d, err, want)
				}
				layers, err := got.Layers()
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range layers { // read whole: the client checks each digest
					rc, err := l.Compressed()
					if err != nil {
						t.Fatal(err)
					}
					_, err = io.Copy(io.Discard, rc)
					rc.Close()
					if err != nil {
						t.Fatalf("%s: layer: %v", ref, err)
					}
				}
			}
		})
	}
}

// lyingLayer is a layer that claims digest d.
type lyingLayer struct {
	v1.Layer
	d v1.Hash
}

func (l lyingLayer) Digest() (v1.Hash, error) { return l.d, nil }
