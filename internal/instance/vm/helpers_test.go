package vm

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goldsmith/goldsmith/internal/testsupport"
)

// requireQEMU skips unless QEMU, busybox-static and a guest kernel are available.
func requireQEMU(t *testing.T) (vmlinuz, modulesDir string) {
	t.Helper()
	if testing.Short() {
		t.Skip("QEMU boots are skipped with -short")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("needs qemu-system-x86_64 (apt-get install qemu-system-x86)")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox (apt-get install busybox-static)")
	}
	return testsupport.GuestKernel(t)
}

func requireTool(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (apt-get install qemu-utils e2fsprogs fdisk)", tool)
		}
	}
}

// moduleChain returns the .ko paths needed for names, dependencies first,
// resolved from modules.order and each module's .modinfo "depends=".
func moduleChain(t *testing.T, modulesDir string, names ...string) []string {
	t.Helper()
	order, err := os.ReadFile(filepath.Join(modulesDir, "modules.order"))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(order))
	for sc.Scan() {
		rel := strings.TrimSpace(sc.Text())
		n := strings.ReplaceAll(strings.TrimSuffix(filepath.Base(rel), ".ko"), "-", "_")
		byName[n] = filepath.Join(modulesDir, rel)
	}
	var out []string
	seen := map[string]bool{}
	var visit func(n string)
	visit = func(n string) {
		n = strings.ReplaceAll(n, "-", "_")
		if seen[n] {
			return
		}
		seen[n] = true
		p, ok := byName[n]
		if !ok {
			t.Fatalf("module %s not in modules.order (built in?)", n)
		}
		f, err := elf.Open(p)
		if err != nil {
			t.Fatalf("module %s: %v", n, err)
		}
		sec := f.Section(".modinfo")
		data, err := sec.Data()
		f.Close()
		if err != nil {
			t.Fatalf("module %s .modinfo: %v", n, err)
		}
		for _, kv := range bytes.Split(data, []byte{0}) {
			if deps, ok := bytes.CutPrefix(kv, []byte("depends=")); ok && len(deps) > 0 {
				for _, d := range strings.Split(string(deps), ",") {
					visit(d)
				}
			}
		}
		out = append(out, p)
	}
	for _, n := range names {
		visit(n)
	}
	return out
}

// tinyInitrd writes an initramfs whose /init (busybox sh) mounts proc, sys
// and devtmpfs, loads modules, prints GOLDSMITH-BOOTED on the console, runs
// script and powers off.
func tinyInitrd(t *testing.T, modulesDir string, modules []string, script string) string {
	t.Helper()
	var insmod strings.Builder
	entries := []CPIOEntry{
		{Path: "bin/busybox", Mode: 0o755, Source: "/bin/busybox"},
		{Path: "dev", Mode: fs.ModeDir | 0o755},
		{Path: "dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 5, Minor: 1},
		{Path: "proc", Mode: fs.ModeDir | 0o755},
		{Path: "sys", Mode: fs.ModeDir | 0o755},
		{Path: "tmp", Mode: fs.ModeDir | 0o1777},
		{Path: "mnt", Mode: fs.ModeDir | 0o755},
	}
	if len(modules) > 0 {
		for _, ko := range moduleChain(t, modulesDir, modules...) {
			p := "lib/modules/" + filepath.Base(ko)
			entries = append(entries, CPIOEntry{Path: p, Mode: 0o644, Source: ko})
			insmod.WriteString("insmod /" + p + "\n")
		}
	}
	init := "#!/bin/busybox sh\n" +
		"/bin/busybox mount -t proc proc /proc\n" +
		"/bin/busybox --install -s /bin\n" +
		"mount -t sysfs sys /sys\nmount -t devtmpfs dev /dev\n" +
		insmod.String() +
		"echo GOLDSMITH-BOOTED\n" + script + "\nsync\npoweroff -f\n"
	entries = append(entries, CPIOEntry{Path: "init", Mode: 0o755, Data: []byte(init)})
	path := filepath.Join(t.TempDir(), "initrd.cpio")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteCPIO(f, entries); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startTiny boots the tiny initramfs and registers Kill as cleanup.
func startTiny(t *testing.T, cfg Config) *Machine {
	t.Helper()
	if cfg.Accel == "" {
		cfg.Accel = "tcg"
	}
	if cfg.RunDir == "" {
		cfg.RunDir = filepath.Join(t.TempDir(), "run")
	}
	if cfg.Append == "" {
		cfg.Append = "console=ttyS0 quiet panic=-1"
	}
	if cfg.CPUs == 0 {
		cfg.CPUs = 1
	}
	if cfg.MemoryMiB == 0 {
		cfg.MemoryMiB = 256
	}
	cfg.NoReboot = true
	cfg.Logger = testLogger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		_ = m.Kill()
		assertGone(t, m.PID())
	})
	return m
}

// waitConsole polls the console log until it contains marker.
func waitConsole(t *testing.T, m *Machine, marker string, limit time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	deadline := begin.Add(limit)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(filepath.Join(m.RunDir(), ConsoleLogName))
		if bytes.Contains(b, []byte(marker)) {
			return time.Since(begin)
		}
		select {
		case <-m.Done():
			t.Fatalf("qemu exited before %q; console:\n%s", marker, m.ConsoleTail(30))
		case <-time.After(25 * time.Millisecond):
		}
	}
	t.Fatalf("no %q on the console after %s; console:\n%s", marker, limit, m.ConsoleTail(30))
	return 0
}

// assertGone fails when pid still exists (running or an unreaped zombie).
func assertGone(t *testing.T, pid int) {
	t.Helper()
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
		t.Errorf("process %d still exists", pid)
	}
}

var syscallZero = syscall.Signal(0)

func itoa(i int) string { return strconv.Itoa(i) }
