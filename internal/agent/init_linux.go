package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// rootMount is where Init mounts the image's root filesystem.
const rootMount = "/root"

// initSystem is the PID 1 agent: what it mounted, for the shutdown.
type initSystem struct {
	log    *slog.Logger
	params BootConfig
	mounts []string // mount points, in mount order
	procs  *procTable
	resolv *resolvBackup
}

// Init is the PID 1 path of the agent in a build VM's initramfs (see the
// package doc and KernelArgs). It returns only on failure (the caller
// should then power off).
func Init() error {
	s := &initSystem{log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})), procs: newProcTable()}
	if err := s.earlyMounts(); err != nil {
		return err
	}
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return fmt.Errorf("reading the kernel command line: %w", err)
	}
	if s.params, err = ParseKernelArgs(string(cmdline)); err != nil {
		return err
	}
	if s.params.Debug {
		s.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	go s.reaper()
	start := time.Now()
	if err := s.loadModules(); err != nil {
		return err
	}
	if err := s.mountRoot(); err != nil {
		return err
	}
	if err := s.bindSelf(filepath.Join(rootMount, GuestBinary)); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(s.params.Hostname)); err != nil {
		s.log.Warn("setting the hostname", "err", err)
	}
	if err := setLinkUp("lo"); err != nil {
		s.log.Warn("bringing up lo", "err", err)
	}
	if s.params.Network {
		if err := s.network(); err != nil {
			s.log.Error("network setup failed; continuing without network", "err", err)
		}
	}
	boot := s.bootCount()
	s.log.Info("goldsmith agent up", "boot", boot, "setup", time.Since(start).Round(time.Millisecond))
	opts := ServeOptions{Root: rootMount, Chroot: true, Binary: GuestBinary, BootCount: boot, Logger: s.log, procs: s.procs,
		Reboot:   func(context.Context) error { return s.shutdown(unix.LINUX_REBOOT_CMD_RESTART) },
		Poweroff: func(context.Context) error { return s.shutdown(unix.LINUX_REBOOT_CMD_POWER_OFF) },
	}
	for {
		port, err := openSerial(s.params.Port, s.log)
		if err != nil {
			s.log.Error("opening the agent port", "port", s.params.Port, "err", err)
			time.Sleep(time.Second)
			continue
		}
		err = Serve(context.Background(), port, opts)
		port.Close()
		s.log.Warn("agent protocol ended; serving again", "err", err)
		opts.Kernel = "" // re-read
		time.Sleep(100 * time.Millisecond)
	}
}

// earlyMounts mounts /proc, /sys, /dev, /dev/pts and /dev/shm of the
// initramfs.
func (s *initSystem) earlyMounts() error {
	for _, m := range []struct{ src, dst, fstype, data string }{
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"devtmpfs", "/dev", "devtmpfs", "mode=0755"},
		{"devpts", "/dev/pts", "devpts", "gid=5,mode=620,ptmxmode=666"},
		{"tmpfs", "/dev/shm", "tmpfs", "mode=1777"},
		{"tmpfs", "/run", "tmpfs", "mode=0755"},
	} {
		if err := os.MkdirAll(m.dst, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", m.dst, err)
		}
		if err := unix.Mount(m.src, m.dst, m.fstype, unix.MS_NOSUID, m.data); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mounting %s: %w", m.dst, err)
		}
	}
	return nil
}

// loadModules loads ModuleOrderFile's modules in order.
func (s *initSystem) loadModules() error {
	data, err := os.ReadFile(ModuleOrderFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the module list: %w", err)
	}
	for _, name := range strings.Fields(string(data)) {
		if err := loadModule(path.Join(ModulesDir, name)); err != nil {
			return err
		}
		s.log.Debug("module loaded", "module", name)
	}
	return nil
}

func loadModule(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("loading module: %w", err)
	}
	defer f.Close()
	flags := 0
	if strings.HasSuffix(p, ".xz") || strings.HasSuffix(p, ".zst") || strings.HasSuffix(p, ".gz") {
		flags = unix.MODULE_INIT_COMPRESSED_FILE
	}
	if err := unix.FinitModule(int(f.Fd()), "", flags); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("loading module %s: %w", path.Base(p), err)
	}
	return nil
}

