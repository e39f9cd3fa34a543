package container

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// layerEntry is a tar header as read back, in order.
type layerEntry struct {
	hdr  *tar.Header
	body string
}

func readLayer(t *testing.T, data []byte) []layerEntry {
	t.Helper()
	var out []layerEntry
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("reading layer: %v", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, layerEntry{hdr: hdr, body: string(body)})
	}
}

func layerIndex(entries []layerEntry) map[string]int {
	idx := map[string]int{}
	for i, e := range entries {
		idx[e.hdr.Name] = i
	}
	return idx
}

// TestWriteLayerAndUnpack changes a busybox root in every way a layer can
// express, checks the layer's entries, and checks that unpacking it onto a
// copy of the lower gives exactly the sandbox's merged view.
func TestWriteLayerAndUnpack(t *testing.T) {
	requireSandbox(t)
	lower := busyboxRootFS(t)
	s, _ := openSandbox(t, Options{Lowers: []string{lower}})
	script := `set -e
rm -f /bin/vi
rm -rf /etc; mkdir /etc; touch /etc/x
echo built-by-goldsmith > /opt/blob
chown 65534:65534 /opt/blob; chmod 4750 /opt/blob
ln /opt/blob /opt/hardlink
ln -s ../opt/blob /root/link
mkfifo /opt/fifo
mknod /opt/null c 1 3
mkdir -p /home/u/deep; chmod 700 /home/u
rm -rf /var/empty
head -c 100000 /dev/urandom > /opt/big`
	if code, out, errOut := run(t, s, Process{}, script); code != 0 {
		t.Fatalf("script exit %d: %s %s", code, out, errOut)
	}
	if err := unix.Setxattr(filepath.Join(s.RootFS(), "etc", "x"), "user.goldsmith", []byte("kept"), 0); err != nil {
		t.Fatalf("setxattr: %v", err)
	}
	// a binary attribute: file capabilities (v2, effective, CAP_NET_RAW permitted)
	capNetRaw := []byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if err := unix.Setxattr(filepath.Join(s.RootFS(), "opt", "big"), "security.capability", capNetRaw, 0); err != nil {
		t.Fatalf("setting file capabilities: %v", err)
	}

	var buf bytes.Buffer
	if err := s.WriteLayer(context.Background(), &buf); err != nil {
		t.Fatalf("WriteLayer: %v", err)
	}
	entries := readLayer(t, buf.Bytes())
	idx := layerIndex(entries)
	get := func(name string) *tar.Header {
		t.Helper()
		i, ok := idx[name]
		if !ok {
			var names []string
			for _, e := range entries {
				names = append(names, e.hdr.Name)
			}
			t.Fatalf("no entry %q in the layer: %v", name, names)
		}
		return entries[i].hdr
	}
	tests := []struct {
		name  string
		check func(*tar.Header) bool
	}{
		{"bin/.wh.vi", func(h *tar.Header) bool { return h.Typeflag == tar.TypeReg && h.Size == 0 }},
		{"var/.wh.empty", func(h *tar.Header) bool { return h.Typeflag == tar.TypeReg && h.Size == 0 }},
		{"etc/", func(h *tar.Header) bool { return h.Typeflag == tar.TypeDir }},
		{"etc/.wh..wh..opq", func(h *tar.Header) bool { return h.Typeflag == tar.TypeReg && h.Size == 0 }},
		{"etc/x", func(h *tar.Header) bool { return h.PAXRecords["SCHILY.xattr.user.goldsmith"] == "kept" }},
		{"opt/blob", func(h *tar.Header) bool {
			return h.Typeflag == tar.TypeReg && h.Uid == 65534 && h.Gid == 65534 && h.Mode == 0o4750 && h.Size == 19
		}},
		{"opt/hardlink", func(h *tar.Header) bool { return h.Typeflag == tar.TypeLink && h.Linkname == "opt/blob" }},
		{"root/link", func(h *tar.Header) bool { return h.Typeflag == tar.TypeSymlink && h.Linkname == "../opt/blob" }},
		{"opt/fifo", func(h *tar.Header) bool { return h.Typeflag == tar.TypeFifo }},
		{"opt/null", func(h *tar.Header) bool { return h.Typeflag == tar.TypeChar && h.Devmajor == 1 && h.Devminor == 3 }},
		{"home/u/", func(h *tar.Header) bool { return h.Typeflag == tar.TypeDir && h.Mode == 0o700 }},
		{"home/u/deep/", func(h *tar.Header) bool { return h.Typeflag == tar.TypeDir }},
		{"opt/big", func(h *tar.Header) bool {
			return h.Size == 100000 && h.PAXRecords["SCHILY.xattr.security.capability"] == string(capNetRaw)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if h := get(tt.name); !tt.check(h) {
				t.Fatalf("entry %q: %+v", tt.name, h)
			}
		})
	}
	if idx["etc/.wh..wh..opq"] != idx["etc/"]+1 {
		t.Errorf("the opaque marker does not follow its directory")
	}
	for _, absent := range []string{"etc/passwd", "bin/busybox", "bin/vi", "./", "/", ""} {
		if _, ok := idx[absent]; ok {
			t.Errorf("unexpected entry %q", absent)
		}
	}
	for _, e := range entries {
		for k := range e.hdr.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.trusted.overlay.") {
				t.Errorf("%s carries %s", e.hdr.Name, k)
			}
		}
		if e.hdr.Uname != "" || e.hdr.Gname != "" {
			t.Errorf("%s has owner names %q %q", e.hdr.Name, e.hdr.Uname, e.hdr.Gname)
		}
	}
	if idx["opt/blob"] > idx["opt/hardlink"] {
		t.Errorf("the hard link comes before its target")
	}

	// the same upper gives the same bytes
	var again bytes.Buffer
	if err := s.WriteLayer(context.Background(), &again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Fatal("WriteLayer is not deterministic")
	}

	// unpacking the layer onto the lower reproduces the merged view
	replay := filepath.Join(t.TempDir(), "replay")
	if out, err := exec.Command("cp", "-a", lower, replay).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v %s", err, out)
	}
	if err := Unpack(context.Background(), bytes.NewReader(buf.Bytes()), replay); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	compareTrees(t, s.RootFS(), replay)
}

