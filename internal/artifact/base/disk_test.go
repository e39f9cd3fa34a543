package base

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goldsmith/goldsmith/internal/instance/vm"
	"github.com/goldsmith/goldsmith/internal/mountinfo"
)

func TestParseMBRPartition1(t *testing.T) {
	mbr := func(typ byte, lba, n uint32, sig bool) []byte {
		b := make([]byte, 512)
		e := b[446:]
		e[4] = typ
		e[8], e[9], e[10], e[11] = byte(lba), byte(lba>>8), byte(lba>>16), byte(lba>>24)
		e[12], e[13], e[14], e[15] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
		if sig {
			b[510], b[511] = 0x55, 0xaa
		}
		return b
	}
	tests := []struct {
		name          string
		mbr           []byte
		start, length int64
		wantErr       bool
	}{
		{"2 GiB disk", mbr(0x83, 2048, 4192256, true), 1 << 20, 4192256 * 512, false},
		{"no signature", mbr(0x83, 2048, 10, false), 0, 0, true},
		{"empty entry", mbr(0, 2048, 10, true), 0, 0, true},
		{"short", make([]byte, 100), 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, l, err := parseMBRPartition1(tt.mbr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if s != tt.start || l != tt.length {
				t.Fatalf("got %d+%d, want %d+%d", s, l, tt.start, tt.length)
			}
		})
	}
}

func TestNewUUID(t *testing.T) {
	a, err := newUUID()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newUUID()
	if a == b {
		t.Fatalf("two UUIDs are equal: %s", a)
	}
	parts := strings.Split(a, "-")
	if len(a) != 36 || len(parts) != 5 || a[14] != '4' || !strings.ContainsRune("89ab", rune(a[19])) {
		t.Fatalf("not a version 4 UUID: %q", a)
	}
}

