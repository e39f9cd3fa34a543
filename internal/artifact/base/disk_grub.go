package base

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goldsmith/goldsmith/internal/instance/vm"
)

// grubMarker starts the line the GRUB builder VM prints when it is done;
// grubOK is the whole line on success. The kernel command line holds
// "rc=$?", never "rc=0", so its echo on the console cannot pass for it.
const (
	grubMarker = "goldsmith-grub rc="
	grubOK     = grubMarker + "0"
)

// grubVM is the GRUB builder VM's setup.
type grubVM struct {
	Accel   string
	Raw     string // the raw disk; partition 1 holds the root filesystem
	Kernel  string // the image's own kernel and initramfs
	Initrd  string
	FSUUID  string // UUID of partition 1's filesystem
	RunDir  string
	Limit   time.Duration
	Logger  *slog.Logger
	Console int // console lines quoted in errors
}

// grubScript is the shell script the builder VM runs as init (from the
// image's root filesystem, /dev/vda1, mounted read-write by the image's
// initramfs): GRUB into the MBR of /dev/vda and a grub.cfg that finds the
// root by filesystem UUID, then a clean power-off. It must not contain a
// double quote (it travels inside one on the kernel command line).
func grubScript(fsUUID string) string {
	return strings.Join([]string{
		"export PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"mountpoint -q /proc || mount -t proc proc /proc",
		"mountpoint -q /sys || mount -t sysfs sysfs /sys",
		"mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev",
		// No udev here: the link lets grub-mkconfig write root=UUID=...
		"mkdir -p /dev/disk/by-uuid",
		"ln -sf ../../vda1 /dev/disk/by-uuid/" + fsUUID,
		"grub-install --target=i386-pc /dev/vda && update-grub",
		"echo " + grubMarker + "$?",
		"sync",
		"mount -o remount,ro /",
		"sync",
		"echo o > /proc/sysrq-trigger",
	}, "; ")
}

// grubAppend is the builder VM's kernel command line.
func grubAppend(fsUUID string) string {
	return `root=/dev/vda1 rw console=ttyS0 quiet panic=-1 init=/bin/sh -- -c "` + grubScript(fsUUID) + `"`
}

// installGrub boots the builder VM and checks on its console that
// grub-install and update-grub succeeded.
func installGrub(ctx context.Context, g grubVM) error {
	// The console log is appended to: start from an empty one.
	consoleLog := filepath.Join(g.RunDir, vm.ConsoleLogName)
	if err := os.Remove(consoleLog); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("grub builder VM: %w", err)
	}
	m, err := vm.Start(ctx, vm.Config{
		Name:      "grub-builder",
		Accel:     g.Accel,
		CPUs:      2,
		MemoryMiB: 1024,
		Drives:    []vm.Drive{{Path: g.Raw, Format: "raw"}},
		Kernel:    g.Kernel,
		Initrd:    g.Initrd,
		Append:    grubAppend(g.FSUUID),
		RunDir:    g.RunDir,
		Limit:     g.Limit,
		NoReboot:  true,
		Logger:    g.Logger,
	})
	if err != nil {
		return fmt.Errorf("grub builder VM: %w", err)
	}
	defer func() { _ = m.Kill() }()
	waitErr := m.Wait(ctx)
	console, readErr := os.ReadFile(consoleLog)
	if readErr != nil {
		console = []byte(m.ConsoleTail(500))
	}
	if waitErr != nil {
		return fmt.Errorf("grub builder VM: %w; console:\n%s", waitErr, m.ConsoleTail(g.Console))
	}
	status := grubStatus(string(console))
	if status != grubOK {
		if status == "" {
			status = "no " + grubMarker + " line"
		}
		return fmt.Errorf("grub builder VM: grub-install/update-grub failed (%s); console:\n%s", status, m.ConsoleTail(g.Console))
	}
	return nil
}

// grubStatus returns the builder VM's status line from its console log
// ("goldsmith-grub rc=N"), "" when there is none.
func grubStatus(console string) string {
	for _, line := range strings.Split(console, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, grubMarker) && !strings.Contains(line, "$") {
			return line
		}
	}
	return ""
}
