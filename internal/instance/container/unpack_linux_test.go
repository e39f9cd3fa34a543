package container

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tarEntry describes one entry of a test layer.
type tarEntry struct {
	name     string
	typ      byte
	body     string
	linkname string
	mode     int64
}

func mkTar(tb testing.TB, entries ...tarEntry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
			if typ == tar.TypeDir {
				mode = 0o755
			}
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Linkname: e.linkname, Mode: mode,
			Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0), Uid: os.Geteuid(), Gid: os.Getegid()}
		if typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			tb.Fatal(err)
		}
		if hdr.Size > 0 {
			if _, err := io.WriteString(tw, e.body); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func gz(tb testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// unpackFixture is base/root holding etc/passwd, etc/old/, a dir/ tree and
// a symlink escaping to base/outside; base/outside is a file that must
// survive every layer.
func unpackFixture(tb testing.TB) (base, root string) {
	tb.Helper()
	base = tb.TempDir()
	root = filepath.Join(base, "root")
	for _, d := range []string{"etc/old", "dir/sub"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	for name, body := range map[string]string{"etc/passwd": "root\n", "etc/old/a": "a", "dir/sub/b": "b", "dir/c": "c", "../outside": "outside\n"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.Symlink("../outside", filepath.Join(root, "escape")); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(root, "rootlink")); err != nil {
		tb.Fatal(err)
	}
	return base, root
}

func TestUnpack(t *testing.T) {
	tests := []struct {
		name    string
		layer   []tarEntry
		gzip    bool
		wantErr string
		exists  []string
		absent  []string
		files   map[string]string
	}{
		{name: "files and dirs", layer: []tarEntry{{name: "new/", typ: tar.TypeDir}, {name: "new/f", body: "hello"}},
			files: map[string]string{"new/f": "hello", "etc/passwd": "root\n"}},
		{name: "gzip", gzip: true, layer: []tarEntry{{name: "z", body: "zipped"}}, files: map[string]string{"z": "zipped"}},
		{name: "missing parents are created", layer: []tarEntry{{name: "a/b/c", body: "deep"}}, files: map[string]string{"a/b/c": "deep"}},
		{name: "leading ./ and /", layer: []tarEntry{{name: "./dot", body: "1"}, {name: "/abs", body: "2"}}, files: map[string]string{"dot": "1", "abs": "2"}},
		{name: "whiteout file", layer: []tarEntry{{name: "etc/.wh.passwd"}}, absent: []string{"etc/passwd"}, exists: []string{"etc/old/a"}},
		{name: "whiteout dir", layer: []tarEntry{{name: ".wh.dir"}}, absent: []string{"dir"}},
		{name: "whiteout of nothing", layer: []tarEntry{{name: "nope/.wh.nothing"}}},
		{name: "opaque dir", layer: []tarEntry{{name: "etc/", typ: tar.TypeDir}, {name: "etc/-early", body: "e"}, {name: "etc/.wh..wh..opq"}, {name: "etc/x", body: "x"}},
			files: map[string]string{"etc/x": "x", "etc/-early": "e"}, absent: []string{"etc/passwd", "etc/old"}},
		{name: "file replaces dir", layer: []tarEntry{{name: "dir", body: "now a file"}}, files: map[string]string{"dir": "now a file"}},
		{name: "dir replaces file", layer: []tarEntry{{name: "etc/passwd/", typ: tar.TypeDir}, {name: "etc/passwd/x", body: "x"}}, files: map[string]string{"etc/passwd/x": "x"}},
		{name: "dir over dir keeps contents", layer: []tarEntry{{name: "dir/", typ: tar.TypeDir, mode: 0o700}}, exists: []string{"dir/c", "dir/sub/b"}},
		{name: "file replaces escaping symlink", layer: []tarEntry{{name: "escape", body: "replaced"}}, files: map[string]string{"escape": "replaced"}},
		{name: "symlink parent resolved inside", layer: []tarEntry{{name: "rootlink/etc/evil", body: "in"}}, files: map[string]string{"etc/evil": "in"}},
		{name: "relative symlink parent clamped", layer: []tarEntry{{name: "up", typ: tar.TypeSymlink, linkname: "../../../.."}, {name: "up/clamped", body: "in"}},
			files: map[string]string{"clamped": "in"}},
		{name: "symlink and hard link", layer: []tarEntry{{name: "f", body: "data"}, {name: "s", typ: tar.TypeSymlink, linkname: "f"}, {name: "h", typ: tar.TypeLink, linkname: "f"}},
			files: map[string]string{"s": "data", "h": "data"}},
		{name: "traversal", layer: []tarEntry{{name: "../evil", body: "x"}}, wantErr: "path traversal"},
		{name: "nested traversal", layer: []tarEntry{{name: "a/../../evil", body: "x"}}, wantErr: "path traversal"},
		{name: "whiteout traversal", layer: []tarEntry{{name: "../.wh.outside"}}, wantErr: "path traversal"},
		{name: "hard link outside", layer: []tarEntry{{name: "h", typ: tar.TypeLink, linkname: "../outside"}}, wantErr: "outside the layer root"},
		{name: "hard link through symlink", layer: []tarEntry{{name: "h", typ: tar.TypeLink, linkname: "escape"}}, files: map[string]string{}},
		{name: "root must be a dir", layer: []tarEntry{{name: ".", body: "x"}}, wantErr: "must be a directory"},
		{name: "bad whiteout", layer: []tarEntry{{name: "etc/.wh."}}, wantErr: "malformed whiteout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, root := unpackFixture(t)
			data := mkTar(t, tt.layer...)
			if tt.gzip {
				data = gz(t, data)
			}
			err := Unpack(context.Background(), bytes.NewReader(data), root)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Unpack error = %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Unpack: %v", err)
			}
			for name, want := range tt.files {
				got, err := os.ReadFile(filepath.Join(root, name))
				if err != nil || string(got) != want {
					t.Errorf("%s = %q, %v; want %q", name, got, err, want)
				}
			}
			for _, name := range tt.exists {
				if _, err := os.Lstat(filepath.Join(root, name)); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
			for _, name := range tt.absent {
				if _, err := os.Lstat(filepath.Join(root, name)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s still exists (%v)", name, err)
				}
			}
			assertContained(t, base)
		})
	}
}

// assertContained fails when anything but root/ and the untouched outside
// file is found in base.
func assertContained(t *testing.T, base string) {
	t.Helper()
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "root" && e.Name() != "outside" {
			t.Errorf("Unpack wrote %s outside its directory", e.Name())
		}
	}
	got, err := os.ReadFile(filepath.Join(base, "outside"))
	if err != nil || string(got) != "outside\n" {
		t.Errorf("the file outside the root was changed: %q %v", got, err)
	}
}

func TestUnpackMetadata(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to set owners")
	}
	root := t.TempDir()
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 12, Gid: 34, ModTime: mtime},
		{Name: "d/suid", Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 56, Gid: 78, ModTime: mtime,
			PAXRecords: map[string]string{"SCHILY.xattr.user.k": "v", "SCHILY.xattr.trusted.overlay.opaque": "y"}},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	if err := Unpack(context.Background(), &buf, root); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		mode     os.FileMode
		uid, gid int
	}{{"d", os.ModeDir | 0o750, 12, 34}, {"d/suid", os.ModeSetuid | 0o755, 56, 78}} {
		fi, err := os.Lstat(filepath.Join(root, c.name))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != c.mode || int(st.Uid) != c.uid || int(st.Gid) != c.gid || !fi.ModTime().Equal(mtime) {
			t.Errorf("%s: %v %d:%d %v", c.name, fi.Mode(), st.Uid, st.Gid, fi.ModTime())
		}
	}
	x, err := readXattrs(filepath.Join(root, "d/suid"))
	if err != nil {
		t.Fatal(err)
	}
	if x["user.k"] != "v" || x["trusted.overlay.opaque"] != "" {
		t.Errorf("xattrs %v", x)
	}
}

