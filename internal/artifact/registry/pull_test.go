package registry

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestImage: Image reads what was pushed over HTTP (OCI and Docker
// manifests) by tag or digest, the same image, byte for byte; unknown tags
// and manifests, indexes and bad names are errors saying so.
func TestImage(t *testing.T) {
	r, err := New(context.Background(), t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	srv := httptest.NewServer(r)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	oci := ociImage(t, 2, 3000)
	docker, err := random.Image(1500, 1)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := docker.MediaType(); mt != types.DockerManifestSchema2 {
		t.Fatalf("random image is a %s", mt)
	}
	idx, err := random.Index(512, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		ref   string
		write func(name.Reference) error
	}{
		{"team/app:v1", func(ref name.Reference) error { return remote.Write(ref, oci) }},
		{"docker:latest", func(ref name.Reference) error { return remote.Write(ref, docker) }},
		{"multi:v1", func(ref name.Reference) error { return remote.WriteIndex(ref, idx) }},
	} {
		ref, err := name.ParseReference(host+"/"+w.ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.write(ref); err != nil {
			t.Fatalf("pushing %s: %v", w.ref, err)
		}
	}
	tagUnknown := func(err error) bool { return errors.As(err, new(distribution.ErrTagUnknown)) }
	notImage := func(err error) bool { return errors.Is(err, ErrNotImage) }
	tests := []struct {
		name, repo, ref string
		want            v1.Image         // nil: an error
		is              func(error) bool // what the error must be, if anything
		wantText        string           // what it must say
	}{
		{"OCI by tag", "team/app", "v1", oci, nil, ""},
		{"OCI by digest", "team/app", digestOf(t, oci).String(), oci, nil, ""},
		{"Docker by tag", "docker", "latest", docker, nil, ""},
		{"unknown tag", "team/app", "v2", nil, tagUnknown, "v2"},
		{"unknown repository", "nobody", "v1", nil, tagUnknown, "nobody"},
		{"unknown digest", "team/app", "sha256:" + strings.Repeat("0", 64), nil, nil, "unknown"},
		{"index", "multi", "v1", nil, notImage, "index"},
		{"bad repository", "Team/App", "v1", nil, nil, "invalid"},
		{"bad tag", "team/app", "no spaces", nil, nil, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Image(t.Context(), tt.repo, tt.ref)
			if tt.want == nil {
				if err == nil {
					t.Fatal("Image = an image, want an error")
				}
				if tt.is != nil && !tt.is(err) {
					t.Fatalf("Image = %v: not the error expected", err)
				}
				if !strings.Contains(strings.ToLower(err.Error()), tt.wantText) {
					t.Fatalf("Image = %v, want it to say %q", err, tt.wantText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sameImage(t, got, tt.want)
			gc, err := got.RawConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if wc, _ := tt.want.RawConfigFile(); string(gc) != string(wc) {
				t.Fatalf("config = %s, want %s", gc, wc)
			}
			layers, err := got.Layers()
			if err != nil {
				t.Fatal(err)
			}
			wl, _ := tt.want.Layers()
			for i, l := range layers {
				size, err := l.Size()
				if ws, _ := wl[i].Size(); err != nil || size != ws {
					t.Fatalf("layer %d: size %d (%v), want %d", i, size, err, ws)
				}
				id, err := l.DiffID()
				if wid, _ := wl[i].DiffID(); err != nil || id != wid {
					t.Fatalf("layer %d: DiffID %v (%v), want %v", i, id, err, wid)
				}
				mt, err := l.MediaType()
				if wm, _ := wl[i].MediaType(); err != nil || mt != wm {
					t.Fatalf("layer %d: media type %q (%v), want %q", i, mt, err, wm)
				}
			}
		})
	}
}
