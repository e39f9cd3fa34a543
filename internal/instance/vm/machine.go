package vm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/goldsmith/goldsmith/internal/tailbuf"
)

// ErrTimeLimit is returned by Wait when QEMU was killed because
// Config.Limit passed.
var ErrTimeLimit = errors.New("build instance killed: wall-clock time limit reached")

// Drive is one virtio-blk disk.
type Drive struct {
	Path     string
	Format   string // "qcow2" or "raw"
	ReadOnly bool
	Secret   []byte // passphrase of a LUKS-encrypted qcow2 (encrypt.format=luks); nil = none
}

// Config describes one QEMU build instance.
type Config struct {
	Name      string        // for logs
	Accel     string        // "kvm" | "tcg" (already resolved, see DetectAccel)
	CPUs      int           // default 2
	MemoryMiB int           // default 1024
	Drives    []Drive       // virtio-blk, in order (vda, vdb, ...)
	Kernel    string        // direct kernel boot when set
	Initrd    string        // initramfs for direct kernel boot
	Append    string        // kernel command line
	Network   bool          // slirp user networking with virtio-net (no host forwards); else no NIC
	RunDir    string        // private dir, created: agent.sock, qmp.sock, console.log, qemu.pid
	Limit     time.Duration // wall-clock limit (0 = none): QEMU is killed when it passes
	NoReboot  bool          // a guest reboot ends QEMU instead of resetting the VM
	Binary    string        // default "qemu-system-x86_64"
	Logger    *slog.Logger
}

// Files in Config.RunDir.
const (
	AgentSocketName = "agent.sock"  // serial1 (guest /dev/ttyS1), unix socket server
	QMPSocketName   = "qmp.sock"    // QMP control socket
	ConsoleLogName  = "console.log" // serial0 (guest /dev/ttyS0), appended
	PIDFileName     = "qemu.pid"    // written by QEMU; read by Cleanup
)

// Machine is a running QEMU process.
type Machine struct {
	cfg      Config
	log      *slog.Logger
	cmd      *exec.Cmd
	stderr   *tailbuf.Buffer
	done     chan struct{}
	exitErr  error // set before done is closed
	timedOut atomic.Bool
	killed   atomic.Bool
	limit    *time.Timer
	secrets  []string
	cleanMu  sync.Mutex
}

// Start launches QEMU and returns once its QMP socket answers. ctx bounds
// only the start-up: when it ends first, QEMU is killed and reaped. On
// failure the error includes the tail of QEMU's stderr.
func Start(ctx context.Context, cfg Config) (*Machine, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.RunDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating run dir: %w", err)
	}
	for _, n := range []string{AgentSocketName, QMPSocketName, PIDFileName} {
		if err := os.Remove(filepath.Join(cfg.RunDir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("removing stale %s: %w", n, err)
		}
	}
	m := &Machine{cfg: cfg, log: cfg.Logger.With("vm", cfg.Name), stderr: tailbuf.New(16 << 10), done: make(chan struct{})}
	args, err := m.args()
	if err != nil {
		m.removeSecrets()
		return nil, err
	}
	m.cmd = exec.Command(cfg.Binary, args...)
	m.cmd.Stdin = nil // /dev/null
	m.cmd.Stdout = m.stderr
	m.cmd.Stderr = m.stderr
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	m.cmd.Dir = cfg.RunDir
	begin := time.Now()
	if err := m.cmd.Start(); err != nil {
		m.removeSecrets()
		return nil, fmt.Errorf("starting %s: %w", cfg.Binary, err)
	}
	m.log.Info("qemu started", "pid", m.cmd.Process.Pid, "accel", cfg.Accel, "cpus", cfg.CPUs, "memory_mib", cfg.MemoryMiB, "run_dir", cfg.RunDir)
	go m.reap()
	if cfg.Limit > 0 {
		m.limit = time.AfterFunc(cfg.Limit, func() {
			m.timedOut.Store(true)
			m.log.Warn("qemu time limit reached; killing", "limit", cfg.Limit)
			m.signalGroup()
		})
	}
	if err := m.waitQMP(ctx); err != nil {
		_ = m.Kill()
		return nil, fmt.Errorf("starting qemu %s: %w%s", cfg.Name, err, m.stderrSuffix())
	}
	m.removeSecrets()
	m.log.Debug("qemu ready", "elapsed", time.Since(begin))
	return m, nil
}