func FuzzUnpack(f *testing.F) {
	f.Add(mkTar(f, tarEntry{name: "a/b", body: "x"}, tarEntry{name: "a/.wh.b"}))
	f.Add(mkTar(f, tarEntry{name: "../evil", body: "x"}))
	f.Add(mkTar(f, tarEntry{name: "rootlink/etc/evil", body: "x"}))
	f.Add(mkTar(f, tarEntry{name: "l", typ: tar.TypeSymlink, linkname: "../.."}, tarEntry{name: "l/x", body: "x"}))
	f.Add(mkTar(f, tarEntry{name: "h", typ: tar.TypeLink, linkname: "../outside"}))
	f.Add(mkTar(f, tarEntry{name: "etc/", typ: tar.TypeDir}, tarEntry{name: "etc/.wh..wh..opq"}))
	f.Add(mkTar(f, tarEntry{name: "escape", body: "x"}))
	f.Add(gz(f, mkTar(f, tarEntry{name: "z", body: "z"})))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !smallLayer(data) {
			t.Skip("entries larger than 1 MiB")
		}
		base, root := unpackFixture(t)
		_ = Unpack(context.Background(), bytes.NewReader(data), root)
		assertContained(t, base)
	})
}

// smallLayer reports whether every entry of a (possibly gzipped) tar is
// small, so that fuzzing never writes huge files.
func smallLayer(data []byte) bool {
	var r io.Reader = bytes.NewReader(data)
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return true
		}
		r = io.LimitReader(zr, 4<<20)
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err != nil {
			return true
		}
		if hdr.Size > 1<<20 {
			return false
		}
		if n, _ := io.Copy(io.Discard, io.LimitReader(tr, 1<<20+1)); n > 1<<20 {
			return false
		}
	}
}
