package agent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// QEMU user networking (slirp) addresses.
const (
	slirpAddr    = "10.0.2.15"
	slirpPrefix  = 24
	slirpGateway = "10.0.2.2"
	slirpDNS     = "10.0.2.3"
)

// network configures the first non-loopback interface for slirp and points
// the image's /etc/resolv.conf at slirp's DNS until shutdown.
func (s *initSystem) network() error {
	iface, err := waitInterface(10 * time.Second)
	if err != nil {
		return err
	}
	if ip := s.imageIP(); ip != "" {
		for _, args := range [][]string{
			{"link", "set", "dev", iface, "up"},
			{"addr", "add", fmt.Sprintf("%s/%d", slirpAddr, slirpPrefix), "dev", iface},
			{"route", "add", "default", "via", slirpGateway, "dev", iface},
		} {
			if out, err := s.chrootRun(append([]string{ip}, args...)...); err != nil {
				return fmt.Errorf("ip %v: %w: %s", args, err, out)
			}
		}
	} else if err := configureIoctl(iface); err != nil {
		return err
	}
	b, err := replaceResolvConf(filepath.Join(rootMount, JobsDir), filepath.Join(rootMount, "etc/resolv.conf"), "nameserver "+slirpDNS+"\n")
	if err != nil {
		return err
	}
	s.resolv = b
	s.log.Info("network up", "iface", iface, "addr", slirpAddr, "gateway", slirpGateway, "dns", slirpDNS)
	return nil
}

// imageIP is the image's ip command (a path inside the image) or "".
func (s *initSystem) imageIP() string {
	for _, p := range []string{"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"} {
		hp, err := resolveInRoot(rootMount, p, true)
		if err != nil {
			continue
		}
		if fi, err := os.Stat(hp); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// chrootRun runs argv (argv[0] an image path) chrooted into the image.
func (s *initSystem) chrootRun(argv ...string) (string, error) {
	srv := &server{o: ServeOptions{Root: rootMount, Chroot: true, procs: s.procs}, log: s.log}
	cmd, err := srv.command(context.Background(), argv, nil, "/")
	if err != nil {
		return "", err
	}
	out := &cappedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	code, err := srv.run(cmd)
	if err == nil && code != 0 {
		err = fmt.Errorf("exit status %d", code)
	}
	return string(out.Bytes()), err
}

// waitInterface returns the first network interface other than lo.
func waitInterface(limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	for {
		entries, _ := os.ReadDir("/sys/class/net")
		for _, e := range entries {
			if e.Name() != "lo" {
				return e.Name(), nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no network interface appeared within %s (is virtio_net in the initramfs?)", limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// setLinkUp sets IFF_UP on iface.
func setLinkUp(iface string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(iface)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("%s flags: %w", iface, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("%s up: %w", iface, err)
	}
	return nil
}

// rtentry is struct rtentry of <net/route.h> (64-bit layout).
type rtentry struct {
	pad1    uint64
	dst     unix.RawSockaddrInet4
	gateway unix.RawSockaddrInet4
	genmask unix.RawSockaddrInet4
	flags   uint16
	pad2    int16
	pad3    uint64
	pad4    uintptr
	metric  int16
	dev     uintptr
	mtu     uint64
	window  uint64
	irtt    uint16
}

// configureIoctl sets the slirp address and default route without ip.
func configureIoctl(iface string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	set := func(req uint, addr string) error {
		ifr, err := unix.NewIfreq(iface)
		if err != nil {
			return err
		}
		if err := ifr.SetInet4Addr(netip.MustParseAddr(addr).AsSlice()); err != nil {
			return err
		}
		return unix.IoctlIfreq(fd, req, ifr)
	}
	if err := set(unix.SIOCSIFADDR, slirpAddr); err != nil {
		return fmt.Errorf("%s address: %w", iface, err)
	}
	if err := set(unix.SIOCSIFNETMASK, "255.255.255.0"); err != nil {
		return fmt.Errorf("%s netmask: %w", iface, err)
	}
	if err := setLinkUp(iface); err != nil {
		return err
	}
	rt := rtentry{flags: unix.RTF_UP | unix.RTF_GATEWAY}
	rt.dst.Family, rt.genmask.Family, rt.gateway.Family = unix.AF_INET, unix.AF_INET, unix.AF_INET
	rt.gateway.Addr = netip.MustParseAddr(slirpGateway).As4()
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCADDRT, uintptr(unsafe.Pointer(&rt))); errno != 0 && !errors.Is(errno, unix.EEXIST) {
		return fmt.Errorf("default route: %w", errno)
	}
	return nil
}
