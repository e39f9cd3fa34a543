package base

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/goldsmith/goldsmith/internal/mountinfo"
)

func TestMountsUnder(t *testing.T) {
	info := `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:5 / /work/d/rootfs/dev rw shared:2 - devtmpfs udev rw
31 30 0:6 / /work/d/rootfs/dev/pts rw shared:3 - devpts devpts rw
32 22 0:7 / /work/d/rootfs\040x/proc rw shared:4 - proc proc rw
33 22 0:8 / /work/d/rootfs-other rw shared:5 - tmpfs tmpfs rw
34 22 0:9 / /work/d/rootfs rw shared:6 - tmpfs tmpfs rw
bad line
`
	tests := []struct {
		dir  string
		want []string
	}{
		{"/work/d/rootfs", []string{"/work/d/rootfs/dev/pts", "/work/d/rootfs/dev", "/work/d/rootfs"}},
		{"/work/d/rootfs/", []string{"/work/d/rootfs/dev/pts", "/work/d/rootfs/dev", "/work/d/rootfs"}},
		{"/work/d/rootfs x", []string{"/work/d/rootfs x/proc"}},
		{"/elsewhere", nil},
	}
	mounts, err := mountinfo.Parse(strings.NewReader(info))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		if got := mountsUnder(mounts, tt.dir); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("mountsUnder(%q) = %q, want %q", tt.dir, got, tt.want)
		}
	}
}

func TestLockShadowUser(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"star", "root:*:20000:0:99999:7:::\nbin:*:1::::::\n", "root:!*:20000:0:99999:7:::\nbin:*:1::::::\n", false},
		{"hash", "daemon:*:1::::::\nroot:$6$x$y:1::::::\n", "daemon:*:1::::::\nroot:!$6$x$y:1::::::\n", false},
		{"empty password", "root::1::::::", "root:!:1::::::", false},
		{"locked already", "root:!*:1::::::\n", "root:!*:1::::::\n", false},
		{"prefix is not the user", "rootx:*:1::::::\n", "", true},
		{"missing", "bin:*:1::::::\n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lockShadowUser([]byte(tt.in), "root")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && string(got) != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseDpkgInstalled(t *testing.T) {
	status := `Package: zlib1g
Status: install ok installed
Priority: required
Version: 1:1.2.13.dfsg-1
Description: compression library
 a continuation line
 Version: 9.9 (not a field)

Package: half
Status: install ok half-installed
Version: 1.0

Package: removed
Status: deinstall ok config-files
Version: 2.0

Package: base-files
Status: install ok installed
Version: 12.4+deb12u5

Package: noversion
Status: install ok installed
`
	got := parseDpkgInstalled([]byte(status))
	want := []Package{{"base-files", "12.4+deb12u5"}, {"zlib1g", "1:1.2.13.dfsg-1"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestMmdebstrapDiskArgs(t *testing.T) {
	mirrors := []string{
		"deb http://m/debian bookworm main",
		"deb http://m/debian bookworm-updates main",
		"deb http://s/debian-security bookworm-security main",
	}
	args := mmdebstrapDiskArgs("bookworm", "/w/rootfs", DiskPackages, mirrors)
	if !reflect.DeepEqual(args[len(args)-5:], append([]string{"bookworm", "/w/rootfs"}, mirrors...)) {
		t.Fatalf("suite, target and mirrors not last: %q", args)
	}
	var include string
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--include="); ok {
			include = v
		}
	}
	for _, p := range []string{"systemd-sysv", "udev", "linux-image-cloud-amd64", "grub-pc", "e2fsprogs", "iproute2",
		"ca-certificates", "cloud-init", "ifupdown", "isc-dhcp-client", "openssh-server"} {
		if !strings.Contains(","+include+",", ","+p+",") {
			t.Errorf("--include=%s lacks %s", include, p)
		}
	}
	if !contains(args, "--variant=minbase") || !contains(args, "--format=directory") {
		t.Errorf("args %q", args)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// fakeRootfs makes a small tree that looks like a Debian root filesystem.
func fakeRootfs(t *testing.T, files map[string]string, links map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range links {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
