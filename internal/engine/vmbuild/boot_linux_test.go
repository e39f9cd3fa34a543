package vmbuild

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goldsmith/goldsmith/internal/agent"
	"github.com/goldsmith/goldsmith/internal/instance/vm"
)

var (
	bootRuns    = flag.Int("boot.runs", 1, "how many boots TestBootTime times (it reports the median)")
	bootConsole = flag.Bool("boot.console", false, "TestBootPhases logs every console line with its wall time")
	bootAppend  = flag.String("boot.append", "", "TestBootPhases adds these kernel parameters (e.g. GODEBUG=inittrace=1)")
)

// TestBootTime times the build instance's boot through launch: prepareBoot,
// the overlay, QEMU's start and the agent's hello. Run it with
// -boot.runs=3 -v for a median.
func TestBootTime(t *testing.T) {
	parent := miniDisk(t)
	s := testSpec(t, parent)
	var hellos, launches, cpus []time.Duration
	for i := range *bootRuns {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		stage := fmt.Sprintf("boot%d", i)
		start := time.Now()
		in, err := launch(ctx, s, parent, stage, slog.New(slog.DiscardHandler))
		total := time.Since(start)
		if err != nil {
			cancel()
			t.Fatalf("boot %d: %v", i, err)
		}
		t.Cleanup(func() { in.kill(); _ = os.RemoveAll(filepath.Dir(in.runDir)) })
		// QEMU writes its pid file before it loads the kernel.
		st, err := os.Stat(filepath.Join(in.runDir, vm.PIDFileName))
		if err != nil {
			cancel()
			t.Fatalf("boot %d: the pid file: %v", i, err)
		}
		hello := start.Add(total).Sub(st.ModTime())
		cpu, err := processCPU(in.m.PID())
		if err != nil {
			cancel()
			t.Fatalf("boot %d: %v", i, err)
		}
		if in.hello.BootCount != 1 || in.hello.Kernel == "" {
			t.Errorf("boot %d: hello %+v: want boot 1 with a kernel version", i, in.hello)
		}
		t.Logf("boot %d: launch → hello %v (prepareBoot + overlay %v, QEMU start → hello %v, QEMU CPU time %v)",
			i, total.Round(time.Millisecond), (total - hello).Round(time.Millisecond), hello.Round(time.Millisecond), cpu)
		hellos, launches, cpus = append(hellos, hello), append(launches, total), append(cpus, cpu)
		err = in.shutdown(ctx)
		cancel()
		if err != nil {
			t.Fatalf("boot %d: %v", i, err)
		}
	}
	t.Logf("median of %d: launch → hello %v, QEMU start → hello %v, QEMU CPU time %v (load average %s)", len(hellos),
		median(launches).Round(time.Millisecond), median(hellos).Round(time.Millisecond), median(cpus), loadAverage())
}

