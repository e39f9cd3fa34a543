package dockerfile

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/goldsmith/goldsmith/internal/instance/container"
)

// requireSandbox skips when the machine cannot run real sandboxes (root,
// runc, overlayfs and Debian's static busybox; all present in CI).
func requireSandbox(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root for overlayfs mounts and runc")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		tb.Skip("needs runc (apt-get install runc; scripts/host-packages.sh)")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		tb.Skip("needs /bin/busybox (apt-get install busybox-static)")
	}
	if data, err := os.ReadFile("/proc/filesystems"); err != nil || !strings.Contains(string(data), "overlay") {
		tb.Skip("needs overlayfs in the kernel")
	}
}

// busyboxImage is a one-layer OCI image of Debian's static busybox with an
// applet symlink per applet in /bin, /etc/passwd and /etc/group (root,
// nobody), /tmp and /opt.
func busyboxImage(tb testing.TB) v1.Image {
	tb.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		tb.Fatalf("busybox --list: %v", err)
	}
	mtime := time.Unix(1700000000, 0)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, data []byte) {
		h.ModTime, h.Size, h.Format = mtime, int64(len(data)), tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			tb.Fatal(err)
		}
	}
	for _, d := range []string{"bin/", "dev/", "etc/", "opt/", "proc/", "root/", "sys/"} {
		add(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	}
	add(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}, nil)
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, bb)
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" {
			add(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
		}
	}
	add(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644},
		[]byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
	add(&tar.Header{Name: "etc/group", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("root:x:0:\nnogroup:x:65534:\n"))
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		tb.Fatal(err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		tb.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		tb.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env = []string{"PATH=/bin"}
	cf.Config.Cmd = []string{"/bin/sh"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		tb.Fatal(err)
	}
	return img
}

// realBuild builds on the busybox base with the container package and
// checks that nothing is left: no mounts, no runc containers.
func realBuild(t *testing.T, dockerfile string, o Options) (*Result, error) {
	t.Helper()
	requireSandbox(t)
	base := busyboxImage(t)
	o.Base = func(ctx context.Context, ref string) (v1.Image, error) {
		if ref != "busybox" {
			return nil, errors.New("unknown base " + ref)
		}
		return base, nil
	}
	if o.ScratchDir == "" {
		o.ScratchDir = filepath.Join(t.TempDir(), "scratch")
	}
	res, err := Build(t.Context(), dockerfile, o)
	mounts, _ := os.ReadFile("/proc/mounts")
	if strings.Contains(string(mounts), o.ScratchDir) {
		t.Errorf("mounts left under %s", o.ScratchDir)
	}
	if list, _ := exec.Command("runc", "--root", "/run/goldsmith-runc", "list", "-q").Output(); strings.Contains(string(list), o.ScratchDir) {
		t.Errorf("runc containers left: %s", list)
	}
	return res, err
}

// withAndWithoutCache runs test twice: base unpacked per build, and base
// from a layer cache (built twice: a miss, then a hit).
func withAndWithoutCache(t *testing.T, test func(t *testing.T, o Options)) {
	t.Run("unpacked", func(t *testing.T) { test(t, Options{}) })
	t.Run("layer cache", func(t *testing.T) {
		cache, err := container.NewLayerCache(filepath.Join(t.TempDir(), "cache"))
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			test(t, Options{LayerCache: cache})
		}
		// The builds never wrote into the cached base.
		entries, _ := os.ReadDir(cache.Dir())
		if len(entries) != 1 {
			t.Fatalf("cache holds %d entries", len(entries))
		}
		if _, err := os.Lstat(filepath.Join(cache.Dir(), entries[0].Name(), "bin", "vi")); err != nil {
			t.Errorf("cached base lost /bin/vi: %v", err)
		}
		if _, err := os.Lstat(filepath.Join(cache.Dir(), entries[0].Name(), "etc", "marker")); err == nil {
			t.Error("cached base has the build's /etc/marker")
		}
	})
}

func TestRealBuildMarkerAndWhiteout(t *testing.T) {
	withAndWithoutCache(t, testRealBuildMarkerAndWhiteout)
}

