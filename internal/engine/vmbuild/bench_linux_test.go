package vmbuild

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/artifact/amistore"
	"github.com/goldsmith/goldsmith/internal/artifact/base"
	"github.com/goldsmith/goldsmith/internal/instance/vm"
	"github.com/goldsmith/goldsmith/internal/testsupport"
)

// benchBaseCache keeps the Debian base disk between benchmark runs (it
// takes a minute or more to build).
const benchBaseCache = "/var/cache/goldsmith-test/bench-debian-12.qcow2"

const benchComponent = `name: bench
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Marker
        action: ExecuteBash
        inputs:
          commands:
            - echo built-by-goldsmith > /etc/marker
      - name: Blob
        action: ExecuteBash
        inputs:
          commands:
            - head -c 1024 /dev/urandom > /opt/blob
  - name: test
    steps:
      - name: Check
        action: ExecuteBash
        inputs:
          commands:
            - grep -qx built-by-goldsmith /etc/marker && test "$(stat -c %s /opt/blob)" -eq 1024
`

// The floor's guest commands: the same work without goldsmith.
const (
	floorBuild = "echo built-by-goldsmith > /etc/marker; head -c 1024 /dev/urandom > /opt/blob"
	floorTest  = `grep -qx built-by-goldsmith /etc/marker && test "$(stat -c %s /opt/blob)" -eq 1024 && echo FLOOR-TEST-OK`
)