// processCPU is the user + system CPU time a process used so far: on a
// busy host it measures a boot's work better than the wall time.
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the CPU time of %d: %w", pid, err)
	}
	// The fields after the command (in parentheses): utime and stime are
	// the 12th and 13th of them, in clock ticks (USER_HZ, 100 on Linux).
	i := bytes.LastIndexByte(data, ')')
	f := strings.Fields(string(data[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format %q", pid, data)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

func loadAverage() string {
	data, _ := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// bootMarkers are the console lines TestBootPhases reports, in boot order.
var bootMarkers = []struct{ name, substr string }{
	{"kernel", "Linux version"},
	{"initramfs unpack", "unpack rootfs image as initramfs"},
	{"initramfs freed", "Freeing initrd memory"},
	{"run /init", "Run /init"},
	{"virtio_blk", "virtio_blk virtio"},
	{"root mounted", "EXT4-fs (vda"},
	{"agent up", "goldsmith agent up"},
}

// TestBootPhases boots once without quiet and with the agent's debug log,
// and reports when the console shows each boot phase, in wall time from
// QEMU's start and in the kernel's printk time.
func TestBootPhases(t *testing.T) {
	parent := miniDisk(t)
	s := testSpec(t, parent)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := filepath.Join(s.ScratchDir, "phases")
	b, err := prepareBoot(ctx, parent, s.AgentBinary, filepath.Join(dir, "boot"), false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.Append, " quiet") {
		t.Fatalf("the boot command line %q is not quiet", b.Append)
	}
	overlay := filepath.Join(dir, "disk.qcow2")
	if err := vm.CreateOverlay(ctx, parent.Path, parent.Format, overlay, 0, nil); err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(dir, "run")
	w := &consoleWatch{path: filepath.Join(runDir, vm.ConsoleLogName)}
	start := time.Now()
	m, err := vm.Start(ctx, vm.Config{
		Name: "phases", Accel: s.Accel, CPUs: s.CPUs, MemoryMiB: s.MemoryMiB,
		Drives: []vm.Drive{{Path: overlay, Format: "qcow2"}},
		Kernel: b.Kernel, Initrd: b.Initramfs,
		Append: strings.Replace(b.Append, " quiet", " printk.time=1 goldsmith.debug=1 "+*bootAppend, 1),
		RunDir: runDir, Limit: 3 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Kill() })
	stop := w.watch(start)
	conn, err := m.AgentConn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := agent.NewClient(conn, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Hello(ctx); err != nil {
		t.Fatalf("hello: %v\nconsole:\n%s", err, m.ConsoleTail(30))
	}
	hello := time.Since(start)
	time.Sleep(50 * time.Millisecond) // the last console lines
	lines := stop()
	if *bootConsole {
		for _, l := range lines {
			t.Logf("%6.2fs %s", l.at.Seconds(), l.text)
		}
	}
	for _, mk := range bootMarkers {
		found := false
		for _, l := range lines {
			if strings.Contains(l.text, mk.substr) {
				t.Logf("%-17s wall %6.2fs  printk %s", mk.name, l.at.Seconds(), printkTime(l.text))
				found = true
				break
			}
		}
		if !found {
			t.Logf("%-17s (not on the console)", mk.name)
		}
	}
	t.Logf("%-17s wall %6.2fs", "hello", hello.Seconds())
	if err := c.Poweroff(ctx); err != nil {
		t.Fatalf("poweroff: %v", err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatalf("waiting for the power-off: %v", err)
	}
}

// printkTime is the [seconds] prefix of a console line, if any.
func printkTime(line string) string {
	if !strings.HasPrefix(line, "[") {
		return "-"
	}
	if i := strings.Index(line, "]"); i > 0 {
		return strings.TrimSpace(line[1:i]) + "s"
	}
	return "-"
}

// consoleWatch polls a growing console log and notes, for each line, the
// wall time since start at which it was first seen (within a few ms).
type consoleWatch struct {
	path  string
	mu    sync.Mutex
	lines []consoleLine
}

type consoleLine struct {
	at   time.Duration
	text string
}

// watch polls until the returned stop is called; stop returns the lines.
func (w *consoleWatch) watch(start time.Time) (stop func() []consoleLine) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var off int64
		var partial []byte
		for {
			if data, err := os.ReadFile(w.path); err == nil && int64(len(data)) > off {
				at := time.Since(start)
				partial = append(partial, data[off:]...)
				off = int64(len(data))
				for {
					i := bytes.IndexByte(partial, '\n')
					if i < 0 {
						break
					}
					w.mu.Lock()
					w.lines = append(w.lines, consoleLine{at: at, text: strings.TrimRight(string(partial[:i]), "\r")})
					w.mu.Unlock()
					partial = partial[i+1:]
				}
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() []consoleLine {
		close(done)
		<-finished
		w.mu.Lock()
		defer w.mu.Unlock()
		return slices.Clone(w.lines)
	}
}
