package testsupport

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// kernelCacheRoot holds one unpacked guest kernel package per directory.
const kernelCacheRoot = "/var/cache/goldsmith-test/kernel"

// GuestKernel returns a Debian cloud kernel (vmlinuz) and its modules
// directory (lib/modules/<version>, with modules.order but no modules.dep:
// read dependencies from each .ko's .modinfo "depends=") for test VMs. The package that
// linux-image-cloud-amd64 depends on is downloaded with apt-get and
// unpacked with dpkg-deb once per machine, under
// /var/cache/goldsmith-test/kernel/<package>/, guarded by a lock file so
// parallel test binaries do not race. It skips when apt-get, apt-cache or
// dpkg-deb is missing or the cache cannot be written (not root).
func GuestKernel(tb testing.TB) (vmlinuz, modulesDir string) {
	tb.Helper()
	for _, tool := range []string{"apt-get", "apt-cache", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("guest kernel: needs %s (a Debian host) to fetch linux-image-cloud-amd64", tool)
		}
	}
	if os.Geteuid() != 0 {
		tb.Skip("guest kernel: needs root to write " + kernelCacheRoot)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pkg, err := cloudKernelPackage(ctx)
	if err != nil {
		tb.Fatalf("guest kernel: %v", err)
	}
	dir := filepath.Join(kernelCacheRoot, pkg)
	vmlinuz, modulesDir, err = unpackedKernel(ctx, dir, pkg)
	if err != nil {
		tb.Fatalf("guest kernel: %v", err)
	}
	return vmlinuz, modulesDir
}

// cloudKernelPackage asks apt-cache which linux-image-<version> package the
// linux-image-cloud-amd64 metapackage depends on.
func cloudKernelPackage(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "apt-cache", "depends", "linux-image-cloud-amd64").Output()
	if err != nil {
		return "", fmt.Errorf("apt-cache depends linux-image-cloud-amd64: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "Depends:" && strings.HasPrefix(f[1], "linux-image-") &&
			len(f[1]) > len("linux-image-") && f[1][len("linux-image-")] >= '0' && f[1][len("linux-image-")] <= '9' {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("no linux-image-<version> dependency in apt-cache output:\n%s", out)
}

// unpackedKernel returns the cached kernel in dir, downloading and
// unpacking pkg first under an exclusive flock on dir.lock.
func unpackedKernel(ctx context.Context, dir, pkg string) (string, string, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", "", fmt.Errorf("creating cache: %w", err)
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", "", fmt.Errorf("opening lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", "", fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()

	if v, m, err := findKernel(dir); err == nil {
		return v, m, nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".fetch-")
	if err != nil {
		return "", "", fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	dl := exec.CommandContext(ctx, "apt-get", "download", "-qq", pkg)
	dl.Dir = tmp
	if out, err := dl.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("apt-get download %s: %w\n%s", pkg, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, pkg+"_*.deb"))
	if len(debs) != 1 {
		return "", "", fmt.Errorf("apt-get download %s left %d .deb files", pkg, len(debs))
	}
	root := filepath.Join(tmp, "root")
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", debs[0], root).CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("dpkg-deb -x %s: %w\n%s", debs[0], err, out)
	}
	if _, _, err := findKernel(root); err != nil {
		return "", "", err
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(root, dir); err != nil {
		return "", "", fmt.Errorf("moving kernel into the cache: %w", err)
	}
	return findKernel(dir)
}

func findKernel(root string) (string, string, error) {
	vm, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(vm) != 1 {
		return "", "", fmt.Errorf("%s: want one boot/vmlinuz-*, found %d", root, len(vm))
	}
	version := strings.TrimPrefix(filepath.Base(vm[0]), "vmlinuz-")
	mods := filepath.Join(root, "lib", "modules", version)
	// The .deb has no modules.dep (depmod runs in postinst); modules.order
	// lists every module and each .ko's .modinfo names its dependencies.
	if _, err := os.Stat(filepath.Join(mods, "modules.order")); err != nil {
		return "", "", fmt.Errorf("%s: no modules.order: %w", mods, err)
	}
	return vm[0], mods, nil
}
