package vmbuild

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goldsmith/goldsmith/internal/agent"
	"github.com/goldsmith/goldsmith/internal/instance/vm"
)

// helloTimeout bounds a boot, from QEMU's start to the agent's hello.
const helloTimeout = 3 * time.Minute

// runRoot holds the instances' QEMU run directories (sockets, console,
// pid file), away from the scratch directories because unix socket paths
// are limited to 108 bytes:
// <runRoot>/<scratch root hash>/<build hash>/<stage>/. The scratch root
// level keeps servers (and test processes) with different data dirs apart.
const runRoot = "/run/goldsmith-vm"

// shortHash names a directory by a path, briefly.
func shortHash(p string) string {
	sum := sha256.Sum256([]byte(p))
	return hex.EncodeToString(sum[:6])
}

// serverRunDir holds the run directories of the builds under scratchRoot.
func serverRunDir(scratchRoot string) string {
	return filepath.Join(runRoot, shortHash(filepath.Clean(scratchRoot)))
}

// RunDir returns the QEMU run directory of a build's stage; the build's
// scratch directory sits in the server's scratch root.
func RunDir(scratchDir, stage string) string {
	return filepath.Join(serverRunDir(filepath.Dir(filepath.Clean(scratchDir))), shortHash(scratchDir), stage)
}

// CleanupAll kills every build instance a previous server on scratchRoot
// left (after a crash); that server must not be running builds. Other
// servers' instances are not touched.
func CleanupAll(scratchRoot string, log *slog.Logger) error {
	root := serverRunDir(scratchRoot)
	dirs, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("build instances: %w", err)
	}
	for _, d := range dirs {
		if err := vm.Cleanup(filepath.Join(root, d.Name()), log); err != nil {
			return err
		}
		_ = os.RemoveAll(filepath.Join(root, d.Name()))
	}
	return nil
}

// instance is a running build or test VM with its agent.
type instance struct {
	id      string // i- and 17 hex digits
	dir     string // ScratchDir/<stage>
	runDir  string // RunDir(ScratchDir, stage)
	overlay string
	boot    *bootFiles
	m       *vm.Machine
	c       *agent.Client
	hello   agent.Hello
}

// newInstanceID returns an EC2-style instance ID.
func newInstanceID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return "i-" + hex.EncodeToString(b[:])[:17]
}