// TestDebianDiskBoots builds the real image (about a minute under TCG),
// then boots the result standalone: BIOS, GRUB, kernel, systemd, up to the
// serial console's login prompt.
func TestDebianDiskBoots(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Debian disk image with mmdebstrap and boots it under QEMU (about 2 minutes); not in -short")
	}
	needRoot(t, "mmdebstrap", "sfdisk", "mkfs.ext4", "debugfs", "qemu-img", "qemu-system-x86_64")
	accel, err := vm.DetectAccel("auto")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(t.Output(), nil))

	img, err := DebianDisk(ctx, DiskOptions{Dir: filepath.Join(dir, "build"), Accel: accel, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range img.Timings {
		t.Logf("timing %-10s %v", s.Step, s.Took.Round(time.Millisecond))
	}
	t.Logf("image: %s, kernel %s, %d packages", img.OSVersion, img.Kernel, len(img.Packages))
	if !strings.Contains(img.OSVersion, "bookworm") || !strings.HasSuffix(img.Kernel, "-cloud-amd64") {
		t.Errorf("OSVersion %q, Kernel %q", img.OSVersion, img.Kernel)
	}
	have := map[string]string{}
	for _, p := range img.Packages {
		have[p.Name] = p.Version
	}
	for _, p := range append(DiskPackages, "linux-image-"+img.Kernel) {
		if have[p] == "" {
			t.Errorf("package %s is not installed", p)
		}
	}
	info, err := vm.Inspect(ctx, img.Path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "qcow2" || info.BackingFile != "" || info.VirtualSize != 2<<30 || img.VirtualSize != 2<<30 {
		t.Fatalf("image info %+v, VirtualSize %d; want a standalone 2 GiB qcow2", info, img.VirtualSize)
	}
	for _, p := range []string{"build/rootfs", "build/disk.raw"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind (%v)", p, err)
		}
	}

	// The files, read from a raw conversion without mounting.
	raw := filepath.Join(dir, "check.raw")
	if err := vm.Convert(ctx, img.Path, "qcow2", raw, "raw", vm.ConvertOptions{}); err != nil {
		t.Fatal(err)
	}
	osr := debugfsCat(t, raw, "/etc/os-release")
	if !strings.Contains(osr, "VERSION_CODENAME=bookworm") {
		t.Errorf("os-release:\n%s", osr)
	}
	if id := debugfsCat(t, raw, "/etc/machine-id"); id != "" {
		t.Errorf("machine-id = %q, want empty", id)
	}
	if s := debugfsCat(t, raw, "/etc/shadow"); !strings.HasPrefix(s, "root:!") && !strings.Contains(s, "\nroot:!") {
		t.Errorf("root is not locked:\n%s", s)
	}
	if cfg := debugfsCat(t, raw, "/boot/grub/grub.cfg"); !strings.Contains(cfg, "root=UUID="+img.FSUUID) || !strings.Contains(cfg, "console=ttyS0") {
		t.Errorf("grub.cfg does not boot UUID=%s with console=ttyS0", img.FSUUID)
	}
	if ls := debugfsRun(t, raw, "ls /etc/ssh"); strings.Contains(ls, "ssh_host_") {
		t.Errorf("SSH host keys in the image: %s", ls)
	}
	if ls := debugfsRun(t, raw, "ls /var/lib/apt/lists"); strings.Contains(ls, "_dists_") {
		t.Errorf("apt lists in the image: %s", ls)
	}
	if err := os.Remove(raw); err != nil {
		t.Fatal(err)
	}

	// Boot it standalone, on an overlay so the image stays pristine.
	overlay := filepath.Join(dir, "boot.qcow2")
	if err := vm.CreateOverlay(ctx, img.Path, "qcow2", overlay, 0, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m, err := vm.Start(ctx, vm.Config{
		Name: "debian-disk-boot", Accel: accel,
		Drives: []vm.Drive{{Path: overlay, Format: "qcow2"}}, Network: true,
		RunDir: filepath.Join(dir, "boot"), Limit: 120 * time.Second, NoReboot: true, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Kill() })
	up := waitConsole(ctx, t, m, filepath.Join(dir, "boot", vm.ConsoleLogName), "multi-user.target or login:", bootedUp)
	t.Logf("timing standalone boot to multi-user/login: %v", up.Sub(start).Round(time.Millisecond))
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	console, _ := os.ReadFile(filepath.Join(dir, "boot", vm.ConsoleLogName))
	for _, w := range []string{"Reached target", "multi-user.target", "cloud-init"} {
		if !strings.Contains(string(console), w) {
			t.Errorf("console lacks %q", w)
		}
	}
	// DHCP on the first ethernet: ifup@eth0 succeeds only once dhclient
	// has a lease (slirp hands out 10.0.2.15); and no unit failed.
	dhcp := false
	for _, line := range strings.Split(string(console), "\n") {
		switch {
		case strings.Contains(line, "Started") && strings.Contains(line, "ifup@eth0.service"):
			dhcp = true
			t.Logf("console: %s", strings.TrimSpace(line))
		case strings.Contains(line, "eth0") && strings.Contains(line, "10.0.2."):
			t.Logf("console: %s", strings.TrimSpace(line))
		case strings.Contains(line, "FAILED"):
			t.Errorf("console: %s", strings.TrimSpace(line))
		}
	}
	if !dhcp {
		t.Errorf("console shows no started ifup@eth0.service (DHCP on eth0)")
	}
}

// bootedUp tells whether a console log shows a system up in multi-user
// mode: systemd reached multi-user.target, or a getty prompts for a login.
func bootedUp(console string) bool {
	for _, line := range strings.Split(console, "\n") {
		if strings.Contains(line, "login:") ||
			strings.Contains(line, "Reached target") && strings.Contains(line, "multi-user.target") {
			return true
		}
	}
	return false
}

// waitConsole polls a console log until done says it holds what is wanted
// and returns when it did; it fails the test when QEMU exits or ctx ends
// first.
func waitConsole(ctx context.Context, t *testing.T, m *vm.Machine, path, want string, done func(string) bool) time.Time {
	t.Helper()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil && done(string(b)) {
			return time.Now()
		}
		select {
		case <-m.Done():
			t.Fatalf("QEMU exited (%v) before %q; console:\n%s", m.Wait(ctx), want, m.ConsoleTail(40))
		case <-ctx.Done():
			t.Fatalf("%v before %q; console:\n%s", ctx.Err(), want, m.ConsoleTail(40))
		case <-tick.C:
		}
	}
}

// debugfsRun runs one debugfs request on partition 1 of a raw disk.
func debugfsRun(t *testing.T, raw, request string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", request, fmt.Sprintf("%s?offset=%d", raw, diskPartStart)).Output()
	if err != nil {
		t.Fatalf("debugfs %s: %v", request, err)
	}
	return string(out)
}

// debugfsCat returns a file of partition 1 of a raw disk, following a
// symlink in the last component; the test fails when there is no file.
func debugfsCat(t *testing.T, raw, p string) string {
	t.Helper()
	for range 4 {
		st := debugfsRun(t, raw, "stat "+p)
		if !strings.HasPrefix(st, "Inode: ") {
			t.Fatalf("%s is not in the image", p)
		}
		i := strings.Index(st, "Fast link dest: ")
		if i < 0 {
			break
		}
		dest := strings.Trim(strings.SplitN(st[i+len("Fast link dest: "):], "\n", 2)[0], `"`)
		if !path.IsAbs(dest) {
			dest = path.Join(path.Dir(p), dest)
		}
		p = dest
	}
	return debugfsRun(t, raw, "cat "+p)
}

// TestDebianDiskCancel cancels a build while mmdebstrap works: the error is
// the context's, and neither a mount nor a process is left behind.
func TestDebianDiskCancel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs mmdebstrap for a few seconds; not in -short")
	}
	needRoot(t, "mmdebstrap", "sfdisk", "mkfs.ext4", "qemu-img", "qemu-system-x86_64")
	dir := filepath.Join(t.TempDir(), "build")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err := DebianDisk(ctx, DiskOptions{Dir: dir, Accel: "tcg"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	t.Logf("cancelled build returned after %v: %v", time.Since(start).Round(time.Millisecond), err)
	mounts, err := mountinfo.Self()
	if err != nil {
		t.Fatal(err)
	}
	if left := mountsUnder(mounts, dir); len(left) > 0 {
		t.Fatalf("mounts left under %s: %q", dir, left)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), dir) {
			t.Errorf("process left: %s: %q", p, b)
		}
	}
}
