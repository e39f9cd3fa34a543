package vm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const testFSUUID = "5f1b6a2e-4c1d-4e8a-9b7e-0123456789ab"

// rootTree writes a small Debian-like tree with tricky symlinks.
func rootTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	files := map[string]string{
		"usr/lib/os-release": "PRETTY_NAME=\"Debian GNU/Linux 12\"\nID=debian\n",
		"etc/hostname":       "builder\n",
		"boot/vmlinuz-6.1":   strings.Repeat("\x00kernel\xff", 50000),
	}
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"etc/os-release": "../usr/lib/os-release",                               // relative, Debian's layout
		"etc/abs":        "/usr/lib/os-release",                                 // absolute: inside the fs, not the host
		"vmlinuz":        "boot/vmlinuz-6.1",                                    // relative from the root
		"lib":            "usr/lib",                                             // directory symlink in the middle of paths
		"etc/loop1":      "loop2",                                               // a cycle
		"etc/loop2":      "loop1",                                               //
		"etc/long":       "/" + strings.Repeat("./", 40) + "usr/lib/os-release", // slow symlink (> 60 bytes)
		"etc/dangling":   "/nowhere",
	}
	for p, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func run(t *testing.T, stdin string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// partitionedExt4 makes a 70 MiB raw disk: DOS label, partition 1 at 1 MiB
// holding an ext4 filesystem made from tree (platform.md §3).
func partitionedExt4(t *testing.T, tree string) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "disk.raw")
	run(t, "", "truncate", "-s", "70M", img)
	run(t, "label: dos\nstart=2048, type=83, bootable\n", "sfdisk", "-q", img)
	run(t, "", "mkfs.ext4", "-q", "-F", "-L", "root", "-U", testFSUUID, "-E", "offset=1048576", "-d", tree, img, "65536k")
	return img
}

func TestExt4ReadWithoutMounting(t *testing.T) {
	requireTool(t, "sfdisk", "mkfs.ext4", "debugfs", "truncate")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tree := rootTree(t)
	img := partitionedExt4(t, tree)
	fs := OpenExt4(img, 1<<20)
	osRelease, _ := os.ReadFile(filepath.Join(tree, "usr/lib/os-release"))
	kernel, _ := os.ReadFile(filepath.Join(tree, "boot/vmlinuz-6.1"))

	reads := []struct {
		path    string
		want    []byte
		wantErr bool
	}{
		{path: "/usr/lib/os-release", want: osRelease},
		{path: "/etc/os-release", want: osRelease},
		{path: "etc/abs", want: osRelease},
		{path: "/etc/long", want: osRelease},
		{path: "/lib/os-release", want: osRelease},
		{path: "/vmlinuz", want: kernel},
		{path: "/etc/loop1", wantErr: true},
		{path: "/etc/dangling", wantErr: true},
		{path: "/missing", wantErr: true},
		{path: "/etc", wantErr: true},
	}
	for _, tt := range reads {
		t.Run("read "+tt.path, func(t *testing.T) {
			got, err := fs.ReadFile(ctx, tt.path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("got %d bytes, want %d", len(got), len(tt.want))
			}
		})
	}

	names, err := fs.ReadDir(ctx, "/lib")
	if err != nil || !slices.Equal(names, []string{"os-release"}) {
		t.Errorf("ReadDir(/lib) = %v, %v", names, err)
	}
	names, err = fs.ReadDir(ctx, "/etc")
	slices.Sort(names)
	if want := []string{"abs", "dangling", "hostname", "long", "loop1", "loop2", "os-release"}; err != nil || !slices.Equal(names, want) {
		t.Errorf("ReadDir(/etc) = %v, %v; want %v", names, err, want)
	}
	if _, err := fs.ReadDir(ctx, "/etc/hostname"); err == nil {
		t.Error("ReadDir on a file succeeded")
	}
	for p, want := range map[string]bool{"/etc/os-release": true, "/boot": true, "/etc/dangling": false, "/nope": false} {
		if got := fs.Exists(ctx, p); got != want {
			t.Errorf("Exists(%s) = %v, want %v", p, got, want)
		}
	}
	dst := filepath.Join(t.TempDir(), "vmlinuz")
	if err := fs.Copy(ctx, "/vmlinuz", dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, kernel) {
		t.Error("copied kernel differs")
	}
	if err := fs.Copy(ctx, "/nope", filepath.Join(t.TempDir(), "x")); err == nil {
		t.Error("Copy of a missing file succeeded")
	}
}

func TestFindRoot(t *testing.T) {
	requireTool(t, "sfdisk", "mkfs.ext4", "debugfs", "truncate", "qemu-img")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tree := rootTree(t)
	partitioned := partitionedExt4(t, tree)
	bare := filepath.Join(t.TempDir(), "bare.raw")
	run(t, "", "truncate", "-s", "32M", bare)
	run(t, "", "mkfs.ext4", "-q", "-F", "-U", testFSUUID, "-d", tree, bare)
	empty := filepath.Join(t.TempDir(), "empty.raw")
	run(t, "", "truncate", "-s", "32M", empty)
	run(t, "", "mkfs.ext4", "-q", "-F", empty)
	qcow := filepath.Join(t.TempDir(), "disk.qcow2")
	if err := Convert(ctx, partitioned, "raw", qcow, "qcow2", ConvertOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		image    string
		format   string
		wantPart int // 0 = bare filesystem
		wantOff  int64
		wantErr  error
	}{
		{name: "partitioned raw", image: partitioned, format: "raw", wantPart: 1, wantOff: 1 << 20},
		{name: "partitioned qcow2", image: qcow, format: "qcow2", wantPart: 1, wantOff: 1 << 20},
		{name: "bare filesystem", image: bare, format: "raw"},
		{name: "no os-release", image: empty, format: "raw", wantErr: ErrNoRoot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			raw, closeView, err := RawView(ctx, tt.image, tt.format, nil, tmp)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				closeView()
				if left, _ := os.ReadDir(tmp); len(left) != 0 {
					t.Errorf("RawView left %d files", len(left))
				}
			}()
			fs, part, uuid, err := FindRoot(ctx, raw)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if uuid != testFSUUID {
				t.Errorf("uuid = %s, want %s", uuid, testFSUUID)
			}
			if fs.Offset() != tt.wantOff {
				t.Errorf("offset = %d, want %d", fs.Offset(), tt.wantOff)
			}
			if (part == nil) != (tt.wantPart == 0) || (part != nil && part.Number != tt.wantPart) {
				t.Errorf("partition = %+v, want number %d", part, tt.wantPart)
			}
			if b, err := fs.ReadFile(ctx, "/etc/hostname"); err != nil || string(b) != "builder\n" {
				t.Errorf("hostname = %q, %v", b, err)
			}
		})
	}
}