// launch boots a VM from an overlay on base and waits for its agent.
func launch(ctx context.Context, s Spec, base Disk, stage string, log *slog.Logger) (*instance, error) {
	if len(base.Secret) > 0 {
		return nil, errors.New("building from an encrypted image is not supported; distribute an unencrypted copy to build from")
	}
	in := &instance{id: newInstanceID(), dir: filepath.Join(s.ScratchDir, stage), runDir: RunDir(s.ScratchDir, stage)}
	for _, d := range []string{in.dir, in.runDir} {
		if err := os.RemoveAll(d); err != nil {
			return nil, fmt.Errorf("clearing %s: %w", d, err)
		}
	}
	if err := os.MkdirAll(in.dir, 0o700); err != nil {
		return nil, fmt.Errorf("instance directory: %w", err)
	}
	boot, err := reusableBoot(s, stage)
	if boot == nil || err != nil {
		boot, err = cachedBoot(ctx, s, base, filepath.Join(in.dir, "boot"))
	}
	if err != nil {
		return nil, err
	}
	in.boot = boot
	if err := saveBoot(in.dir, boot); err != nil {
		return nil, err
	}
	in.overlay = filepath.Join(in.dir, "disk.qcow2")
	var size int64
	if stage == stageBuild && s.VolumeSize > 0 {
		info, err := vm.Inspect(ctx, base.Path)
		if err != nil {
			return nil, fmt.Errorf("the parent image: %w", err)
		}
		if s.VolumeSize > info.VirtualSize {
			size = s.VolumeSize
		}
	}
	if err := vm.CreateOverlay(ctx, base.Path, base.Format, in.overlay, size, nil); err != nil {
		return nil, fmt.Errorf("creating the instance's disk: %w", err)
	}
	growPart := 0
	if size > 0 {
		n, err := growRootPartition(ctx, in.overlay, size, in.dir)
		switch {
		case errors.Is(err, errNoGrow):
			log.WarnContext(ctx, "the volume is bigger, its root file system keeps its size", "reason", err)
		case err != nil:
			return nil, err
		default:
			growPart = n
		}
	}
	m, err := vm.Start(ctx, vm.Config{
		Name: stage + " " + in.id, Accel: s.Accel, CPUs: s.CPUs, MemoryMiB: s.MemoryMiB,
		Drives: []vm.Drive{{Path: in.overlay, Format: "qcow2"}},
		Kernel: boot.Kernel, Initrd: boot.Initramfs, Append: boot.Append,
		Network: s.Network, RunDir: in.runDir, Limit: s.Limit, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the instance: %w", err)
	}
	in.m = m
	hctx, cancel := context.WithTimeout(ctx, helloTimeout)
	defer cancel()
	go func() { // a QEMU that ends before the hello ends the wait
		select {
		case <-m.Done():
			cancel()
		case <-hctx.Done():
		}
	}()
	conn, err := m.AgentConn(hctx)
	if err == nil {
		in.c = agent.NewClient(conn, log)
		in.hello, err = in.c.Hello(hctx)
	}
	if err != nil {
		in.kill()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("the instance did not start its agent: %w; console:\n%s", err, m.ConsoleTail(15))
	}
	if growPart > 0 {
		if err := in.growRootFS(ctx, growPart); err != nil {
			in.kill()
			return nil, err
		}
	}
	return in, nil
}

// shutdown powers the guest off cleanly and waits for QEMU to end.
func (in *instance) shutdown(ctx context.Context) error {
	if err := in.c.Poweroff(ctx); err != nil {
		in.kill()
		return fmt.Errorf("powering the instance off: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := in.m.Wait(wctx); err != nil {
		in.kill()
		return fmt.Errorf("waiting for the instance to power off: %w", err)
	}
	_ = in.c.Close()
	return nil
}

// kill ends the VM at once (idempotent).
func (in *instance) kill() {
	if in == nil {
		return
	}
	if in.c != nil {
		_ = in.c.Close()
	}
	if in.m != nil {
		_ = in.m.Kill()
	}
}

// keepConsole copies the instance's serial console into the log folder.
func (in *instance) keepConsole(logDir, stage string) {
	if in == nil {
		return
	}
	src := filepath.Join(in.runDir, vm.ConsoleLogName)
	dst := filepath.Join(logDir, stage, "console.log")
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return
	}
	f, err := os.Open(src)
	if err != nil {
		return
	}
	defer f.Close()
	out, err := os.Create(dst)
	if err != nil {
		return
	}
	defer out.Close()
	_, _ = io.Copy(out, f)
}

// BootFile records, in an instance's directory, how it was booted, so that
// `goldsmith debug` can boot a kept disk again.
const BootFile = "boot.json"

// BootRecord is the content of BootFile.
type BootRecord struct {
	Kernel, Initramfs, Append string
	Disk                      string // the instance's overlay
}

func saveBoot(dir string, b *bootFiles) error {
	data, err := json.Marshal(BootRecord{Kernel: b.Kernel, Initramfs: b.Initramfs, Append: b.Append,
		Disk: filepath.Join(dir, "disk.qcow2")})
	if err != nil {
		return fmt.Errorf("boot record: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, BootFile), data, 0o600); err != nil {
		return fmt.Errorf("boot record: %w", err)
	}
	return nil
}

// KeptInstance returns the boot record of the build instance a failed
// build kept (terminateInstanceOnFailure false) under scratchDir.
func KeptInstance(scratchDir string) (*BootRecord, error) {
	data, err := os.ReadFile(filepath.Join(scratchDir, stageBuild, BootFile))
	if err != nil {
		return nil, fmt.Errorf("no kept build instance in %s: %w", scratchDir, err)
	}
	var r BootRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reading the boot record: %w", err)
	}
	return &r, nil
}

// The build stage keeps its boot files for the test stage when the guest's
// kernels did not change during the build (same /boot/vmlinuz-* names,
// sizes and times), which saves reading them out of the captured disk.
const keptBootDir = "boot-captured"

// kernelStamp lists the guest's kernels with their sizes and times.
func kernelStamp(ctx context.Context, c *agent.Client) string {
	r, err := c.Exec(ctx, []string{"/bin/sh", "-c", "stat -c '%n %s %Y' /boot/vmlinuz-* 2>/dev/null"})
	if err != nil || r.ExitCode != 0 {
		return ""
	}
	return string(r.Stdout)
}

// keepBoot copies the instance's boot files (kernel, initramfs, command
// line) for the test stage.
func (in *instance) keepBoot(s Spec) error {
	dst := filepath.Join(s.ScratchDir, keptBootDir)
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return fmt.Errorf("keeping the boot files: %w", err)
	}
	b := *in.boot
	for _, f := range []*string{&b.Kernel, &b.Initramfs} {
		to := filepath.Join(dst, filepath.Base(*f))
		if err := os.Link(*f, to); err != nil {
			return fmt.Errorf("keeping the boot files: %w", err)
		}
		*f = to
	}
	data, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("keeping the boot files: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dst, "boot.json"), data, 0o600); err != nil {
		return fmt.Errorf("keeping the boot files: %w", err)
	}
	return nil
}

