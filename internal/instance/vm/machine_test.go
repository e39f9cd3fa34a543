package vm

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBootAgentSerialRoundTrip(t *testing.T) {
	kernel, mods := requireQEMU(t)
	const oneWay = 256 << 10
	initrd := tinyInitrd(t, mods, nil, `
exec 3<>/dev/ttyS1
stty -F /dev/ttyS1 raw -echo
echo AGENT-READY >&3
head -c `+itoa(oneWay)+` /dev/zero >&3
cat <&3 >&3
`)
	begin := time.Now()
	m := startTiny(t, Config{Name: "serial", Kernel: kernel, Initrd: initrd})
	t.Logf("Start returned after %s", time.Since(begin))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := m.AgentConn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReaderSize(conn, 64<<10)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading AGENT-READY: %v; console:\n%s", err, m.ConsoleTail(20))
	}
	if strings.TrimSpace(line) != "AGENT-READY" {
		t.Fatalf("first agent line = %q", line)
	}
	t.Logf("agent ready %s after start", time.Since(begin))
	waitConsole(t, m, "GOLDSMITH-BOOTED", time.Second)

	// Guest → host.
	t0 := time.Now()
	got, err := io.ReadAll(io.LimitReader(r, oneWay))
	if err != nil || len(got) != oneWay {
		t.Fatalf("guest→host: %d bytes, %v", len(got), err)
	}
	if !bytes.Equal(got, make([]byte, oneWay)) {
		t.Fatal("guest→host bytes are not all zero")
	}
	d := time.Since(t0)
	t.Logf("serial guest→host: %d bytes in %s = %.0f KiB/s", oneWay, d, float64(oneWay)/d.Seconds()/1024)

	// Host → guest → host echo of random bytes.
	const echo = 64 << 10
	payload := make([]byte, echo)
	_, _ = rand.Read(payload)
	t0 = time.Now()
	werr := make(chan error, 1)
	go func() { _, err := conn.Write(payload); werr <- err }()
	back := make([]byte, echo)
	if _, err := io.ReadFull(r, back); err != nil {
		t.Fatalf("echo: %v; console:\n%s", err, m.ConsoleTail(20))
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	d = time.Since(t0)
	if !bytes.Equal(back, payload) {
		t.Fatal("echoed bytes differ")
	}
	t.Logf("serial echo: %d bytes each way in %s = %.0f KiB/s", echo, d, float64(echo)/d.Seconds()/1024)
}

// TestPowerdown: the guest opens the power button's event device before it
// says it waits (an event sent before the device is open is lost).
func TestPowerdown(t *testing.T) {
	kernel, mods := requireQEMU(t)
	initrd := tinyInitrd(t, mods, []string{"button", "evdev"}, `
for e in /sys/class/input/event*; do grep -q "Power Button" $e/device/name && dev=/dev/input/${e##*/}; done
exec 3<$dev
echo WAITING-POWER $dev
dd of=/dev/null bs=24 count=1 <&3 2>/dev/null
echo POWER-BUTTON`)
	m := startTiny(t, Config{Name: "powerdown", Kernel: kernel, Initrd: initrd})
	waitConsole(t, m, "WAITING-POWER /dev/input/event", 60*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := m.Powerdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatalf("Wait: %v; console:\n%s", err, m.ConsoleTail(20))
	}
	t.Logf("powerdown → exit in %s", time.Since(t0))
	if !strings.Contains(m.ConsoleTail(5), "POWER-BUTTON") {
		t.Errorf("console tail lacks POWER-BUTTON:\n%s", m.ConsoleTail(5))
	}
	if err := m.Powerdown(ctx); err == nil {
		t.Error("Powerdown after exit succeeded")
	}
}

func TestTimeLimitAndCancel(t *testing.T) {
	kernel, mods := requireQEMU(t)
	initrd := tinyInitrd(t, mods, nil, "sleep 1000")
	tests := []struct {
		name  string
		limit time.Duration
		wait  time.Duration
		want  error
	}{
		{name: "limit", limit: 1500 * time.Millisecond, wait: 60 * time.Second, want: ErrTimeLimit},
		{name: "cancel", wait: 1500 * time.Millisecond, want: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := startTiny(t, Config{Name: tt.name, Kernel: kernel, Initrd: initrd, Limit: tt.limit})
			ctx, cancel := context.WithTimeout(context.Background(), tt.wait)
			defer cancel()
			err := m.Wait(ctx)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Wait = %v, want %v", err, tt.want)
			}
			select {
			case <-m.Done():
			default:
				t.Fatal("Done not closed after Wait returned")
			}
			assertGone(t, m.PID())
			if err := m.Kill(); err != nil {
				t.Errorf("second Kill: %v", err)
			}
		})
	}
}

func TestStartFailureShowsStderr(t *testing.T) {
	requireTool(t, "qemu-system-x86_64")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Start(ctx, Config{Accel: "tcg", RunDir: t.TempDir(), Kernel: filepath.Join(t.TempDir(), "missing-vmlinuz")})
	if err == nil || !strings.Contains(err.Error(), "missing-vmlinuz") {
		t.Fatalf("Start with a missing kernel = %v, want QEMU's complaint naming the file", err)
	}
}

func TestCleanupKillsLeftoverQEMU(t *testing.T) {
	kernel, mods := requireQEMU(t)
	initrd := tinyInitrd(t, mods, nil, "sleep 1000")
	root := t.TempDir()
	m := startTiny(t, Config{Name: "crashed", Kernel: kernel, Initrd: initrd, RunDir: filepath.Join(root, "build-1")})
	// A decoy: a pid file pointing at a process that is not QEMU.
	decoy := exec.Command("sleep", "60")
	if err := decoy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = decoy.Process.Kill(); _ = decoy.Wait() })
	if err := os.MkdirAll(filepath.Join(root, "build-2"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "build-2", PIDFileName), []byte(itoa(decoy.Process.Pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Cleanup(root, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("QEMU still running after Cleanup")
	}
	if decoy.ProcessState != nil {
		t.Fatal("decoy exited")
	}
	if err := decoy.Process.Signal(syscallZero); err != nil {
		t.Fatalf("Cleanup killed the decoy: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "build-2", PIDFileName)); err != nil {
		t.Errorf("Cleanup removed a file: %v", err)
	}
}
