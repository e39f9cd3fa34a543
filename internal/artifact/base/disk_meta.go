package base

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/goldsmith/goldsmith/internal/osrelease"
)

// Package is an installed package of an image: its name and version as
// the package manager records them.
type Package struct {
	Name    string
	Version string
}

// rootfsMeta is what the disk image records about its root filesystem.
type rootfsMeta struct {
	OSVersion string    // PRETTY_NAME
	Kernel    string    // kernel release, e.g. 6.1.0-56-cloud-amd64
	Vmlinuz   string    // path of the kernel relative to the root
	Initrd    string    // path of the initramfs relative to the root
	Packages  []Package // sorted by name
}

// readRootfsMeta reads the OS version, the kernel and initramfs, and the
// installed packages of the root filesystem at dir.
func readRootfsMeta(dir string) (*rootfsMeta, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("rootfs metadata: %w", err)
	}
	defer r.Close()
	m := &rootfsMeta{}
	osr, err := r.ReadFile("etc/os-release")
	if errors.Is(err, fs.ErrNotExist) {
		osr, err = r.ReadFile("usr/lib/os-release")
	}
	if err != nil {
		return nil, fmt.Errorf("rootfs metadata: os-release: %w", err)
	}
	if m.OSVersion = osrelease.PrettyName(osr); m.OSVersion == "" {
		return nil, fmt.Errorf("rootfs metadata: os-release has no PRETTY_NAME")
	}
	if m.Kernel, err = findKernel(r); err != nil {
		return nil, fmt.Errorf("rootfs metadata: %w", err)
	}
	m.Vmlinuz = "boot/vmlinuz-" + m.Kernel
	m.Initrd = "boot/initrd.img-" + m.Kernel
	for _, p := range []string{m.Vmlinuz, m.Initrd} {
		st, err := r.Lstat(p)
		if err != nil {
			return nil, fmt.Errorf("rootfs metadata: kernel %s: %w", m.Kernel, err)
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("rootfs metadata: /%s is not a regular file", p)
		}
	}
	status, err := r.ReadFile("var/lib/dpkg/status")
	if err != nil {
		return nil, fmt.Errorf("rootfs metadata: dpkg status: %w", err)
	}
	m.Packages = parseDpkgInstalled(status)
	if len(m.Packages) == 0 {
		return nil, fmt.Errorf("rootfs metadata: no installed package in /var/lib/dpkg/status")
	}
	return m, nil
}

// findKernel returns the release of the root filesystem's default kernel:
// the target of Debian's /vmlinuz (or /boot/vmlinuz) symlink, else the only
// /boot/vmlinuz-* file.
func findKernel(r *os.Root) (string, error) {
	for _, link := range []string{"vmlinuz", "boot/vmlinuz"} {
		target, err := r.Readlink(link)
		if err != nil {
			continue
		}
		if v, ok := strings.CutPrefix(path.Base(target), "vmlinuz-"); ok && v != "" {
			return v, nil
		}
	}
	matches, err := fs.Glob(r.FS(), "boot/vmlinuz-*")
	if err != nil {
		return "", fmt.Errorf("find kernel: %w", err)
	}
	switch len(matches) {
	case 0:
		return "", errors.New("no kernel in /boot")
	case 1:
		return strings.TrimPrefix(matches[0], "boot/vmlinuz-"), nil
	default:
		return "", fmt.Errorf("several kernels in /boot and no /vmlinuz link: %s", strings.Join(matches, ", "))
	}
}

// parseDpkgInstalled returns the installed packages of a dpkg status file
// (Status "install ok installed"; half-installed or removed-but-configured
// packages are left out), sorted by name, then version.
func parseDpkgInstalled(status []byte) []Package {
	var out []Package
	var name, version, state string
	flush := func() {
		if name != "" && version != "" && strings.HasSuffix(state, " installed") {
			out = append(out, Package{Name: name, Version: version})
		}
		name, version, state = "", "", ""
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Package":
			name = v
		case "Version":
			version = v
		case "Status":
			state = v
		}
	}
	flush()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out
}
