package containerbuild

import (
	"archive/tar"
	"context"
	"reflect"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/goldsmith/goldsmith/internal/instance/container"
)

// TestReadFilesLayered checks that reading the metadata files with the
// parent's layers from the layer cache gives what the flattened image
// gives, whatever the layers above the parent do to them.
func TestReadFilesLayered(t *testing.T) {
	parent := func(t *testing.T) v1.Image {
		return testImage(t,
			[]tar.Header{
				{Name: "usr/lib/os-release", Typeflag: tar.TypeReg},
				{Name: "etc/os-release", Typeflag: tar.TypeSymlink, Linkname: "../usr/lib/os-release"},
				{Name: "var/lib/dpkg/", Typeflag: tar.TypeDir, Mode: 0o755},
				{Name: "var/lib/dpkg/status", Typeflag: tar.TypeReg},
				{Name: "lib", Typeflag: tar.TypeSymlink, Linkname: "/etc"},
			},
			[]string{"NAME=parent\n", "", "", "Package: old\n", ""})
	}
	tests := []struct {
		name  string
		hdrs  []tar.Header // the layer above the parent; nil: none
		data  []string
		files int // files expected
	}{
		{"parent only", nil, nil, 3},
		{"status replaced", []tar.Header{{Name: "var/lib/dpkg/status", Typeflag: tar.TypeReg}}, []string{"Package: new\n"}, 3},
		{"os-release target replaced", []tar.Header{{Name: "usr/lib/os-release", Typeflag: tar.TypeReg}}, []string{"NAME=child\n"}, 3},
		{"symlink replaced by a file", []tar.Header{{Name: "etc/os-release", Typeflag: tar.TypeReg}}, []string{"NAME=file\n"}, 3},
		{"whiteout of the symlink target", []tar.Header{{Name: "usr/lib/.wh.os-release", Typeflag: tar.TypeReg}}, []string{""}, 1},
		{"whiteout of a parent directory", []tar.Header{{Name: "var/lib/.wh.dpkg", Typeflag: tar.TypeReg}}, []string{""}, 2},
		{"opaque directory", []tar.Header{
			{Name: "var/lib/dpkg/", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "var/lib/dpkg/.wh..wh..opq", Typeflag: tar.TypeReg},
		}, []string{"", ""}, 2},
		{"opaque directory refilled", []tar.Header{
			{Name: "var/lib/dpkg/", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "var/lib/dpkg/.wh..wh..opq", Typeflag: tar.TypeReg},
			{Name: "var/lib/dpkg/status", Typeflag: tar.TypeReg},
		}, []string{"", "", "Package: refilled\n"}, 3},
		{"parent directory replaced by a file", []tar.Header{{Name: "var/lib", Typeflag: tar.TypeReg}}, []string{"x"}, 2},
		{"apk database added", []tar.Header{{Name: "lib/apk/db/installed", Typeflag: tar.TypeReg}}, []string{"P:musl\nV:1\n"}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := parent(t)
			cache, err := container.NewLayerCache(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			layers, err := base.Layers()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cache.Lower(context.Background(), layers); err != nil {
				t.Fatal(err)
			}
			img := base
			if tc.hdrs != nil {
				img = appendLayer(t, base, tc.hdrs, tc.data)
			}
			names := []string{etcOSRelease, usrOSRelease, dpkgStatus, apkInstalled}
			want, err := readImageFiles(img, names...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readFilesLayered(img, cache, names...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(stringsOf(got), stringsOf(want)) {
				t.Errorf("from the cache: %q\nflattened:      %q", stringsOf(got), stringsOf(want))
			}
			if len(want) != tc.files {
				t.Errorf("flattened image has %d of the files, want %d: %q", len(want), tc.files, stringsOf(want))
			}
		})
	}
}

func stringsOf(m map[string][]byte) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}
