package base

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/goldsmith/goldsmith/internal/mountinfo"
	"github.com/goldsmith/goldsmith/internal/tailbuf"
)

// DiskPackages are the packages mmdebstrap installs on top of minbase for
// the bootable disk image: an init system, the cloud kernel, GRUB for BIOS,
// networking by ifupdown and DHCP, SSH and cloud-init. sudo is there so that
// cloud-init's default user (with its sudoers rule) can administer the
// machine, since root's account is locked.
var DiskPackages = []string{
	"systemd-sysv", "udev", "linux-image-cloud-amd64", "grub-pc", "e2fsprogs",
	"iproute2", "ca-certificates", "cloud-init", "ifupdown", "isc-dhcp-client",
	"openssh-server", "sudo",
}

// diskHostname is the hostname the image starts with (cloud-init may set
// another from its metadata).
const diskHostname = "debian"

// mmdebstrapDiskArgs is the mmdebstrap command line that builds the disk's
// root filesystem as a directory.
func mmdebstrapDiskArgs(suite, dir string, pkgs, mirrors []string) []string {
	args := []string{
		"--quiet", "--variant=minbase", "--format=directory",
		"--include=" + strings.Join(pkgs, ","),
		suite, dir,
	}
	return append(args, mirrors...)
}

// mmdebstrapDir runs mmdebstrap into dir. On cancellation mmdebstrap's
// process group gets SIGTERM (as in Debian) so that it unmounts what it
// mounted under dir; any mount still left below dir afterwards is detached.
func mmdebstrapDir(ctx context.Context, suite, dir string, pkgs, mirrors []string) error {
	cmd := exec.CommandContext(ctx, "mmdebstrap", mmdebstrapDiskArgs(suite, dir, pkgs, mirrors)...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+strconv.FormatInt(Epoch.Unix(), 10))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = MmdebstrapStopGrace
	out := tailbuf.New(8 << 10)
	cmd.Stdout, cmd.Stderr = out, out
	runErr := cmd.Run()
	if err := detachMountsUnder(dir); err != nil {
		return fmt.Errorf("mmdebstrap %s: %w", suite, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mmdebstrap %s: %w", suite, err)
	}
	if runErr != nil {
		return fmt.Errorf("mmdebstrap %s: %w: %s", suite, runErr, strings.TrimSpace(out.String()))
	}
	return nil
}

// mountsUnder returns the mount points that are dir or below it, deepest
// first.
func mountsUnder(mounts []mountinfo.Mount, dir string) []string {
	return mountinfo.AtOrUnder(mounts, dir)
}

// detachMountsUnder lazily unmounts every mount at or below dir, so that
// removing dir can never reach into a bind-mounted host directory.
func detachMountsUnder(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("mounts under %s: %w", dir, err)
	}
	mounts, err := mountinfo.Self()
	if err != nil {
		return fmt.Errorf("mounts under %s: %w", dir, err)
	}
	for _, mp := range mountsUnder(mounts, abs) {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("unmount %s: %w", mp, err)
		}
	}
	return nil
}

// diskCustomization is what customizeRootfs writes into the root
// filesystem.
type diskCustomization struct {
	FSUUID   string // UUID of the root ext4 filesystem (fstab)
	Hostname string
}

// grubDefaults is /etc/default/grub.d/50-goldsmith.cfg: no menu delay,
// kernel and GRUB on the serial console (and the screen), eth0 naming for
// the network configuration.
const grubDefaults = `# goldsmith: boot at once, console on the serial port and the screen.
GRUB_TIMEOUT=0
GRUB_TIMEOUT_STYLE=hidden
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200 net.ifnames=0"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
`

// cloudInitConfig limits cloud-init to local datasources (no network
// metadata probing at boot) and leaves the network to ifupdown.
const cloudInitConfig = `# goldsmith: local datasources only; the network is configured by ifupdown.
datasource_list: [ NoCloud, None ]
network: {config: disabled}
`

