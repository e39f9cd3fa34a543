package toe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// rootfsChildEnv marks the re-executed process that runs inside the
// namespaces.
const (
	rootfsChildEnv   = "GOLDSMITH_TOE_ROOTFS_CHILD"
	rootfsScratchEnv = "GOLDSMITH_TOE_ROOTFS_SCRATCH"
)

// InRootFS reports whether this process is the re-executed child of
// ReexecInRootFS.
func InRootFS() bool { return os.Getenv(rootfsChildEnv) == "1" }

// ReexecInRootFS runs /proc/self/exe with args in new mount, PID, UTS and
// IPC namespaces and returns its exit code. The child is expected to call
// EnterRootFS before running anything. Needs root (CAP_SYS_ADMIN).
func ReexecInRootFS(ctx context.Context, rootfs string, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	fi, err := os.Stat(rootfs)
	if err != nil {
		return 0, fmt.Errorf("rootfs: %w", err)
	}
	if !fi.IsDir() {
		return 0, fmt.Errorf("rootfs %s is not a directory", rootfs)
	}
	scratch, err := os.MkdirTemp("", "goldsmith-rootfs-")
	if err != nil {
		return 0, fmt.Errorf("rootfs scratch folder: %w", err)
	}
	defer os.RemoveAll(scratch)
	cmd := exec.CommandContext(ctx, "/proc/self/exe", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.Env = append(os.Environ(), rootfsChildEnv+"=1", rootfsScratchEnv+"="+scratch)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
		Pdeathsig:  syscall.SIGKILL,
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() >= 0 {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("running toe inside %s: %w", rootfs, err)
	}
	return 0, nil
}

// EnterRootFS (in the child) mounts rootfs as the lower layer of an
// overlay whose upper layer lives on a private tmpfs, mounts /proc, binds
// /dev and the given host directories (log and state folders, at the same
// paths), and chroots into the overlay. Everything written outside the
// bound directories disappears with the mount namespace.
func EnterRootFS(rootfs string, binds ...string) error {
	root, err := filepath.Abs(rootfs)
	if err != nil {
		return err
	}
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	scratch := os.Getenv(rootfsScratchEnv)
	if scratch == "" {
		return fmt.Errorf("%s is not set (EnterRootFS runs in the child of ReexecInRootFS)", rootfsScratchEnv)
	}
	if err := syscall.Mount("tmpfs", scratch, "tmpfs", 0, "mode=0700"); err != nil {
		return fmt.Errorf("mounting scratch tmpfs: %w", err)
	}
	upper, work, merged := filepath.Join(scratch, "upper"), filepath.Join(scratch, "work"), filepath.Join(scratch, "merged")
	for _, d := range []string{upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", root, upper, work)
	if err := syscall.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mounting overlay on %s: %w", root, err)
	}
	mountIn := func(src, dst, fstype string, flags uintptr) error {
		target := filepath.Join(merged, dst)
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		if err := syscall.Mount(src, target, fstype, flags, ""); err != nil {
			return fmt.Errorf("mounting %s on %s: %w", src, target, err)
		}
		return nil
	}
	if err := mountIn("proc", "/proc", "proc", 0); err != nil {
		return err
	}
	if err := mountIn("/dev", "/dev", "", syscall.MS_BIND|syscall.MS_REC); err != nil {
		return err
	}
	_ = mountIn("/sys", "/sys", "", syscall.MS_BIND|syscall.MS_REC) // best effort
	if data, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		_ = os.MkdirAll(filepath.Join(merged, "etc"), 0o755)
		_ = os.WriteFile(filepath.Join(merged, "etc", "resolv.conf"), data, 0o644)
	}
	for _, b := range binds {
		if b == "" {
			continue
		}
		abs, err := filepath.Abs(b)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return err
		}
		if err := mountIn(abs, abs, "", syscall.MS_BIND|syscall.MS_REC); err != nil {
			return err
		}
	}
	_ = syscall.Sethostname([]byte("goldsmith-toe"))
	if err := syscall.Chroot(merged); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	if err := os.MkdirAll("/tmp", 0o1777); err != nil {
		return err
	}
	return os.Setenv("TMPDIR", "/tmp")
}