func (c *Config) defaults() error {
	if c.Accel != "kvm" && c.Accel != "tcg" {
		return fmt.Errorf("vm config: accelerator %q must be kvm or tcg (resolve auto with DetectAccel)", c.Accel)
	}
	if c.RunDir == "" {
		return errors.New("vm config: RunDir is required")
	}
	abs, err := filepath.Abs(c.RunDir)
	if err != nil {
		return fmt.Errorf("vm config: run dir: %w", err)
	}
	c.RunDir = abs
	// sun_path holds 107 bytes plus NUL.
	if n := len(filepath.Join(abs, AgentSocketName)); n > 107 {
		return fmt.Errorf("vm config: run dir %s is too long for unix sockets (%d > 107 bytes)", abs, n)
	}
	if c.CPUs <= 0 {
		c.CPUs = 2
	}
	if c.MemoryMiB <= 0 {
		c.MemoryMiB = 1024
	}
	if c.Binary == "" {
		c.Binary = "qemu-system-x86_64"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Name == "" {
		c.Name = filepath.Base(c.RunDir)
	}
	if c.Initrd != "" && c.Kernel == "" {
		return errors.New("vm config: Initrd needs Kernel")
	}
	for i, d := range c.Drives {
		if d.Format != "qcow2" && d.Format != "raw" {
			return fmt.Errorf("vm config: drive %d (%s): format %q must be qcow2 or raw", i, d.Path, d.Format)
		}
		if d.Secret != nil && d.Format != "qcow2" {
			return fmt.Errorf("vm config: drive %d (%s): a secret needs a LUKS qcow2", i, d.Path)
		}
	}
	return nil
}

// qemuOpt escapes a value for QEMU's comma-separated option syntax.
func qemuOpt(v string) string { return strings.ReplaceAll(v, ",", ",,") }

func (m *Machine) args() ([]string, error) {
	c := m.cfg
	cpu := "max"
	if c.Accel == "kvm" {
		cpu = "host"
	}
	run := func(n string) string { return qemuOpt(filepath.Join(c.RunDir, n)) }
	a := []string{
		"-name", qemuOpt(c.Name),
		"-accel", c.Accel, "-cpu", cpu,
		"-m", strconv.Itoa(c.MemoryMiB), "-smp", strconv.Itoa(c.CPUs),
		"-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none",
		"-chardev", "file,id=console,append=on,path=" + run(ConsoleLogName),
		"-serial", "chardev:console",
		"-chardev", "socket,id=agent,server=on,wait=off,path=" + run(AgentSocketName),
		"-serial", "chardev:agent",
		"-chardev", "socket,id=qmp,server=on,wait=off,path=" + run(QMPSocketName),
		"-mon", "chardev=qmp,mode=control",
		"-pidfile", filepath.Join(c.RunDir, PIDFileName),
	}
	if c.Network {
		a = append(a, "-nic", "user,model=virtio-net-pci")
	} else {
		a = append(a, "-nic", "none")
	}
	for i, d := range c.Drives {
		opt := "file=" + qemuOpt(d.Path) + ",if=virtio,format=" + d.Format + ",discard=unmap"
		if d.ReadOnly {
			opt += ",readonly=on"
		}
		if d.Secret != nil {
			id := fmt.Sprintf("sec%d", i)
			f, err := writeSecret(c.RunDir, d.Secret)
			if err != nil {
				return nil, err
			}
			m.secrets = append(m.secrets, f)
			a = append(a, "-object", "secret,id="+id+",format=raw,file="+qemuOpt(f))
			opt += ",encrypt.key-secret=" + id
		}
		a = append(a, "-drive", opt)
	}
	if c.Kernel != "" {
		a = append(a, "-kernel", c.Kernel)
		if c.Initrd != "" {
			a = append(a, "-initrd", c.Initrd)
		}
		if c.Append != "" {
			a = append(a, "-append", c.Append)
		}
	}
	if c.NoReboot {
		a = append(a, "-no-reboot")
	}
	return a, nil
}

func (m *Machine) reap() {
	err := m.cmd.Wait()
	if m.limit != nil {
		m.limit.Stop()
	}
	m.exitErr = err
	m.removeSecrets()
	_ = os.Remove(filepath.Join(m.cfg.RunDir, PIDFileName))
	m.log.Info("qemu exited", "err", err, "time_limit", m.timedOut.Load(), "killed", m.killed.Load())
	close(m.done)
}

func (m *Machine) waitQMP(ctx context.Context) error {
	path := filepath.Join(m.cfg.RunDir, QMPSocketName)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if _, err := os.Stat(path); err == nil {
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			c, err := dialQMP(dctx, path)
			cancel()
			if err == nil {
				_ = c.Close()
				return nil
			}
			last = err
		}
		select {
		case <-m.done:
			return fmt.Errorf("qemu exited during start-up (%v)", m.exitErr)
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waiting for QMP: %w (last: %v)", ctx.Err(), last)
			}
			return fmt.Errorf("waiting for QMP: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// AgentConn dials the agent socket (guest /dev/ttyS1), retrying until it
// exists, QEMU exits or ctx ends. Only one connection at a time is served.
func (m *Machine) AgentConn(ctx context.Context) (net.Conn, error) {
	path := filepath.Join(m.cfg.RunDir, AgentSocketName)
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "unix", path)
		if err == nil {
			return conn, nil
		}
		select {
		case <-m.done:
			return nil, fmt.Errorf("dialing agent socket: qemu exited: %w", err)
		case <-ctx.Done():
			return nil, fmt.Errorf("dialing agent socket %s: %w (%w)", path, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Wait blocks until QEMU exits: nil on exit status 0, ErrTimeLimit when
// Config.Limit killed it, ctx.Err() (after killing and reaping it) when
// ctx ends first, else an error with the tail of QEMU's stderr.
func (m *Machine) Wait(ctx context.Context) error {
	select {
	case <-m.done:
	case <-ctx.Done():
		_ = m.Kill()
		return ctx.Err()
	}
	switch {
	case m.timedOut.Load():
		return fmt.Errorf("%w (%s)", ErrTimeLimit, m.cfg.Limit)
	case m.exitErr == nil:
		return nil
	case m.killed.Load():
		return fmt.Errorf("qemu %s was killed", m.cfg.Name)
	default:
		return fmt.Errorf("qemu %s: %w%s", m.cfg.Name, m.exitErr, m.stderrSuffix())
	}
}

// Done is closed once QEMU has exited and been reaped.
func (m *Machine) Done() <-chan struct{} { return m.done }

// PID is QEMU's process id (also its process group id).
func (m *Machine) PID() int { return m.cmd.Process.Pid }

// RunDir is the machine's private directory (absolute).
func (m *Machine) RunDir() string { return m.cfg.RunDir }

// Powerdown presses the ACPI power button (QMP system_powerdown); the guest
// decides whether to shut down. Use Wait to see QEMU exit.
func (m *Machine) Powerdown(ctx context.Context) error {
	return m.qmp(ctx, "system_powerdown")
}

func (m *Machine) qmp(ctx context.Context, command string) error {
	select {
	case <-m.done:
		return fmt.Errorf("qmp %s: qemu %s has exited", command, m.cfg.Name)
	default:
	}
	c, err := dialQMP(ctx, filepath.Join(m.cfg.RunDir, QMPSocketName))
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.execute(ctx, command, nil); err != nil {
		return err
	}
	return nil
}

// Kill sends SIGKILL to QEMU's process group and waits until it is
// reaped. It is idempotent and safe after QEMU has exited.
func (m *Machine) Kill() error {
	select {
	case <-m.done:
		return nil
	default:
	}
	m.killed.Store(true)
	m.signalGroup()
	<-m.done
	return nil
}

func (m *Machine) signalGroup() {
	pid := m.cmd.Process.Pid
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		m.log.Warn("killing qemu process group", "pid", pid, "err", err)
		_ = m.cmd.Process.Kill()
	}
}

// ConsoleTail returns the last n lines of the guest console (serial0).
func (m *Machine) ConsoleTail(n int) string {
	return fileTail(filepath.Join(m.cfg.RunDir, ConsoleLogName), n)
}

func (m *Machine) stderrSuffix() string {
	s := strings.TrimSpace(m.stderr.String())
	if s == "" {
		return ""
	}
	return "; qemu stderr: " + s
}

func (m *Machine) removeSecrets() {
	m.cleanMu.Lock()
	defer m.cleanMu.Unlock()
	for _, f := range m.secrets {
		_ = os.Remove(f)
	}
	m.secrets = nil
}

// fileTail returns the last n lines of a file (reading at most its last 64 KiB).
func fileTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const max = 64 << 10
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := st.Size() - max
	if off < 0 {
		off = 0
	}
	b, err := io.ReadAll(io.NewSectionReader(f, off, max))
	if err != nil {
		return ""
	}
	return lastLines(string(b), n)
}

func lastLines(s string, n int) string {
	s = strings.TrimRight(strings.ReplaceAll(s, "\r", ""), "\n")
	if n <= 0 || s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