// reusableBoot returns the boot files the build stage kept, for the test
// stage (nil when there are none).
func reusableBoot(s Spec, stage string) (*bootFiles, error) {
	if stage != stageTest {
		return nil, nil
	}
	data, err := os.ReadFile(filepath.Join(s.ScratchDir, keptBootDir, "boot.json"))
	if err != nil {
		return nil, nil
	}
	var b bootFiles
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, nil
	}
	return &b, nil
}

// bootCacheAge is how long an unused cached boot is kept.
const bootCacheAge = 7 * 24 * time.Hour

// cachedBoot returns the boot files of base from s.BootCacheDir, making
// them there (or in dir without a cache) when missing. Stored images never
// change, so an entry is keyed by the disk's path, size and time, the
// agent binary's (AgentBinary), and the network setting.
func cachedBoot(ctx context.Context, s Spec, base Disk, dir string) (*bootFiles, error) {
	if s.BootCacheDir == "" {
		return prepareBoot(ctx, base, s.AgentBinary, dir, s.Network)
	}
	h := sha256.New()
	for _, f := range []string{base.Path, s.AgentBinary} {
		st, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("boot cache: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00", f, st.Size(), st.ModTime().UnixNano())
	}
	fmt.Fprintf(h, "net=%v", s.Network)
	final := filepath.Join(s.BootCacheDir, hex.EncodeToString(h.Sum(nil))[:32])
	if data, err := os.ReadFile(filepath.Join(final, "boot.json")); err == nil {
		var b bootFiles
		if json.Unmarshal(data, &b) == nil {
			now := time.Now()
			_ = os.Chtimes(final, now, now)
			return &b, nil
		}
	}
	if err := os.MkdirAll(s.BootCacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("boot cache: %w", err)
	}
	pruneBootCache(s.BootCacheDir)
	tmp, err := os.MkdirTemp(s.BootCacheDir, ".tmp-")
	if err != nil {
		return nil, fmt.Errorf("boot cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	b, err := prepareBoot(ctx, base, s.AgentBinary, tmp, s.Network)
	if err != nil {
		return nil, err
	}
	b.Kernel = filepath.Join(final, filepath.Base(b.Kernel))
	b.Initramfs = filepath.Join(final, filepath.Base(b.Initramfs))
	data, err := json.Marshal(b)
	if err == nil {
		err = os.WriteFile(filepath.Join(tmp, "boot.json"), data, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("boot cache: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another build made it meanwhile: use theirs.
		if _, serr := os.Stat(filepath.Join(final, "boot.json")); serr != nil {
			return nil, fmt.Errorf("boot cache: %w", err)
		}
	}
	return b, nil
}

// pruneBootCache removes entries unused for bootCacheAge and what an
// interrupted fill left (older than an hour).
func pruneBootCache(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue
		}
		age := time.Since(info.ModTime())
		if age > bootCacheAge || (strings.HasPrefix(e.Name(), ".tmp-") && age > time.Hour) {
			_ = os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
}
