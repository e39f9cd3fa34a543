package base

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/goldsmith/goldsmith/internal/artifact/registry"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestParseApplets(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		err      string
	}{
		{"debian", "usr/bin/[\nusr/bin/[[\nbin/sh\nbin/ash\nsbin/ifconfig\nbin/sh\n", []string{"bin/ash", "bin/sh", "sbin/ifconfig", "usr/bin/[", "usr/bin/[["}, ""},
		{"crlf and blanks", "bin/ls\r\n\r\n  \nusr/bin/awk\r\n", []string{"bin/ls", "usr/bin/awk"}, ""},
		{"empty", "\n\n", nil, "empty"},
		{"absolute", "/bin/sh\n", nil, "bad path"},
		{"dotdot", "bin/../../etc/passwd\n", nil, "bad path"},
		{"dot", "./bin/sh\n", nil, "bad path"},
		{"space", "bin/s h\n", nil, "bad path"},
		{"double slash", "bin//sh\n", nil, "bad path"},
		{"trailing slash", "bin/\n", nil, "bad path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseApplets(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in, version, full string
		ok                bool
	}{
		{"BusyBox v1.35.0 (Debian 1:1.35.0-4+b3) multi-call binary.\nBusyBox is copyrighted", "1.35.0", "BusyBox v1.35.0 (Debian 1:1.35.0-4+b3)", true},
		{"BusyBox v1.36.1 multi-call binary.", "1.36.1", "BusyBox v1.36.1", true},
		{"BusyBox v1.37.0.git", "1.37.0.git", "BusyBox v1.37.0.git", true},
		{"Toybox 0.8", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		v, full, err := parseVersion(tt.in)
		if (err == nil) != tt.ok || v != tt.version || full != tt.full {
			t.Errorf("parseVersion(%q) = %q, %q, %v", tt.in, v, full, err)
		}
	}
}

func FuzzParseApplets(f *testing.F) {
	for _, s := range []string{"usr/bin/[\nbin/sh\n", "/abs\n", "a/../b", "", "bin/sh\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseApplets(in)
		if err != nil {
			return
		}
		if !sort.StringsAreSorted(got) || len(got) == 0 {
			t.Fatalf("unsorted or empty: %q", got)
		}
		for _, a := range got {
			if strings.HasPrefix(a, "/") || filepath.Clean(a) != a || a == ".." || strings.HasPrefix(a, "../") || strings.Contains(a, "/../") || strings.HasSuffix(a, "/..") {
				t.Fatalf("unsafe applet path %q", a)
			}
		}
	})
}

func FuzzParseVersion(f *testing.F) {
	f.Add("BusyBox v1.35.0 (Debian 1:1.35.0-4+b3) multi-call binary.")
	f.Add("BusyBox v")
	f.Fuzz(func(t *testing.T, in string) {
		v, full, err := parseVersion(in)
		if err == nil && (v == "" || !strings.Contains(full, v) || strings.Contains(full, "\n")) {
			t.Fatalf("parseVersion(%q) = %q, %q", in, v, full)
		}
	})
}