func TestWriteLayerSourceDateEpoch(t *testing.T) {
	requireSandbox(t)
	epoch := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	s, _ := openSandbox(t, Options{Lowers: []string{busyboxRootFS(t)}, SourceDateEpoch: epoch})
	run(t, s, Process{}, "echo x > /opt/new; touch -d '1999-01-01 00:00:00' /opt/old")
	var a bytes.Buffer
	if err := s.WriteLayer(context.Background(), &a); err != nil {
		t.Fatal(err)
	}
	idx := layerIndex(readLayer(t, a.Bytes()))
	entries := readLayer(t, a.Bytes())
	if got := entries[idx["opt/new"]].hdr.ModTime; !got.Equal(epoch) {
		t.Errorf("opt/new mtime %v, want %v", got, epoch)
	}
	if got := entries[idx["opt/old"]].hdr.ModTime; got.Year() != 1999 {
		t.Errorf("opt/old mtime %v, want 1999 (older times are kept)", got)
	}
	// touching files again changes nothing in the layer
	run(t, s, Process{}, "touch /opt/new /opt")
	var b bytes.Buffer
	if err := s.WriteLayer(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("layers differ after touching files, with SourceDateEpoch set")
	}
}

// compareTrees fails unless a and b hold the same files: types, modes,
// owners, sizes, contents, link targets, devices, link counts, extended
// attributes (but overlay's) and modification times to the second.
func compareTrees(t *testing.T, a, b string) {
	t.Helper()
	la, lb := listTree(t, a), listTree(t, b)
	if strings.Join(la, "\n") != strings.Join(lb, "\n") {
		t.Fatalf("trees differ:\n%s\n---\n%s", diffLists(la, lb), diffLists(lb, la))
	}
	for _, rel := range la {
		pa, pb := filepath.Join(a, rel), filepath.Join(b, rel)
		var sa, sb unix.Stat_t
		if err := unix.Lstat(pa, &sa); err != nil {
			t.Fatal(err)
		}
		if err := unix.Lstat(pb, &sb); err != nil {
			t.Fatal(err)
		}
		if sa.Mode != sb.Mode || sa.Uid != sb.Uid || sa.Gid != sb.Gid {
			t.Errorf("%s: mode %o uid %d gid %d, want %o %d %d", rel, sb.Mode, sb.Uid, sb.Gid, sa.Mode, sa.Uid, sa.Gid)
		}
		if rel != "." && sa.Mtim.Sec != sb.Mtim.Sec {
			t.Errorf("%s: mtime %d, want %d", rel, sb.Mtim.Sec, sa.Mtim.Sec)
		}
		switch sa.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			if sa.Nlink != sb.Nlink {
				t.Errorf("%s: %d links, want %d", rel, sb.Nlink, sa.Nlink)
			}
			ca, _ := os.ReadFile(pa)
			cb, _ := os.ReadFile(pb)
			if !bytes.Equal(ca, cb) {
				t.Errorf("%s: contents differ", rel)
			}
		case unix.S_IFLNK:
			ta, _ := os.Readlink(pa)
			tb, _ := os.Readlink(pb)
			if ta != tb {
				t.Errorf("%s: link to %q, want %q", rel, tb, ta)
			}
		case unix.S_IFCHR, unix.S_IFBLK:
			if sa.Rdev != sb.Rdev {
				t.Errorf("%s: device %d, want %d", rel, sb.Rdev, sa.Rdev)
			}
		}
		xa, err := readXattrs(pa)
		if err != nil {
			t.Fatal(err)
		}
		xb, err := readXattrs(pb)
		if err != nil {
			t.Fatal(err)
		}
		for k := range xa {
			if strings.HasPrefix(k, overlayXattrPrefix) {
				delete(xa, k)
			}
		}
		if len(xa) != len(xb) {
			t.Errorf("%s: xattrs %v, want %v", rel, xb, xa)
		}
		for k, v := range xa {
			if xb[k] != v {
				t.Errorf("%s: xattr %s = %q, want %q", rel, k, xb[k], v)
			}
		}
	}
}

func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func diffLists(a, b []string) string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var only []string
	for _, x := range a {
		if !in[x] {
			only = append(only, x)
		}
	}
	return "only in first: " + strings.Join(only, " ")
}