// mountRoot waits for the root device, mounts it at /root and the API
// filesystems into it.
func (s *initSystem) mountRoot() error {
	deadline := time.Now().Add(s.params.RootWait)
	for {
		if _, err := os.Stat(s.params.Root); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("root device %s did not appear within %s", s.params.Root, s.params.RootWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := unix.Mount(s.params.Root, rootMount, s.params.RootFSType, 0, ""); err != nil {
		return fmt.Errorf("mounting %s (%s) at %s: %w", s.params.Root, s.params.RootFSType, rootMount, err)
	}
	s.mounts = append(s.mounts, rootMount)
	for _, m := range []struct {
		src, dst, fstype string
		flags            uintptr
		data             string
	}{
		{"proc", "proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"sysfs", "sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"/dev", "dev", "", unix.MS_BIND | unix.MS_REC, ""},
		{"tmpfs", "run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
	} {
		dst := filepath.Join(rootMount, m.dst)
		if fi, err := os.Lstat(dst); err != nil || !fi.IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", dst, err)
			}
		}
		if err := unix.Mount(m.src, dst, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("mounting %s: %w", dst, err)
		}
		s.mounts = append(s.mounts, dst)
	}
	// /run/lock and /run/shm are expected by some packages' scripts.
	for _, d := range []string{"run/lock", "run/goldsmith"} {
		_ = os.MkdirAll(filepath.Join(rootMount, d), 0o755)
	}
	return nil
}

// bootCount counts the boots of this build on the image's disk.
func (s *initSystem) bootCount() int {
	p := filepath.Join(rootMount, JobsDir, "boot-count")
	n := 0
	if data, err := os.ReadFile(p); err == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(string(data)))
	}
	n++
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err == nil {
		if err := writeFileSync(p, []byte(strconv.Itoa(n)+"\n")); err != nil {
			s.log.Warn("recording the boot count", "err", err)
		}
	}
	return n
}

// reaper reaps orphaned zombies (Init is PID 1).
func (s *initSystem) reaper() {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, syscall.SIGCHLD)
	t := time.NewTicker(5 * time.Second)
	for {
		select {
		case <-ch:
		case <-t.C:
		}
		s.procs.reap()
	}
}

// shutdown kills every process, restores resolv.conf, syncs, unmounts the
// root tree and powers off or restarts. It returns only on failure.
func (s *initSystem) shutdown(cmd int) error {
	s.log.Info("shutting down", "restart", cmd == unix.LINUX_REBOOT_CMD_RESTART)
	// Every process but PID 1 gets SIGTERM and up to half a second to
	// end (kill(-1) fails with ESRCH once none is left), then SIGKILL.
	if unix.Kill(-1, unix.SIGTERM) == nil {
		for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); {
			if errors.Is(unix.Kill(-1, 0), unix.ESRCH) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = unix.Kill(-1, unix.SIGKILL)
	}
	if s.resolv != nil {
		if err := s.resolv.restore(); err != nil {
			s.log.Warn("restoring resolv.conf", "err", err)
		}
	}
	unix.Sync()
	for _, m := range slices.Backward(s.mounts) {
		if m != rootMount {
			// Kernel file systems (proc, sys, dev, run) hold no data:
			// detach them at once rather than wait for a busy one.
			_ = unix.Unmount(m, unix.MNT_DETACH)
			continue
		}
		var err error
		for try := 0; try < 10; try++ {
			if err = unix.Unmount(m, 0); err == nil || errors.Is(err, unix.EINVAL) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil && !errors.Is(err, unix.EINVAL) {
			s.log.Warn("unmounting; detaching lazily", "mount", m, "err", err)
			if m == rootMount {
				_ = unix.Mount("", rootMount, "", unix.MS_REMOUNT|unix.MS_RDONLY, "")
			}
			_ = unix.Unmount(m, unix.MNT_DETACH)
		}
	}
	unix.Sync()
	return unix.Reboot(cmd)
}

// openSerial opens the agent's serial port raw (8-bit, no echo, no CR/LF
// translation, no flow control) at the highest speed the driver accepts,
// and drops input that arrived before.
func openSerial(dev string, log *slog.Logger) (*os.File, error) {
	f, err := os.OpenFile(dev, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", dev, err)
	}
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: reading termios: %w", dev, err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF | unix.IXANY
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CRTSCTS
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	speed := uint32(0)
	for _, b := range []uint32{unix.B4000000, unix.B921600, unix.B460800, unix.B230400, unix.B115200} {
		t.Cflag = t.Cflag&^unix.CBAUD | b
		t.Ispeed, t.Ospeed = b, b
		if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
			continue
		}
		if got, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil && got.Cflag&unix.CBAUD == b {
			speed = b
			break
		}
	}
	if speed == 0 {
		f.Close()
		return nil, fmt.Errorf("%s: no baud rate accepted", dev)
	}
	_ = unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIFLUSH)
	log.Debug("agent port open", "port", dev, "cbaud", fmt.Sprintf("%#o", speed))
	return f, nil
}

// bindSelf makes the running binary visible at dst (on the tmpfs that
// mountRoot mounts on the image's /run) with a read-only file bind mount:
// nothing is copied, and commands in the image cannot change the agent.
func (s *initSystem) bindSelf(dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(dst), err)
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		return fmt.Errorf("creating the agent's mount point %s: %w", dst, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("creating the agent's mount point %s: %w", dst, err)
	}
	if err := unix.Mount("/proc/self/exe", dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mounting the agent at %s: %w", dst, err)
	}
	s.mounts = append(s.mounts, dst)
	if err := unix.Mount("", dst, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("making the agent's bind mount %s read-only: %w", dst, err)
	}
	return nil
}
