package base

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const fakeStatus = "Package: base-files\nStatus: install ok installed\nVersion: 12.4+deb12u5\n\n" +
	"Package: linux-image-6.1.0-56-cloud-amd64\nStatus: install ok installed\nVersion: 6.1.192-2\n"

func TestCustomizeRootfs(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "host-hostname")
	if err := os.WriteFile(outside, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := fakeRootfs(t, map[string]string{
		"etc/shadow":       "root:*:20000:0:99999:7:::\ndaemon:*:20000:0:99999:7:::\n",
		"etc/default/grub": "GRUB_TIMEOUT=5\n",
	}, map[string]string{
		// A symlink to the host must be replaced, not written through.
		"etc/hostname": outside,
	})
	if err := customizeRootfs(dir, diskCustomization{FSUUID: "0d6c1f0e-1111-4222-8333-444455556666", Hostname: "debian"}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "host\n" {
		t.Fatalf("the host's file was written through a symlink: %q", b)
	}
	tests := []struct {
		file string
		want []string
	}{
		{"etc/fstab", []string{"UUID=0d6c1f0e-1111-4222-8333-444455556666 / ext4 "}},
		{"etc/hostname", []string{"debian\n"}},
		{"etc/hosts", []string{"127.0.1.1\tdebian\n", "127.0.0.1\tlocalhost"}},
		{"etc/default/grub.d/50-goldsmith.cfg", []string{"GRUB_TIMEOUT=0\n", "console=ttyS0", "GRUB_TERMINAL=\"console serial\"", "GRUB_SERIAL_COMMAND=", "net.ifnames=0"}},
		{"etc/cloud/cloud.cfg.d/90_goldsmith.cfg", []string{"datasource_list: [ NoCloud, None ]\n"}},
		{"etc/network/interfaces.d/eth0", []string{"allow-hotplug eth0\n", "iface eth0 inet dhcp\n"}},
		{"etc/systemd/system/ssh.service.d/goldsmith-host-keys.conf", []string{"ExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\n"}},
		{"etc/shadow", []string{"root:!*:20000:", "\ndaemon:*:20000:"}},
		{"etc/default/grub", []string{"GRUB_TIMEOUT=5\n"}}, // left to the package; grub.d overrides it
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join(dir, tt.file))
		if err != nil {
			t.Errorf("%s: %v", tt.file, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q:\n%s", tt.file, w, b)
			}
		}
	}
	st, err := os.Lstat(filepath.Join(dir, "etc/hostname"))
	if err != nil || !st.Mode().IsRegular() {
		t.Fatalf("etc/hostname is not a regular file: %v %v", st, err)
	}
}

func TestCustomizeRootfsWithoutShadow(t *testing.T) {
	dir := fakeRootfs(t, map[string]string{"etc/passwd": "root:x:0:0::/root:/bin/sh\n"}, nil)
	err := customizeRootfs(dir, diskCustomization{FSUUID: "u", Hostname: "h"})
	if err == nil || !strings.Contains(err.Error(), "lock root") {
		t.Fatalf("err = %v, want a lock root error", err)
	}
}

