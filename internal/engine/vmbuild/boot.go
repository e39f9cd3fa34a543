package vmbuild

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/goldsmith/goldsmith/internal/agent"
	"github.com/goldsmith/goldsmith/internal/instance/vm"
)

// bootFiles are what direct kernel boot of a disk needs: the image's own
// kernel, an initramfs with the agent and the kernel's virtio modules, and
// the command line.
type bootFiles struct {
	Kernel    string // host path
	Initramfs string // host path
	Append    string
	KernelVer string
}

// diskModules are the modules the agent loads to see its disks (and the
// network when asked), unless the kernel has them built in.
var diskModules = []string{"virtio_pci", "virtio_blk"}

// bootKernelArgs are the kernel's own parameters for a build instance.
// cryptomgr.notests skips the crypto self-tests the kernel runs at boot
// (about 0.9 s of a 3.5 s boot under TCG; the instance is thrown away and
// does not need FIPS-style self-checks).
const bootKernelArgs = "console=ttyS0 panic=-1 quiet cryptomgr.notests"

// prepareBoot reads the kernel and modules out of disk (without mounting
// it) and writes the boot files into dir, with agentBinary as the
// initramfs's /init.
func prepareBoot(ctx context.Context, d Disk, agentBinary, dir string, network bool) (*bootFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("boot files: %w", err)
	}
	raw, closeRaw, err := vm.RawView(ctx, d.Path, d.Format, d.Secret, dir)
	if err != nil {
		return nil, fmt.Errorf("reading the disk %s: %w", d.Path, err)
	}
	defer closeRaw()
	fs, part, _, err := vm.FindRoot(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("finding the root file system of %s: %w", d.Path, err)
	}
	b := &bootFiles{Kernel: filepath.Join(dir, "vmlinuz"), Initramfs: filepath.Join(dir, "initramfs.cpio")}
	names, err := fs.ReadDir(ctx, "/boot")
	if err != nil {
		return nil, fmt.Errorf("the image has no /boot: %w", err)
	}
	modRoot := ""
	for _, ver := range kernelVersions(names) {
		for _, root := range []string{"/lib/modules/", "/usr/lib/modules/"} {
			if fs.Exists(ctx, root+ver+"/modules.dep") {
				b.KernelVer, modRoot = ver, root+ver
				break
			}
		}
		if modRoot != "" {
			break
		}
	}
	if modRoot == "" {
		return nil, fmt.Errorf("the image has no kernel in /boot (vmlinuz-<version>) with its modules in /lib/modules")
	}
	if err := fs.Copy(ctx, "/boot/vmlinuz-"+b.KernelVer, b.Kernel); err != nil {
		return nil, fmt.Errorf("copying the kernel %s: %w", b.KernelVer, err)
	}
	dep, err := fs.ReadFile(ctx, modRoot+"/modules.dep")
	if err != nil {
		return nil, fmt.Errorf("reading modules.dep: %w", err)
	}
	builtin, _ := fs.ReadFile(ctx, modRoot+"/modules.builtin")
	want := diskModules
	if network {
		want = append(append([]string(nil), diskModules...), "virtio_net")
	}
	var mods []string
	if want = notBuiltin(want, builtin); len(want) > 0 {
		rel, err := agent.ModuleOrder(dep, want)
		if err != nil {
			return nil, fmt.Errorf("kernel %s modules: %w", b.KernelVer, err)
		}
		for i, r := range rel {
			dst := filepath.Join(dir, fmt.Sprintf("%02d-%s", i, path.Base(r)))
			if err := fs.Copy(ctx, modRoot+"/"+r, dst); err != nil {
				return nil, fmt.Errorf("copying module %s: %w", r, err)
			}
			mods = append(mods, dst)
		}
	}
	f, err := os.Create(b.Initramfs)
	if err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = agent.WriteInitramfs(w, agentBinary, mods)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing the initramfs: %w", err)
	}
	root := "/dev/vda"
	if part != nil {
		root += strconv.Itoa(part.Number)
	}
	b.Append = bootKernelArgs + " " + agent.KernelArgs(agent.BootConfig{Root: root, Network: network})
	return b, nil
}

// kernelVersions returns the versions of /boot/vmlinuz-<version> files,
// newest first.
func kernelVersions(names []string) []string {
	var vs []string
	for _, n := range names {
		if v, ok := strings.CutPrefix(n, "vmlinuz-"); ok && v != "" {
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(i, j int) bool { return versionLess(vs[j], vs[i]) })
	return vs
}

// versionLess compares kernel versions by their numeric fields.
func versionLess(a, b string) bool {
	fa, fb := versionFields(a), versionFields(b)
	for i := 0; i < len(fa) && i < len(fb); i++ {
		if fa[i] != fb[i] {
			return fa[i] < fb[i]
		}
	}
	if len(fa) != len(fb) {
		return len(fa) < len(fb)
	}
	return a < b
}

func versionFields(v string) []int {
	var out []int
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r < '0' || r > '9' }) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

// notBuiltin drops the modules that modules.builtin lists.
func notBuiltin(want []string, builtin []byte) []string {
	var out []string
	for _, m := range want {
		if !bytes.Contains(builtin, []byte("/"+m+".ko\n")) {
			out = append(out, m)
		}
	}
	return out
}