func testRealBuildMarkerAndWhiteout(t *testing.T, o Options) {
	start := time.Now()
	res, err := realBuild(t, "FROM busybox\nRUN echo built-by-goldsmith > /etc/marker && rm -f /bin/vi\n", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("build took %v", time.Since(start))
	layers, err := res.Image.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("%d layers, %v", len(layers), err)
	}
	files := layerFiles(t, res.Image, 1)
	if files["etc/marker"].data != "built-by-goldsmith\n" {
		t.Errorf("/etc/marker = %q", files["etc/marker"].data)
	}
	if _, ok := files["bin/.wh.vi"]; !ok {
		t.Errorf("no whiteout for /bin/vi; layer has %d entries", len(files))
	}
	if mt, _ := layers[1].MediaType(); mt != types.OCILayer {
		t.Errorf("media type %s", mt)
	}
	// The flattened image has the marker and no vi.
	rc := mutate.Extract(res.Image)
	defer rc.Close()
	tr := tar.NewReader(rc)
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[strings.TrimPrefix(h.Name, "/")] = true
	}
	if !seen["etc/marker"] || seen["bin/vi"] || !seen["bin/sh"] {
		t.Errorf("flattened: marker %v, vi %v, sh %v", seen["etc/marker"], seen["bin/vi"], seen["bin/sh"])
	}
}

func TestRealBuildInstructions(t *testing.T) {
	withAndWithoutCache(t, testRealBuildInstructions)
}

func testRealBuildInstructions(t *testing.T, o Options) {
	ctxDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctxDir, "hello.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	df := `FROM busybox
ARG GREETING=hi
ENV TARGET=/srv/app
WORKDIR $TARGET
COPY hello.txt .
RUN echo "$GREETING $(pwd) $(id -u)" > run.txt && cat hello.txt >> run.txt
USER nobody
RUN id -u > /tmp/uid
USER root
ENV LATER=1
RUN rm /srv/app/hello.txt && mkdir /tmp/later && echo "$LATER" > /tmp/later/x
CMD ["/bin/cat", "/srv/app/run.txt"]
`
	var stdout bytes.Buffer
	o.ContextDir, o.Stdout = ctxDir, &stdout
	res, err := realBuild(t, df, o)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := res.Image.Layers()
	if len(layers) != 1+3 { // WORKDIR+COPY+RUN, RUN, RUN
		t.Errorf("%d layers", len(layers))
	}
	files := layerFiles(t, res.Image, 1)
	if got := files["srv/app/run.txt"].data; got != "hi /srv/app 0\nhello\n" {
		t.Errorf("run.txt = %q", got)
	}
	if got := files["tmp/uid"].data; got != "65534\n" {
		t.Errorf("uid = %q", got)
	}
	if _, ok := files["srv/app/.wh.hello.txt"]; !ok {
		t.Error("no whiteout for the removed hello.txt in the last layer")
	}
	if files["tmp/later/x"].data != "1\n" {
		t.Errorf("later = %q", files["tmp/later/x"].data)
	}
	cf, _ := res.Image.ConfigFile()
	if cf.Config.WorkingDir != "/srv/app" || cf.Config.User != "root" || cf.Config.Cmd[0] != "/bin/cat" {
		t.Errorf("config = %+v", cf.Config)
	}
}

func TestRealBuildFailure(t *testing.T) {
	res, err := realBuild(t, "FROM busybox\nRUN echo ok\nRUN echo about to fail >&2; exit 7\n", Options{})
	var se *StepError
	if !errors.As(err, &se) || se.ExitCode != 7 || se.Step.Line != 3 || !strings.Contains(se.Tail, "about to fail") {
		t.Fatalf("err = %v", err)
	}
	if res == nil || res.Steps[len(res.Steps)-1].Status != StepFailed {
		t.Fatalf("steps = %+v", res)
	}
}

func TestRealBuildCancel(t *testing.T) {
	requireSandbox(t)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	base := busyboxImage(t)
	scratch := filepath.Join(t.TempDir(), "scratch")
	start := time.Now()
	_, err := Build(ctx, "FROM busybox\nRUN sleep 100\n", Options{ScratchDir: scratch,
		Base: func(context.Context, string) (v1.Image, error) { return base, nil }})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 20*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
	mounts, _ := os.ReadFile("/proc/mounts")
	if strings.Contains(string(mounts), scratch) {
		t.Error("mounts left behind")
	}
}