func TestSanitizeRootfs(t *testing.T) {
	keep := []string{
		"etc/ssh/sshd_config",
		"var/lib/apt/lists/lock",
		"var/lib/dpkg/status",
		"var/cache/apt/archives/lock",
		"etc/apt/sources.list",
	}
	gone := []string{
		"etc/ssh/ssh_host_ed25519_key",
		"etc/ssh/ssh_host_ed25519_key.pub",
		"etc/resolv.conf",
		"var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
		"var/lib/apt/lists/partial/x_y",
		"var/cache/apt/pkgcache.bin",
		"var/cache/apt/archives/bash_5.2_amd64.deb",
		"var/cache/debconf/config.dat-old",
		"var/lib/dpkg/status-old",
		"var/lib/dhcp/dhclient.eth0.leases",
		"var/lib/cloud/instance/obj.pkl",
		"var/lib/systemd/random-seed",
		"var/log/dpkg.log",
		"var/log/apt/history.log",
		"var/log/journal/abc/system.journal",
		"tmp/junk",
		"var/tmp/junk",
		"root/.bash_history",
		"var/lib/dbus/machine-id",
	}
	files := map[string]string{"etc/machine-id": "0123456789abcdef0123456789abcdef\n"}
	for _, f := range append(append([]string{}, keep...), gone...) {
		files[f] = "x"
	}
	dir := fakeRootfs(t, files, nil)
	if err := sanitizeRootfs(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range keep {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s removed: %v", f, err)
		}
	}
	for _, f := range gone {
		if _, err := os.Lstat(filepath.Join(dir, f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there (%v)", f, err)
		}
	}
	for _, d := range []string{"var/log/apt", "var/log/journal", "var/lib/apt/lists/partial", "tmp", "var/tmp"} {
		if st, err := os.Stat(filepath.Join(dir, d)); err != nil || !st.IsDir() {
			t.Errorf("directory %s removed: %v", d, err)
		}
	}
	st, err := os.Stat(filepath.Join(dir, "etc/machine-id"))
	if err != nil || st.Size() != 0 || st.Mode().Perm() != 0o444 {
		t.Fatalf("etc/machine-id = %v, %v; want empty, 0444", st, err)
	}
}

func TestSanitizeRootfsKeepsDbusLink(t *testing.T) {
	dir := fakeRootfs(t, map[string]string{"etc/machine-id": "x"}, map[string]string{"var/lib/dbus/machine-id": "/etc/machine-id"})
	if err := sanitizeRootfs(dir); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(dir, "var/lib/dbus/machine-id")); err != nil || target != "/etc/machine-id" {
		t.Fatalf("dbus machine-id link = %q, %v", target, err)
	}
}

func TestReadRootfsMeta(t *testing.T) {
	osRelease := "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_CODENAME=bookworm\n"
	base := map[string]string{
		"usr/lib/os-release":                     osRelease,
		"boot/vmlinuz-6.1.0-56-cloud-amd64":      "k",
		"boot/initrd.img-6.1.0-56-cloud-amd64":   "i",
		"var/lib/dpkg/status":                    fakeStatus,
		"boot/config-6.1.0-56-cloud-amd64":       "c",
		"boot/System.map-6.1.0-56-cloud-amd64":   "s",
		"usr/share/doc/base-files/copyright":     "c",
		"etc/default/grub.d/50-goldsmith.cfg":    "g",
		"etc/cloud/cloud.cfg.d/90_goldsmith.cfg": "c",
	}
	with := func(extra map[string]string, drop ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		for _, d := range drop {
			delete(m, d)
		}
		return m
	}
	osLink := map[string]string{"etc/os-release": "../usr/lib/os-release"}
	tests := []struct {
		name    string
		files   map[string]string
		links   map[string]string
		kernel  string
		wantErr string
	}{
		{"one kernel", base, osLink, "6.1.0-56-cloud-amd64", ""},
		{"vmlinuz link picks", with(map[string]string{"boot/vmlinuz-6.1.0-50-cloud-amd64": "k"}),
			map[string]string{"etc/os-release": "../usr/lib/os-release", "vmlinuz": "boot/vmlinuz-6.1.0-56-cloud-amd64"}, "6.1.0-56-cloud-amd64", ""},
		{"two kernels, no link", with(map[string]string{"boot/vmlinuz-6.1.0-50-cloud-amd64": "k"}), osLink, "", "several kernels"},
		{"no kernel", with(nil, "boot/vmlinuz-6.1.0-56-cloud-amd64"), osLink, "", "no kernel"},
		{"no initrd", with(nil, "boot/initrd.img-6.1.0-56-cloud-amd64"), osLink, "", "initrd.img"},
		{"no os-release link", base, nil, "6.1.0-56-cloud-amd64", ""},
		{"os-release escapes", base, map[string]string{"etc/os-release": "/etc/os-release"}, "", "os-release"},
		{"no dpkg status", with(nil, "var/lib/dpkg/status"), osLink, "", "dpkg status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := fakeRootfs(t, tt.files, tt.links)
			m, err := readRootfsMeta(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one about %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := &rootfsMeta{
				OSVersion: "Debian GNU/Linux 12 (bookworm)",
				Kernel:    tt.kernel,
				Vmlinuz:   "boot/vmlinuz-" + tt.kernel,
				Initrd:    "boot/initrd.img-" + tt.kernel,
				Packages:  []Package{{"base-files", "12.4+deb12u5"}, {"linux-image-6.1.0-56-cloud-amd64", "6.1.192-2"}},
			}
			if !reflect.DeepEqual(m, want) {
				t.Fatalf("got %+v, want %+v", m, want)
			}
		})
	}
}
