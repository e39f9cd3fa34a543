package vmbuild

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/artifact/amistore"
	"github.com/goldsmith/goldsmith/internal/instance/vm"
	"github.com/goldsmith/goldsmith/internal/testsupport"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testsupport.Cleanup()
	os.Exit(code)
}

const markerComponent = `name: marker
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: WriteMarker
        action: ExecuteBash
        inputs:
          commands:
            - echo built-by-goldsmith > /etc/marker
            - head -c 1024 /dev/urandom > /var/lib/blob
      - name: CreateNote
        action: CreateFile
        inputs:
          - path: /etc/note.txt
            content: hello from a component
  - name: test
    steps:
      - name: CheckMarker
        action: ExecuteBash
        inputs:
          commands:
            - grep -q built-by-goldsmith /etc/marker
            - test "$(wc -c < /var/lib/blob)" -eq 1024
            - grep -q hello /etc/note.txt
`

const failingComponent = `name: broken
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Fails
        action: ExecuteBash
        inputs:
          commands:
            - echo about to fail
            - exit 3
`

func testSpec(t *testing.T, parent Disk, comps ...Component) Spec {
	dir := t.TempDir()
	return Spec{
		ImageARN: "arn:aws:imagebuilder:us-east-1:111111111111:image/vm-test/1.0.0/1", Name: "vm-test",
		Version: "1.0.0", Build: "1", Region: "us-east-1", Account: "111111111111",
		Components: comps, Parent: parent, CPUs: 1, MemoryMiB: 512, TestsEnabled: true,
		CollectMeta: true, Accel: "tcg", Limit: 3 * time.Minute,
		AgentBinary: testsupport.AgentBinary(t),
		ScratchDir:  filepath.Join(dir, "scratch"), LogDir: filepath.Join(dir, "logs"),
	}
}

