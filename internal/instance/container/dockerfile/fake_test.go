package dockerfile

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// fakeRuntime stands in for the container package: a sandbox's root is a
// copy of its lowers (bottom first, no whiteouts), Run calls run, and
// WriteLayer tars what changed under the root.
type fakeRuntime struct {
	mu         sync.Mutex
	runs       []process
	opened     int
	closed     int
	prestarted int
	run        func(root string, p process) int
}

func (f *fakeRuntime) runtime() *sandboxRuntime {
	return &sandboxRuntime{
		open: func(ctx context.Context, o sandboxOptions) (sandbox, error) {
			if len(o.Lowers) == 0 {
				return nil, errors.New("no lowers")
			}
			root := filepath.Join(o.ScratchDir, "merged")
			if err := os.MkdirAll(root, 0o755); err != nil {
				return nil, err
			}
			// Copy the lowers in and remember them: WriteLayer writes only
			// what changed (no whiteouts: the fake never deletes lower files).
			seen := map[string]string{}
			for i := len(o.Lowers) - 1; i >= 0; i-- {
				if err := copyLower(o.Lowers[i], root, seen); err != nil {
					return nil, err
				}
			}
			f.mu.Lock()
			f.opened++
			f.mu.Unlock()
			return &fakeSandbox{f: f, scratch: o.ScratchDir, root: root, lower: seen}, nil
		},
		unpack: untar,
	}
}

// copyLower copies the tree lower into root, recording the stamps of what
// it wrote in seen.
func copyLower(lower, root string, seen map[string]string) error {
	return filepath.WalkDir(lower, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == lower {
			return err
		}
		rel, _ := filepath.Rel(lower, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if err = os.Mkdir(filepath.Join(root, rel), info.Mode().Perm()); errors.Is(err, fs.ErrExist) {
				err = nil
			}
		} else {
			var data []byte
			if data, err = os.ReadFile(p); err == nil {
				err = os.WriteFile(filepath.Join(root, rel), data, info.Mode().Perm())
			}
		}
		if err == nil {
			st, _ := os.Lstat(filepath.Join(root, rel))
			seen[rel] = stamp(st)
		}
		return err
	})
}

type fakeSandbox struct {
	f             *fakeRuntime
	scratch, root string
	lower         map[string]string // path → stamp of what came from the lower
	closed        bool
}

// stamp identifies a file's state well enough for the fake's change check.
func stamp(st os.FileInfo) string {
	sys := st.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%v %d %d %d:%d", st.Mode(), st.Size(), st.ModTime().UnixNano(), sys.Uid, sys.Gid)
}

func (s *fakeSandbox) RootFS() string { return s.root }

func (s *fakeSandbox) Run(ctx context.Context, p process) (int, error) {
	s.f.mu.Lock()
	s.f.runs = append(s.f.runs, p)
	s.f.mu.Unlock()
	if s.f.run == nil {
		return 0, nil
	}
	return s.f.run(s.root, p), nil
}

func (s *fakeSandbox) WriteLayer(ctx context.Context, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == s.root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if old, ok := s.lower[h0(s.root, p)]; ok && old == stamp(info) && !d.IsDir() {
			return nil
		}
		link := ""
		if d.Type()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name, _ = filepath.Rel(s.root, p)
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(data)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func h0(root, p string) string {
	rel, _ := filepath.Rel(root, p)
	return rel
}

func (s *fakeSandbox) CloseKeepingUpper(dst string) error {
	if s.closed {
		return errors.New("closed")
	}
	if err := os.Rename(s.root, dst); err != nil {
		return err
	}
	return s.Close()
}

func (s *fakeSandbox) Close() error {
	if !s.closed {
		s.closed = true
		s.f.mu.Lock()
		s.f.closed++
		s.f.mu.Unlock()
	}
	return os.RemoveAll(s.scratch)
}

// untar is a minimal layer unpacker for the fake (no whiteouts).
func untar(ctx context.Context, r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				var data []byte
				if data, err = io.ReadAll(tr); err == nil {
					err = os.WriteFile(p, data, h.FileInfo().Mode())
				}
			}
		}
		if err != nil {
			return err
		}
	}
}

// tarLayer builds an OCI layer from name → content ("dir/" names are
// directories).
func tarLayer(t testing.TB, files map[string]string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg}
		if strings.HasSuffix(name, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[name])); err != nil && h.Size > 0 {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// fakeBase is a one-layer image with /etc/passwd and /etc/group, Env PATH
// and Cmd /bin/sh.
func fakeBase(t testing.TB) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, tarLayer(t, map[string]string{
		"etc/":       "",
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65533:nobody:/nonexistent:/bin/false\napp:x:1000:1001::/home/app:/bin/sh\n",
		"etc/group":  "root:x:0:\nnogroup:x:65533:\nstaff:x:50:\napp:x:1001:\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env = []string{"PATH=/bin:/usr/bin"}
	cf.Config.Cmd = []string{"/bin/sh"}
	cf.History = []v1.History{{CreatedBy: "base"}}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// fakeBuild runs Build with the fake runtime over fakeBase.
func fakeBuild(t *testing.T, f *fakeRuntime, dockerfile string, o Options) (*Result, error) {
	t.Helper()
	base := fakeBase(t)
	if o.Base == nil {
		o.Base = func(ctx context.Context, ref string) (v1.Image, error) {
			if ref != "base" {
				return nil, fmt.Errorf("unknown image %q", ref)
			}
			return base, nil
		}
	}
	if o.ScratchDir == "" {
		o.ScratchDir = t.TempDir()
	}
	o.rt = f.runtime()
	return Build(t.Context(), dockerfile, o)
}

// layerFiles reads the entries of the layers the build added (after the
// base's) into name → header and content.
func layerFiles(t *testing.T, img v1.Image, skip int) map[string]fileEntry {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]fileEntry{}
	for _, l := range layers[skip:] {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(tr)
			out[strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = fileEntry{h: h, data: string(data)}
		}
		rc.Close()
	}
	return out
}

type fileEntry struct {
	h    *tar.Header
	data string
}

func (s *fakeSandbox) Prestart() {
	s.f.mu.Lock()
	s.f.prestarted++
	s.f.mu.Unlock()
}