// eth0Interfaces configures DHCP on the first ethernet interface (eth0:
// the kernel command line has net.ifnames=0) when it appears.
const eth0Interfaces = `# goldsmith: DHCP on the first ethernet interface.
allow-hotplug eth0
iface eth0 inet dhcp
`

// sshHostKeysDropIn makes ssh.service create missing host keys (the image
// ships none) before it checks its configuration.
const sshHostKeysDropIn = `# goldsmith: the image has no SSH host keys; create them on first start.
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
`

// customizeRootfs writes the disk image's configuration into the root
// filesystem at dir: fstab, hostname and hosts, GRUB defaults, cloud-init's
// datasources, DHCP on eth0, SSH host key creation, and a locked root
// account. Paths are resolved inside dir (symlinks cannot escape it).
func customizeRootfs(dir string, c diskCustomization) error {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("customize rootfs: %w", err)
	}
	defer r.Close()
	files := []struct {
		name string
		data string
		perm fs.FileMode
	}{
		{"etc/fstab", fmt.Sprintf("# <file system> <mount point> <type> <options> <dump> <pass>\nUUID=%s / ext4 defaults,errors=remount-ro 0 1\n", c.FSUUID), 0o644},
		{"etc/hostname", c.Hostname + "\n", 0o644},
		{"etc/hosts", fmt.Sprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n", c.Hostname), 0o644},
		{"etc/default/grub.d/50-goldsmith.cfg", grubDefaults, 0o644},
		{"etc/cloud/cloud.cfg.d/90_goldsmith.cfg", cloudInitConfig, 0o644},
		{"etc/network/interfaces.d/eth0", eth0Interfaces, 0o644},
		{"etc/systemd/system/ssh.service.d/goldsmith-host-keys.conf", sshHostKeysDropIn, 0o644},
	}
	for _, f := range files {
		if err := writeInRoot(r, f.name, []byte(f.data), f.perm); err != nil {
			return fmt.Errorf("customize rootfs: %w", err)
		}
	}
	if err := lockRoot(r); err != nil {
		return fmt.Errorf("customize rootfs: %w", err)
	}
	return nil
}

// writeInRoot replaces name (a symlink there is removed, not followed) with
// data, creating its parent directories.
func writeInRoot(r *os.Root, name string, data []byte, perm fs.FileMode) error {
	if err := r.MkdirAll(path.Dir(name), 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", path.Dir(name), err)
	}
	if err := r.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace %s: %w", name, err)
	}
	if err := r.WriteFile(name, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := r.Chmod(name, perm); err != nil {
		return fmt.Errorf("chmod %s: %w", name, err)
	}
	return nil
}

// lockRoot locks root's password in etc/shadow, as `passwd -l root` does
// (a "!" in front of the hash, so no password can match).
func lockRoot(r *os.Root) error {
	data, err := r.ReadFile("etc/shadow")
	if err != nil {
		return fmt.Errorf("lock root: %w", err)
	}
	out, err := lockShadowUser(data, "root")
	if err != nil {
		return fmt.Errorf("lock root: %w", err)
	}
	st, err := r.Stat("etc/shadow")
	if err != nil {
		return fmt.Errorf("lock root: %w", err)
	}
	if err := r.WriteFile("etc/shadow", out, st.Mode().Perm()); err != nil {
		return fmt.Errorf("lock root: %w", err)
	}
	return nil
}

// lockShadowUser prefixes user's password field in a shadow file with "!"
// (an empty password becomes "!"), unless it is locked already.
func lockShadowUser(shadow []byte, user string) ([]byte, error) {
	lines := bytes.SplitAfter(shadow, []byte("\n"))
	found := false
	for i, line := range lines {
		fields := bytes.SplitN(line, []byte(":"), 3)
		if len(fields) < 3 || string(fields[0]) != user {
			continue
		}
		found = true
		if !bytes.HasPrefix(fields[1], []byte("!")) {
			lines[i] = bytes.Join([][]byte{fields[0], append([]byte("!"), fields[1]...), fields[2]}, []byte(":"))
		}
	}
	if !found {
		return nil, fmt.Errorf("no %q entry in shadow", user)
	}
	return bytes.Join(lines, nil), nil
}
