package container

import (
	"bufio"
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

const (
	crashHelperEnv  = "GOLDSMITH_CONTAINER_CRASH_HELPER"
	crashScratchEnv = "GOLDSMITH_CONTAINER_CRASH_SCRATCH"
	crashLowerEnv   = "GOLDSMITH_CONTAINER_CRASH_LOWER"
)

// TestCrashHelper is the "server" that TestCleanupAfterKill9 kills: it
// opens a sandbox, starts `sleep 100` in it and reports the container id.
func TestCrashHelper(t *testing.T) {
	if os.Getenv(crashHelperEnv) != "1" {
		t.Skip("helper process of TestCleanupAfterKill9")
	}
	scratch := os.Getenv(crashScratchEnv)
	s, err := Open(context.Background(), Options{Lowers: []string{os.Getenv(crashLowerEnv)}, ScratchDir: filepath.Join(scratch, "build", "run-1")})
	if err != nil {
		fmt.Println("error", err)
		return
	}
	go s.Run(context.Background(), Process{Args: []string{"sleep", "100"}})
	for {
		if ids, _ := listContainers(context.Background(), scratch); len(ids) > 0 {
			fmt.Println("ready", ids[0])
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {} // until killed
}

// TestCleanupAfterKill9 kills a process that has a sandbox running with
// SIGKILL (no Close, no deferred cleanup), then checks that Cleanup leaves
// no container, runc process, mount or directory behind.
func TestCleanupAfterKill9(t *testing.T) {
	requireSandbox(t)
	lower := busyboxRootFS(t)
	scratchRoot := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashHelperEnv+"=1", crashScratchEnv+"="+scratchRoot, crashLowerEnv+"="+lower)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready ") || strings.HasPrefix(sc.Text(), "error ") {
				lines <- sc.Text()
				return
			}
		}
		close(lines)
	}()
	var id string
	select {
	case line, ok := <-lines:
		if !ok || !strings.HasPrefix(line, "ready ") {
			_ = cmd.Process.Kill()
			t.Fatalf("helper: %q", line)
		}
		id = strings.TrimPrefix(line, "ready ")
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the helper did not start its sandbox")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	// the "server" is gone; its container, runc and mount are not
	if ids, _ := listContainers(context.Background(), scratchRoot); len(ids) != 1 {
		t.Fatalf("containers after the crash: %v", ids)
	}
	if err := Cleanup(context.Background(), scratchRoot); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	assertNoLeftovers(t, scratchRoot)
	deadline := time.Now().Add(10 * time.Second)
	for len(processesMentioning(t, id)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("processes left: %v", processesMentioning(t, id))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(scratchRoot, "build")); err != nil {
		t.Fatalf("Cleanup removed the build directory that no sandbox owns: %v", err)
	}
}

// processesMentioning lists the pids whose command line contains s.
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, d := range dirs {
		data, err := os.ReadFile(d)
		if err == nil && strings.Contains(string(data), s) {
			pids = append(pids, filepath.Base(filepath.Dir(d)))
		}
	}
	return pids
}