func TestBusyboxLayout(t *testing.T) {
	needBusybox(t)
	ctx := context.Background()
	img, err := Busybox(ctx)
	if err != nil {
		t.Fatalf("Busybox: %v", err)
	}
	checkConfig(t, img, "/bin/sh")
	order, files := layerEntries(t, img, 1<<10)
	if !sort.StringsAreSorted(order) {
		t.Errorf("layer entries are not sorted")
	}
	out, err := exec.Command(BusyboxBinary, "--list-full").Output()
	if err != nil {
		t.Fatal(err)
	}
	applets := strings.Fields(string(out))
	tests := []struct {
		name   string
		kind   byte
		mode   int64
		target string
		has    string
	}{
		{"bin/busybox", tar.TypeReg, 0o755, "", ""},
		{"bin/sh", tar.TypeSymlink, 0o777, BusyboxBinary, ""},
		{"usr/bin/awk", tar.TypeSymlink, 0o777, BusyboxBinary, ""},
		{"sbin/ifconfig", tar.TypeSymlink, 0o777, BusyboxBinary, ""},
		{"tmp/", tar.TypeDir, 0o1777, "", ""},
		{"root/", tar.TypeDir, 0o700, "", ""},
		{"etc/passwd", tar.TypeReg, 0o644, "", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:"},
		{"etc/group", tar.TypeReg, 0o644, "", "root:x:0:\nnobody:x:65534:\n"},
		{"etc/os-release", tar.TypeReg, 0o644, "", "ID=busybox\nVERSION_ID=\"1."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := files[tt.name]
			if !ok {
				t.Fatalf("missing")
			}
			if e.hdr.Typeflag != tt.kind || e.hdr.Mode != tt.mode || e.hdr.Linkname != tt.target {
				t.Fatalf("type %c mode %o target %q; want %c %o %q", e.hdr.Typeflag, e.hdr.Mode, e.hdr.Linkname, tt.kind, tt.mode, tt.target)
			}
			if !strings.Contains(string(e.data), tt.has) {
				t.Fatalf("content %q lacks %q", e.data, tt.has)
			}
		})
	}
	for _, a := range applets {
		if _, ok := files[a]; !ok {
			t.Errorf("applet %s has no entry", a)
		}
	}
	for n, e := range files {
		if !e.hdr.ModTime.Equal(Epoch) || e.hdr.Uid != 0 || e.hdr.Gid != 0 {
			t.Errorf("%s: mtime %v owner %d:%d", n, e.hdr.ModTime, e.hdr.Uid, e.hdr.Gid)
		}
	}

	// Same input, same digest.
	again, err := Busybox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Fatalf("two builds differ: %s and %s", d1, d2)
	}
}

func TestBusyboxErrors(t *testing.T) {
	dir := t.TempDir()
	notBusybox := filepath.Join(dir, "fake")
	if err := os.WriteFile(notBusybox, []byte("#!/bin/sh\necho /abs/path\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, bin, want string }{
		{"missing", filepath.Join(dir, "missing"), "busybox-static"},
		{"bad applet list", notBusybox, "bad path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := busyboxFrom(context.Background(), tt.bin)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestBusyboxPushPullRun pushes the busybox image to the built-in
// registry, pulls it back, unpacks it with umoci and runs /bin/sh in it
// with runc.
func TestBusyboxPushPullRun(t *testing.T) {
	needBusybox(t)
	needRoot(t, "umoci", "runc")
	img, err := Busybox(context.Background())
	if err != nil {
		t.Fatalf("Busybox: %v", err)
	}
	rootfs, out := pushPullRun(t, img, "/bin/sh", "-c", "echo ok; cat /etc/os-release | grep -c busybox; id -u")
	if out != "ok\n2\n0\n" {
		t.Fatalf("output %q, want ok, 2, 0", out)
	}
	for _, link := range []string{"bin/sh", "usr/bin/awk"} {
		if target, err := os.Readlink(filepath.Join(rootfs, link)); err != nil || target != BusyboxBinary {
			t.Fatalf("%s -> %q, %v", link, target, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(rootfs, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Fatalf("tmp: %v %v", fi, err)
	}
}

// pushPullRun pushes img to a built-in registry on httptest, pulls it back
// by tag (checking the digest), unpacks it with umoci and runs args in it
// with runc (process.terminal=false, state under the test's temp dir). It
// returns the unpacked root filesystem and the command's stdout.
func pushPullRun(t *testing.T, img v1.Image, args ...string) (rootfs, stdout string) {
	t.Helper()
	ctx := context.Background()
	reg, err := registry.New(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(func() { srv.Close(); reg.Close() })
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/base/image:test")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		t.Fatalf("push: %v", err)
	}
	pulled, err := remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	want, _ := img.Digest()
	if got, _ := pulled.Digest(); got != want {
		t.Fatalf("pulled %s, pushed %s", got, want)
	}

	work := t.TempDir()
	lp, err := layout.Write(filepath.Join(work, "oci"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(pulled, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "test"})); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(work, "bundle")
	if out, err := exec.CommandContext(ctx, "umoci", "unpack", "--image", filepath.Join(work, "oci")+":test", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}

	cfgPath := filepath.Join(bundle, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = args
	if raw, err = json.Marshal(spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(work, "runc")
	id := fmt.Sprintf("goldsmith-base-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() { _ = exec.Command("runc", "--root", state, "delete", "-f", id).Run() })
	cmd := exec.CommandContext(ctx, "runc", "--root", state, "run", "-b", bundle, id)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("runc run: %v\n%s", err, errOut.String())
	}
	return filepath.Join(bundle, "rootfs"), out.String()
}