// benchParent returns the Debian 12 base disk, built once per machine.
func benchParent(b *testing.B) Disk {
	testsupport.RequireRealBuilds(b)
	if st, err := os.Stat(benchBaseCache); err == nil && time.Since(st.ModTime()) < 7*24*time.Hour {
		return Disk{Path: benchBaseCache, Format: "qcow2"}
	}
	ctx := context.Background()
	dir := b.TempDir()
	start := time.Now()
	d, err := base.DebianDisk(ctx, base.DiskOptions{Dir: dir, Accel: "tcg", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatalf("building the Debian base: %v", err)
	}
	b.Logf("Debian base built in %v", time.Since(start).Round(time.Second))
	if err := os.MkdirAll(filepath.Dir(benchBaseCache), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(d.Path, benchBaseCache); err != nil {
		b.Fatal(err)
	}
	return Disk{Path: benchBaseCache, Format: "qcow2"}
}

// BenchmarkVMBuild: the VM build (two steps, a test stage, RAW and
// VMDK exports) from the Debian base, with per-phase times, against the
// floor measured in the same run: the parent booted with the same kernel
// and a minimal busybox init running the same commands, the capture
// convert, the output booted the same way running the checks, and the
// RAW and VMDK converts.
func BenchmarkVMBuild(b *testing.B) {
	parent := benchParent(b)
	accel, err := vm.DetectAccel("auto")
	if err != nil {
		b.Fatal(err)
	}
	// The boot cache is warm, as for every build after the first from a
	// parent (making it costs about 1.7 s under TCG).
	cache := b.TempDir()
	warm := Spec{Parent: parent, AgentBinary: testsupport.AgentBinary(b), BootCacheDir: cache}
	if _, err := cachedBoot(context.Background(), warm, parent, b.TempDir()); err != nil {
		b.Fatal(err)
	}
	var sum map[string]time.Duration
	add := func(m map[string]time.Duration) {
		if sum == nil {
			sum = map[string]time.Duration{}
		}
		for k, v := range m {
			sum[k] += v
		}
	}
	for b.Loop() {
		add(benchBuild(b, parent, accel, cache))
		add(benchFloor(b, parent, accel))
	}
	n := float64(b.N)
	for k, v := range sum {
		b.ReportMetric(v.Seconds()/n, "s-"+k)
	}
	b.ReportMetric(sum["total"].Seconds()/sum["floor"].Seconds(), "x-floor")
}

func benchBuild(b *testing.B, parent Disk, accel, bootCache string) map[string]time.Duration {
	ctx := context.Background()
	dir := b.TempDir()
	s := Spec{ImageARN: "arn:aws:imagebuilder:us-east-1:111111111111:image/bench/1.0.0/1", Name: "bench",
		Version: "1.0.0", Build: "1", Region: "us-east-1", Account: "111111111111",
		Components: []Component{{Name: "bench", Type: "BUILD", Document: []byte(benchComponent)}},
		Parent:     parent, CPUs: 2, MemoryMiB: 1024, TestsEnabled: true, Accel: accel, Limit: 10 * time.Minute,
		AgentBinary: testsupport.AgentBinary(b), BootCacheDir: bootCache,
		ScratchDir: filepath.Join(dir, "scratch"), LogDir: filepath.Join(dir, "logs")}
	defer func() { _ = Cleanup(ctx, s, nil) }()
	amis, err := amistore.Open(filepath.Join(dir, "amis"))
	if err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(dir, "exports")
	svc := Services{AMIs: amis, Upload: func(_ context.Context, bucket, key, file string) error {
		dst := filepath.Join(out, bucket, key)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		return os.Rename(file, dst)
	}}
	steps := map[string]Step{}
	on := func(st Step) error {
		if st.Status != "RUNNING" {
			steps[st.Name] = st
		}
		return nil
	}
	dists := []gen.Distribution{
		{Region: "us-east-1", S3ExportConfiguration: &gen.S3ExportConfiguration{DiskImageFormat: gen.DiskImageFormatRAW, S3Bucket: "x", S3Prefix: "raw"}},
		{Region: "us-west-2", S3ExportConfiguration: &gen.S3ExportConfiguration{DiskImageFormat: gen.DiskImageFormatVMDK, S3Bucket: "x", S3Prefix: "vmdk"}},
	}
	start := time.Now()
	if _, err := BuildStage(ctx, s, on, nil); err != nil {
		b.Fatalf("build: %v", err)
	}
	t1 := time.Now()
	if err := TestStage(ctx, s, on, nil); err != nil {
		b.Fatalf("test: %v", err)
	}
	t2 := time.Now()
	if _, err := DistributeStage(ctx, s, dists, time.Now(), svc, on); err != nil {
		b.Fatalf("distribute: %v", err)
	}
	end := time.Now()
	d := func(names ...string) time.Duration {
		var t time.Duration
		for _, n := range names {
			t += steps[n].End.Sub(steps[n].Start)
		}
		return t
	}
	return map[string]time.Duration{
		"total":      end.Sub(start),
		"boot":       d("LaunchBuildInstance"),
		"components": d("ApplyBuildComponents"),
		"capture":    t1.Sub(start) - d("LaunchBuildInstance", "ApplyBuildComponents"),
		"test":       t2.Sub(t1),
		"export":     end.Sub(t2),
	}
}

// benchFloor does the same work with nothing of goldsmith's in the guest.
func benchFloor(b *testing.B, parent Disk, accel string) map[string]time.Duration {
	ctx := context.Background()
	dir := b.TempDir()
	// Kernel and modules are read out of the disk as for a build (not
	// timed: a cache would do it once per parent).
	boot, err := prepareBoot(ctx, parent, testsupport.AgentBinary(b), filepath.Join(dir, "boot"), false)
	if err != nil {
		b.Fatal(err)
	}
	mods, _ := filepath.Glob(filepath.Join(dir, "boot", "[0-9][0-9]-*.ko"))
	root := "/dev/vda1"
	start := time.Now()
	overlay := filepath.Join(dir, "build.qcow2")
	if err := vm.CreateOverlay(ctx, parent.Path, parent.Format, overlay, 0, nil); err != nil {
		b.Fatal(err)
	}
	floorBoot(b, dir, "build", boot.Kernel, mods, root, overlay, accel, floorBuild, "")
	captured := filepath.Join(dir, "captured.qcow2")
	if err := vm.Convert(ctx, overlay, "qcow2", captured, "qcow2", vm.ConvertOptions{}); err != nil {
		b.Fatal(err)
	}
	testOverlay := filepath.Join(dir, "test.qcow2")
	if err := vm.CreateOverlay(ctx, captured, "qcow2", testOverlay, 0, nil); err != nil {
		b.Fatal(err)
	}
	floorBoot(b, dir, "test", boot.Kernel, mods, root, testOverlay, accel, floorTest, "FLOOR-TEST-OK")
	for _, f := range []struct{ format, ext string }{{"raw", "raw"}, {"vmdk", "vmdk"}} {
		if err := vm.Convert(ctx, captured, "qcow2", filepath.Join(dir, "out."+f.ext), f.format, vm.ConvertOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	return map[string]time.Duration{"floor": time.Since(start)}
}

// floorBoot boots disk with kernel and a busybox initramfs whose /init
// loads the modules, mounts the root, runs script chrooted, syncs and
// powers off; want must appear on the console.
func floorBoot(b *testing.B, dir, name, kernel string, mods []string, root, disk, accel, script, want string) {
	init := "#!/bin/busybox sh\n/bin/busybox mount -t proc proc /proc\n/bin/busybox mount -t sysfs sys /sys\n" +
		"/bin/busybox mount -t devtmpfs dev /dev\n"
	entries := []vm.CPIOEntry{{Path: "bin/busybox", Mode: 0o755, Source: "/bin/busybox"},
		{Path: "proc", Mode: os.ModeDir | 0o755}, {Path: "sys", Mode: os.ModeDir | 0o755},
		{Path: "dev", Mode: os.ModeDir | 0o755}, {Path: "root", Mode: os.ModeDir | 0o755}}
	for _, m := range mods {
		entries = append(entries, vm.CPIOEntry{Path: "mods/" + filepath.Base(m), Mode: 0o644, Source: m})
		init += "/bin/busybox insmod /mods/" + filepath.Base(m) + "\n"
	}
	init += "while [ ! -b " + root + " ]; do /bin/busybox sleep 0.05; done\n" +
		"/bin/busybox mount -t ext4 " + root + " /root\n" +
		"/bin/busybox chroot /root /bin/sh -c '" + strings.ReplaceAll(script, "'", `'"'"'`) + "'\n" +
		"/bin/busybox sync\n/bin/busybox umount /root\n/bin/busybox poweroff -f\n"
	entries = append(entries, vm.CPIOEntry{Path: "init", Mode: 0o755, Data: []byte(init)})
	initrd := filepath.Join(dir, name+".cpio")
	f, err := os.Create(initrd)
	if err != nil {
		b.Fatal(err)
	}
	if err := vm.WriteCPIO(f, entries); err != nil {
		b.Fatal(err)
	}
	f.Close()
	ctx := context.Background()
	m, err := vm.Start(ctx, vm.Config{Name: "floor-" + name, Accel: accel, CPUs: 2, MemoryMiB: 1024,
		Drives: []vm.Drive{{Path: disk, Format: "qcow2"}}, Kernel: kernel, Initrd: initrd,
		Append: "console=ttyS0 panic=-1 quiet", RunDir: filepath.Join(dir, "run-"+name), Limit: 5 * time.Minute, NoReboot: true,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = m.Kill() }()
	if err := m.Wait(ctx); err != nil {
		b.Fatalf("floor %s boot: %v\n%s", name, err, m.ConsoleTail(20))
	}
	if want != "" {
		c, _ := os.Open(filepath.Join(dir, "run-"+name, vm.ConsoleLogName))
		data, _ := io.ReadAll(c)
		c.Close()
		if !strings.Contains(string(data), want) {
			b.Fatalf("floor %s: %q not on the console:\n%s", name, want, m.ConsoleTail(20))
		}
	}
}
