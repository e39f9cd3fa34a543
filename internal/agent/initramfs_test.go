package agent

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A modules.dep excerpt of Debian's 6.1 cloud kernel.
const testModulesDep = `kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/net/core/failover.ko:
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/fs/fuse/virtiofs.ko.xz: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko kernel/fs/fuse/fuse.ko.xz
kernel/fs/fuse/fuse.ko.xz:
`

func TestModuleOrder(t *testing.T) {
	const (
		ring   = "kernel/drivers/virtio/virtio_ring.ko"
		virtio = "kernel/drivers/virtio/virtio.ko"
		legacy = "kernel/drivers/virtio/virtio_pci_legacy_dev.ko"
		modern = "kernel/drivers/virtio/virtio_pci_modern_dev.ko"
		pci    = "kernel/drivers/virtio/virtio_pci.ko"
		blk    = "kernel/drivers/block/virtio_blk.ko"
	)
	cases := []struct {
		name    string
		dep     string
		want    []string
		order   []string
		missing []string
		err     string
	}{
		{name: "leaf", dep: testModulesDep, want: []string{"virtio_ring"}, order: []string{ring}},
		{name: "disk chain", dep: testModulesDep, want: []string{"virtio_pci", "virtio_blk"},
			order: []string{ring, virtio, modern, legacy, pci, blk}},
		{name: "each once, dashes", dep: testModulesDep, want: []string{"virtio-blk", "virtio_pci", "virtio_blk"},
			order: []string{ring, virtio, blk, modern, legacy, pci}},
		{name: "network", dep: testModulesDep, want: []string{"virtio_net"},
			order: []string{ring, virtio, "kernel/net/core/failover.ko", "kernel/drivers/net/net_failover.ko", "kernel/drivers/net/virtio_net.ko"}},
		{name: "compressed", dep: testModulesDep, want: []string{"virtiofs"},
			order: []string{"kernel/fs/fuse/fuse.ko.xz", ring, virtio, "kernel/fs/fuse/virtiofs.ko.xz"}},
		{name: "missing is reported", dep: testModulesDep, want: []string{"ext4", "virtio_blk"},
			order: []string{ring, virtio, blk}, missing: []string{"ext4"}},
		{name: "cycle", dep: "a.ko: b.ko\nb.ko: a.ko\n", want: []string{"a"}, err: "cycle"},
		{name: "malformed", dep: "no colon here\n", want: []string{"a"}, err: "malformed"},
		{name: "comments and blanks", dep: "# x\n\na.ko:\n", want: []string{"a"}, order: []string{"a.ko"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ModuleOrder([]byte(c.dep), c.want)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			var me *MissingModulesError
			switch {
			case len(c.missing) > 0:
				if !errors.As(err, &me) || !slices.Equal(me.Names, c.missing) {
					t.Fatalf("err = %v, want missing %v", err, c.missing)
				}
			case err != nil:
				t.Fatal(err)
			}
			if !slices.Equal(got, c.order) {
				t.Errorf("order\n got %v\nwant %v", got, c.order)
			}
		})
	}
}

func TestKernelArgs(t *testing.T) {
	cases := []struct {
		name string
		in   BootConfig
		args string
		want BootConfig
	}{
		{"minimal", BootConfig{Root: "/dev/vda1"}, "goldsmith.root=/dev/vda1 goldsmith.net=0",
			BootConfig{Root: "/dev/vda1", RootFSType: "ext4", Hostname: DefaultHostname, Port: DefaultPort, RootWait: DefaultRootWait}},
		{"all", BootConfig{Root: "/dev/vda", RootFSType: "ext4", Network: true, Hostname: "b1", Port: "/dev/ttyS2", RootWait: 5 * time.Second, Debug: true},
			"goldsmith.root=/dev/vda goldsmith.rootfstype=ext4 goldsmith.net=1 goldsmith.hostname=b1 goldsmith.port=/dev/ttyS2 goldsmith.rootwait=5 goldsmith.debug=1",
			BootConfig{Root: "/dev/vda", RootFSType: "ext4", Network: true, Hostname: "b1", Port: "/dev/ttyS2", RootWait: 5 * time.Second, Debug: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := KernelArgs(c.in)
			if args != c.args {
				t.Fatalf("KernelArgs = %q, want %q", args, c.args)
			}
			got, err := ParseKernelArgs("BOOT_IMAGE=/vmlinuz console=ttyS0 panic=-1 quiet " + args)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("ParseKernelArgs = %+v, want %+v", got, c.want)
			}
		})
	}
	if _, err := ParseKernelArgs("console=ttyS0"); err == nil {
		t.Error("a command line without goldsmith.root parsed")
	}
	if _, err := ParseKernelArgs("goldsmith.root=/dev/vda goldsmith.rootwait=x"); err == nil {
		t.Error("a bad rootwait parsed")
	}
}

// cpioMember is a member of a newc archive, as a test reads it.
type cpioMember struct {
	mode, major, minor uint64
	data               []byte
}

func readNewc(t *testing.T, b []byte) map[string]cpioMember {
	t.Helper()
	out := map[string]cpioMember{}
	for off := 0; ; {
		if off+110 > len(b) || string(b[off:off+6]) != "070701" {
			t.Fatalf("bad newc header at %d", off)
		}
		field := func(i int) uint64 {
			v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		mode, size, rmaj, rmin, nameLen := field(1), field(6), field(9), field(10), field(11)
		name := string(b[off+110 : off+110+int(nameLen)-1])
		off = (off + 110 + int(nameLen) + 3) &^ 3
		data := b[off : off+int(size)]
		off = (off + int(size) + 3) &^ 3
		if name == "TRAILER!!!" {
			return out
		}
		out[name] = cpioMember{mode: mode, major: rmaj, minor: rmin, data: data}
	}
}

func TestWriteInitramfs(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "goldsmith")
	mods := []string{filepath.Join(dir, "virtio_ring.ko"), filepath.Join(dir, "virtio.ko"), filepath.Join(dir, "virtio_blk.ko")}
	for i, p := range append([]string{bin}, mods...) {
		if err := os.WriteFile(p, []byte("content "+strconv.Itoa(i)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := WriteInitramfs(&buf, bin, mods); err != nil {
		t.Fatal(err)
	}
	m := readNewc(t, buf.Bytes())
	init, ok := m["init"]
	if !ok || string(init.data) != "content 0" || init.mode != 0o100755 {
		t.Fatalf("init = %+v (present %v)", init, ok)
	}
	if c := m["dev/console"]; c.mode&0o170000 != 0o020000 || c.major != 5 || c.minor != 1 {
		t.Errorf("dev/console = %+v", c)
	}
	order := string(m["lib/goldsmith/modules/order"].data)
	if order != "01-virtio_ring.ko\n02-virtio.ko\n03-virtio_blk.ko\n" {
		t.Fatalf("order = %q", order)
	}
	for i, name := range strings.Fields(order) {
		if got := string(m["lib/goldsmith/modules/"+name].data); got != "content "+strconv.Itoa(i+1) {
			t.Errorf("%s = %q", name, got)
		}
	}
	for _, d := range []string{"proc", "sys", "root", "run", "tmp"} {
		if m[d].mode&0o170000 != 0o040000 {
			t.Errorf("%s is not a directory in the initramfs", d)
		}
	}
}