func TestBuildTestDistribute(t *testing.T) {
	parent := miniDisk(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := testSpec(t, parent, Component{Name: "marker", Type: "BUILD", Document: []byte(markerComponent)})
	var steps []Step
	on := func(st Step) error { steps = append(steps, st); return nil }
	start := time.Now()
	b, err := BuildStage(ctx, s, on, nil)
	if err != nil {
		t.Fatalf("BuildStage: %v\nsteps: %+v", err, steps)
	}
	t.Logf("build stage: %v", time.Since(start))
	if b.OSVersion != "Mini Linux 1" {
		t.Errorf("OSVersion = %q", b.OSVersion)
	}
	if _, err := os.Stat(filepath.Join(s.LogDir, "build", "detailedoutput.json")); err != nil {
		t.Errorf("toe's detailed output was not kept: %v", err)
	}
	info, err := vm.Inspect(ctx, b.Disk)
	if err != nil || info.BackingFile != "" || info.Format != "qcow2" {
		t.Fatalf("captured disk %+v, %v: want a standalone qcow2", info, err)
	}
	start = time.Now()
	if err := TestStage(ctx, s, on, nil); err != nil {
		t.Fatalf("TestStage: %v", err)
	}
	t.Logf("test stage: %v", time.Since(start))

	amis, err := amistore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	exports := t.TempDir()
	svc := Services{AMIs: amis, Upload: func(_ context.Context, bucket, key, file string) error {
		dst := filepath.Join(exports, bucket, key)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		return os.Rename(file, dst)
	}}
	dists := []gen.Distribution{{Region: "us-east-1",
		AmiDistributionConfiguration: &gen.AmiDistributionConfiguration{Name: "vm-test-{{ imagebuilder:buildDate }}",
			AmiTags: map[string]string{"team": "a"}},
		S3ExportConfiguration: &gen.S3ExportConfiguration{DiskImageFormat: gen.DiskImageFormatRAW, S3Bucket: "exports", S3Prefix: "raw"}}}
	built := time.Date(2026, 11, 23, 10, 20, 30, 0, time.UTC)
	res, err := DistributeStage(ctx, s, dists, built, svc, on)
	if err != nil {
		t.Fatalf("DistributeStage: %v", err)
	}
	if len(res.AMIs) != 1 || !strings.HasPrefix(res.AMIs[0].Name, "vm-test-2026-11-23T10-20-30") {
		t.Fatalf("AMIs = %+v", res.AMIs)
	}
	a, err := amis.Get("us-east-1", res.AMIs[0].Image)
	if err != nil || a.Tags["team"] != "a" {
		t.Fatalf("stored image %+v, %v", a, err)
	}
	raw := filepath.Join(exports, "exports", "raw", "vm-test-1.0.0-1.raw")
	fsys, _, _, err := vm.FindRoot(ctx, raw)
	if err != nil {
		t.Fatalf("the exported RAW has no root file system: %v", err)
	}
	if got, err := fsys.ReadFile(ctx, "/etc/marker"); err != nil || string(got) != "built-by-goldsmith\n" {
		t.Errorf("/etc/marker in the export = %q, %v", got, err)
	}
	if fsys.Exists(ctx, "/etc/ssh/ssh_host_rsa_key") {
		t.Error("the sanitized image still has an SSH host key")
	}
	if fsys.Exists(ctx, "/var/lib/goldsmith-agent") {
		t.Error("the agent's state was not removed")
	}

	// A distribution that runs again replaces the earlier attempt's images;
	// one that fails leaves none.
	svc.Upload = func(context.Context, string, string, string) error { return errors.New("bucket unreachable") }
	if _, err := DistributeStage(ctx, s, dists, built, svc, nil); err == nil || !strings.Contains(err.Error(), "bucket unreachable") {
		t.Fatalf("DistributeStage with a failing upload: %v", err)
	}
	if _, err := amis.Get("us-east-1", res.AMIs[0].Image); err == nil {
		t.Error("the earlier attempt's image is still stored")
	}
	if n, _ := amis.DeleteFrom(s.ImageARN); n != 0 {
		t.Errorf("a failed distribution left %d images", n)
	}
	if err := Cleanup(ctx, s, nil); err != nil {
		t.Fatal(err)
	}
}

func TestFailingComponentNamesTheStep(t *testing.T) {
	parent := miniDisk(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := testSpec(t, parent, Component{Name: "broken", Type: "BUILD", Document: []byte(failingComponent)})
	s.KeepOnFailure = true
	_, err := BuildStage(ctx, s, nil, nil)
	if err == nil {
		t.Fatal("a failing component must fail the build")
	}
	for _, want := range []string{"ApplyBuildComponents", `"broken"`, "Fails"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if n := qemuProcessesUnder(filepath.Dir(RunDir(s.ScratchDir, stageBuild))); n != 0 {
		t.Errorf("%d QEMU processes left after the failure", n)
	}
	// terminateInstanceOnFailure false: the disk and how to boot it stay.
	rec, err := KeptInstance(s.ScratchDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{rec.Disk, rec.Kernel, rec.Initramfs} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("kept file: %v", err)
		}
	}
	if err := Cleanup(ctx, s, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.ScratchDir); !os.IsNotExist(err) {
		t.Errorf("scratch dir left: %v", err)
	}
}

func TestCancelKillsTheInstance(t *testing.T) {
	parent := miniDisk(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := strings.Replace(failingComponent, "exit 3", "sleep 600", 1)
	s := testSpec(t, parent, Component{Name: "slow", Type: "BUILD", Document: []byte(slow)})
	go func() {
		for {
			if _, err := os.Stat(filepath.Join(RunDir(s.ScratchDir, stageBuild), vm.PIDFileName)); err == nil {
				time.Sleep(8 * time.Second) // booted and running the component
				cancel()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	_, err := BuildStage(ctx, s, nil, nil)
	if err == nil {
		t.Fatal("a cancelled build must fail")
	}
	if err := Cleanup(context.Background(), s, nil); err != nil {
		t.Fatal(err)
	}
	if n := qemuProcessesUnder(filepath.Dir(RunDir(s.ScratchDir, stageBuild))); n != 0 {
		t.Fatalf("%d QEMU processes left", n)
	}
}

// qemuProcessesUnder counts running qemu processes whose command line
// mentions dir.
func qemuProcessesUnder(dir string) int {
	n := 0
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), "qemu-system") && strings.Contains(string(b), dir) {
			n++
		}
	}
	return n
}

const rebootComponent = `name: rebooter
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: RebootOnce
        action: ExecuteBash
        inputs:
          commands:
            - if [ -f /var/lib/rebooted-once ]; then echo after-reboot > /etc/after-reboot; exit 0; fi
            - touch /var/lib/rebooted-once
            - exit 194
      - name: Next
        action: Reboot
      - name: Last
        action: ExecuteBash
        inputs:
          commands:
            - echo done > /etc/all-done
`

// TestRebootResumes: exit 194 reboots the build instance and re-runs the
// step; the Reboot module reboots and goes on with the next step; the
// capture has what ran after both reboots.
func TestRebootResumes(t *testing.T) {
	parent := miniDisk(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := testSpec(t, parent, Component{Name: "rebooter", Type: "BUILD", Document: []byte(rebootComponent)})
	s.TestsEnabled = false
	var steps []Step
	b, err := BuildStage(ctx, s, func(st Step) error { steps = append(steps, st); return nil }, nil)
	if err != nil {
		t.Fatalf("BuildStage: %v", err)
	}
	defer func() { _ = Cleanup(ctx, s, nil) }()
	reboots := "no completed ApplyBuildComponents step"
	for _, st := range steps {
		if st.Name == "ApplyBuildComponents" && st.Status == "COMPLETED" {
			reboots = st.Outputs["reboots"]
		}
	}
	if reboots != "2" {
		t.Errorf("reboots = %q, want 2", reboots)
	}
	raw, closeRaw, err := vm.RawView(ctx, b.Disk, "qcow2", nil, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer closeRaw()
	fsys, _, _, err := vm.FindRoot(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"/etc/after-reboot", "/etc/all-done"} {
		if !fsys.Exists(ctx, f) {
			t.Errorf("%s is missing: the job did not resume after the reboots", f)
		}
	}
}

// TestBootCache: the boot files of a parent are made once and then read
// from the cache.
func TestBootCache(t *testing.T) {
	parent := miniDisk(t)
	ctx := context.Background()
	s := testSpec(t, parent)
	s.BootCacheDir = t.TempDir()
	first, err := cachedBoot(ctx, s, parent, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first.Kernel, s.BootCacheDir) {
		t.Fatalf("kernel %s is not in the cache", first.Kernel)
	}
	second, err := cachedBoot(ctx, s, parent, t.TempDir())
	if err != nil || *second != *first {
		t.Fatalf("second boot = %+v, %v; want the cached %+v", second, err, first)
	}
	entries, _ := os.ReadDir(s.BootCacheDir)
	if len(entries) != 1 {
		t.Errorf("cache has %d entries, want 1", len(entries))
	}
}
