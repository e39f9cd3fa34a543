package base

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
)

func TestRewriteRootfs(t *testing.T) {
	late := Epoch.Add(48 * time.Hour)
	early := time.Date(2022, 6, 17, 15, 35, 0, 0, time.UTC)
	in := tarOf(t,
		&tar.Header{Name: "./dev/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: late},
		&tar.Header{Name: "./dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: late},
		&tar.Header{Name: "./dev/fd", Typeflag: tar.TypeSymlink, Linkname: "/proc/self/fd", ModTime: late},
		&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: late},
		&tar.Header{Name: "./bin", Typeflag: tar.TypeSymlink, Linkname: "usr/bin", ModTime: late},
		&tar.Header{Name: "./etc/debian_version", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4, ModTime: early, Uname: "root", Gname: "root",
			AccessTime: late, ChangeTime: late, Format: tar.FormatPAX},
		&tar.Header{Name: "./usr/bin/perl", Typeflag: tar.TypeReg, Mode: 0o755, Size: 2, ModTime: late,
			PAXRecords: map[string]string{"SCHILY.xattr.user.test": "v"}, Format: tar.FormatPAX},
		&tar.Header{Name: "./usr/bin/perl5", Typeflag: tar.TypeLink, Linkname: "./usr/bin/perl", ModTime: late},
		&tar.Header{Name: "./run/initctl", Typeflag: tar.TypeFifo, Mode: 0o600, ModTime: late},
	)
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	if err := rewriteRootfs(bytes.NewReader(in), tw); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&out)
	var got []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		got = append(got, h.Name+"|"+h.Linkname+"|"+h.ModTime.UTC().Format(time.DateOnly)+"|"+h.Uname+"|"+string(data)+"|"+h.PAXRecords["SCHILY.xattr.user.test"])
		if !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%s keeps atime/ctime", h.Name)
		}
	}
	want := []string{
		"dev/||2024-01-01|||",
		"bin|usr/bin|2024-01-01|||",
		"etc/debian_version||2022-06-17||xxxx|",
		"usr/bin/perl||2024-01-01||xx|v",
		"usr/bin/perl5|usr/bin/perl|2024-01-01|||",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{"./": "", ".": "", "./etc/x": "etc/x", "/etc/x": "etc/x", ".//./a": "a", "etc/": "etc/"} {
		if got := cleanName(in); got != want {
			t.Errorf("cleanName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzRewriteRootfs(f *testing.F) {
	f.Add(tarOf(f, &tar.Header{Name: "./etc/x", Typeflag: tar.TypeReg, Size: 3, Mode: 0o644}))
	f.Add(tarOf(f, &tar.Header{Name: "./dev/null", Typeflag: tar.TypeChar, Mode: 0o666}))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		tw := tar.NewWriter(&out)
		if err := rewriteRootfs(bytes.NewReader(in), tw); err != nil {
			return
		}
		if err := tw.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		tr := tar.NewReader(&out)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("rewritten tar unreadable: %v", err)
			}
			if strings.HasPrefix(h.Name, "/") || strings.HasPrefix(h.Name, "./") || h.ModTime.After(Epoch) ||
				h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock {
				t.Fatalf("bad entry %q %c %v", h.Name, h.Typeflag, h.ModTime)
			}
		}
	})
}

func TestDebianBadSuite(t *testing.T) {
	for _, s := range []string{"", "book worm", "../x"} {
		if _, err := Debian(context.Background(), s, "http://m/debian"); err == nil || !strings.Contains(err.Error(), "bad suite") {
			t.Errorf("Debian(%q): %v", s, err)
		}
	}
}

// TestDebian builds bookworm minbase from the host's own mirrors (~15 s,
// more on a busy machine).
func TestDebian(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Debian root filesystem with mmdebstrap (~15 s); skipped with -short")
	}
	needRoot(t, "mmdebstrap")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	img, err := Debian(ctx, "bookworm", "")
	if err != nil {
		t.Fatalf("Debian: %v", err)
	}
	t.Logf("bookworm minbase built in %v", time.Since(start).Round(time.Millisecond))
	checkConfig(t, img, "/bin/bash")
	_, files := layerEntries(t, img, 1<<10)
	v, ok := files["etc/debian_version"]
	if !ok || !strings.HasPrefix(string(v.data), "12.") {
		t.Fatalf("etc/debian_version = %q (present %v)", v.data, ok)
	}
	for _, want := range []string{"bin", "usr/bin/bash", "usr/bin/dpkg", "etc/os-release", "dev/", "tmp/"} {
		if _, ok := files[want]; !ok {
			t.Errorf("layer lacks %s", want)
		}
	}
	for _, gone := range []string{"dev/null", "dev/console", "etc/resolv.conf", "etc/hostname", "./"} {
		if _, ok := files[gone]; ok {
			t.Errorf("layer has %s", gone)
		}
	}
	for n, e := range files {
		if e.hdr.ModTime.After(Epoch) {
			t.Errorf("%s: mtime %v after Epoch", n, e.hdr.ModTime)
			break
		}
	}
	assertEmptyDir(t, tmp)

	// The image works as a container: push, pull, unpack, run.
	if _, err := exec.LookPath("umoci"); err != nil {
		t.Skip("needs umoci to run the image")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("needs runc to run the image")
	}
	_, out := pushPullRun(t, img, "/bin/sh", "-c", ". /etc/os-release; echo $ID $VERSION_CODENAME; dpkg-query -W -f '${Status}' bash; echo; ls /dev/null")
	if out != "debian bookworm\ninstall ok installed\n/dev/null\n" {
		t.Fatalf("output %q", out)
	}
}

// TestDebianCancel cancels mmdebstrap early: Debian returns the context's
// error and mmdebstrap leaves nothing behind.
func TestDebianCancel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts mmdebstrap; skipped with -short")
	}
	needRoot(t, "mmdebstrap")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := Debian(ctx, "bookworm", "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	t.Logf("cancelled after %v", time.Since(start).Round(time.Millisecond))
	assertEmptyDir(t, tmp)
}

// assertEmptyDir checks that mmdebstrap removed its temporary chroot and
// left no mount below dir.
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), dir) {
		t.Errorf("mounts left below %s", dir)
	}
	left, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("left behind in TMPDIR: %q", left)
	}
}
