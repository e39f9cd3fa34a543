package vmbuild

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goldsmith/goldsmith/internal/instance/vm"
	"github.com/goldsmith/goldsmith/internal/testsupport"
)

// miniDisk makes a small bootable-by-goldsmith disk: busybox as the
// userland, the test guest kernel in /boot and its virtio modules with a
// modules.dep, on an ext4 partition of a DOS-labelled disk, as qcow2. It
// stands in for a distribution image in the stage tests (the Debian base
// takes a minute to build; the app tests use it).
func miniDisk(t *testing.T) Disk {
	t.Helper()
	testsupport.RequireRealBuilds(t)
	for _, tool := range []string{"qemu-system-x86_64", "qemu-img", "sfdisk", "mkfs.ext4", "debugfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("VM stage tests need %s", tool)
		}
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("VM stage tests need /bin/busybox (busybox-static)")
	}
	vmlinuz, modDir := testsupport.GuestKernel(t)
	ver := filepath.Base(modDir)
	root := filepath.Join(t.TempDir(), "root")
	for _, d := range []string{"bin", "etc", "tmp", "var/lib", "boot", "root", "proc", "sys", "dev", "run", "lib/modules/" + ver} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, "/bin/busybox", filepath.Join(root, "bin/busybox"), 0o755)
	for _, app := range []string{"sh", "cat", "echo", "head", "rm", "mkdir", "ls", "test", "grep", "sync", "chmod", "uname", "id", "[", "true", "false", "sleep", "touch", "mv", "cp", "ln", "env", "printf", "wc", "tr", "sed"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", app)); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(root, "etc/os-release"), "NAME=\"Mini\"\nPRETTY_NAME=\"Mini Linux 1\"\nID=mini\n")
	if err := os.MkdirAll(filepath.Join(root, "etc/ssh"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "etc/ssh/ssh_host_rsa_key"), "x")
	copyFile(t, vmlinuz, filepath.Join(root, "boot/vmlinuz-"+ver), 0o644)
	var dep strings.Builder
	for _, rel := range []string{"kernel/drivers/virtio", "kernel/drivers/block/virtio_blk.ko"} {
		_ = filepath.WalkDir(filepath.Join(modDir, rel), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".ko") {
				return err
			}
			r, _ := filepath.Rel(modDir, p)
			copyFile(t, p, filepath.Join(root, "lib/modules", ver, r), 0o644)
			fmt.Fprintf(&dep, "%s:%s\n", r, depsOf(t, p, modDir))
			return nil
		})
	}
	writeFile(t, filepath.Join(root, "lib/modules", ver, "modules.dep"), dep.String())
	writeFile(t, filepath.Join(root, "lib/modules", ver, "modules.builtin"), "")
	dir := t.TempDir()
	raw := filepath.Join(dir, "mini.raw")
	run(t, "truncate", "-s", "160M", raw)
	runIn(t, "label: dos\nstart=2048, type=83, bootable\n", "sfdisk", "-q", raw)
	run(t, "mkfs.ext4", "-q", "-F", "-L", "root", "-E", "offset=1048576", "-d", root, raw, "150000k")
	q := filepath.Join(dir, "mini.qcow2")
	if err := vm.Convert(context.Background(), raw, "raw", q, "qcow2", vm.ConvertOptions{}); err != nil {
		t.Fatal(err)
	}
	return Disk{Path: q, Format: "qcow2"}
}

// depsOf lists a module's dependencies (from its .modinfo) as modules.dep
// paths.
func depsOf(t *testing.T, ko, modDir string) string {
	f, err := elf.Open(ko)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return ""
	}
	data, _ := sec.Data()
	var out []string
	for _, kv := range bytes.Split(data, []byte{0}) {
		v, ok := bytes.CutPrefix(kv, []byte("depends="))
		if !ok || len(v) == 0 {
			continue
		}
		for _, name := range strings.Split(string(v), ",") {
			matches, _ := filepath.Glob(filepath.Join(modDir, "kernel/drivers/*", name+".ko"))
			for _, m := range matches {
				r, _ := filepath.Rel(modDir, m)
				out = append(out, " "+r)
			}
		}
	}
	return strings.Join(out, "")
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	runIn(t, "", name, args...)
}

func runIn(t *testing.T, stdin, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}
