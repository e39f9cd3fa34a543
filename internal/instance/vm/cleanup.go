package vm

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cleanup kills every QEMU left behind under root (after a server crash):
// for each root/<dir>/qemu.pid whose process is a qemu-system binary whose
// command line mentions that run dir, the process gets SIGKILL. It removes
// no files. Processes that are not such QEMUs (a reused pid) are left alone.
func Cleanup(root string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("vm cleanup: %w", err)
	}
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("vm cleanup: reading %s: %w", root, err)
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		pid, ok := leftoverQEMU(dir)
		if !ok {
			continue
		}
		log.Warn("killing leftover qemu", "pid", pid, "run_dir", dir)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("vm cleanup: killing qemu %d (%s): %w", pid, dir, err))
			continue
		}
		if !waitGone(pid, 10*time.Second) {
			errs = append(errs, fmt.Errorf("vm cleanup: qemu %d (%s) still running after SIGKILL", pid, dir))
		}
	}
	return errors.Join(errs...)
}

// leftoverQEMU reads dir/qemu.pid and reports the pid when it is a live
// qemu-system process whose command line mentions dir.
func leftoverQEMU(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, PIDFileName))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(cmdline) == 0 {
		return 0, false
	}
	args := strings.Split(string(bytes.TrimRight(cmdline, "\x00")), "\x00")
	if !strings.HasPrefix(filepath.Base(args[0]), "qemu-system") {
		return 0, false
	}
	for _, a := range args[1:] {
		if strings.Contains(a, dir+string(filepath.Separator)) || strings.Contains(a, qemuOpt(dir)+string(filepath.Separator)) {
			return pid, true
		}
	}
	return 0, false
}

// waitGone polls until pid no longer runs (gone or a zombie awaiting its parent).
func waitGone(pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
