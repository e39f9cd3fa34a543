package agent

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/goldsmith/goldsmith/internal/instance/vm"
)

// Initramfs layout read by Init.
const (
	// ModulesDir holds the kernel modules, named NN-<file>, and ModuleOrder.
	ModulesDir = "/lib/goldsmith/modules"
	// ModuleOrderFile lists ModulesDir's files, one a line, in load order.
	ModuleOrderFile = ModulesDir + "/order"
	// GuestBinary is where Init bind-mounts itself (read-only) inside the
	// image's root, on a tmpfs: the image's disk never holds the agent.
	GuestBinary = "/run/goldsmith/goldsmith"
)

// MissingModulesError lists wanted modules that modules.dep does not know
// (often they are built into the kernel: check modules.builtin).
type MissingModulesError struct{ Names []string }

func (e *MissingModulesError) Error() string {
	return "modules not in modules.dep: " + strings.Join(e.Names, ", ")
}

// moduleName is the module name of a modules.dep path
// ("kernel/drivers/block/virtio_blk.ko.xz" → "virtio_blk").
func moduleName(p string) string {
	base := path.Base(p)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

// ModuleOrder returns the module files (paths relative to
// lib/modules/<ver>) to load, in order (dependencies first, each once), for
// the wanted module names, from modules.dep content. Names compare with "-"
// and "_" alike. Wanted names that modules.dep lacks are reported with a
// *MissingModulesError next to the order of the others.
func ModuleOrder(modulesDep []byte, want []string) ([]string, error) {
	deps := map[string][]string{} // file → dependency files
	byName := map[string]string{} // module name → file
	sc := bufio.NewScanner(bytes.NewReader(modulesDep))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		file, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(file) == "" {
			return nil, fmt.Errorf("modules.dep: malformed line %q", line)
		}
		file = strings.TrimSpace(file)
		deps[file] = strings.Fields(rest)
		byName[moduleName(file)] = file
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading modules.dep: %w", err)
	}
	var (
		order   []string
		state   = map[string]int{} // 1 visiting, 2 done
		missing []string
	)
	var visit func(file string, chain []string) error
	visit = func(file string, chain []string) error {
		switch state[file] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("modules.dep: dependency cycle: %s", strings.Join(append(chain, file), " → "))
		}
		state[file] = 1
		ds := deps[file]
		// modprobe loads the listed dependencies last to first.
		for i := len(ds) - 1; i >= 0; i-- {
			if err := visit(ds[i], append(chain, file)); err != nil {
				return err
			}
		}
		state[file] = 2
		order = append(order, file)
		return nil
	}
	for _, w := range want {
		file, ok := byName[strings.ReplaceAll(w, "-", "_")]
		if !ok {
			missing = append(missing, w)
			continue
		}
		if err := visit(file, nil); err != nil {
			return nil, err
		}
	}
	if len(missing) > 0 {
		return order, &MissingModulesError{Names: missing}
	}
	return order, nil
}

// initramfsEntries is the initramfs without the binary's contents source.
func initramfsEntries(goldsmithBinary string, modules []string) []vm.CPIOEntry {
	files := []vm.CPIOEntry{
		{Path: "dev", Mode: fs.ModeDir | 0o755},
		{Path: "dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 5, Minor: 1},
		{Path: "dev/null", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, Major: 1, Minor: 3},
		{Path: "proc", Mode: fs.ModeDir | 0o555},
		{Path: "sys", Mode: fs.ModeDir | 0o555},
		{Path: "root", Mode: fs.ModeDir | 0o700},
		{Path: "run", Mode: fs.ModeDir | 0o755},
		{Path: "tmp", Mode: fs.ModeDir | 0o1777},
		{Path: "init", Mode: 0o755, Source: goldsmithBinary},
		{Path: "lib", Mode: fs.ModeDir | 0o755},
		{Path: "lib/goldsmith", Mode: fs.ModeDir | 0o755},
		{Path: ModulesDir, Mode: fs.ModeDir | 0o755},
	}
	var order strings.Builder
	for i, m := range modules {
		name := fmt.Sprintf("%02d-%s", i+1, path.Base(m))
		files = append(files, vm.CPIOEntry{Path: path.Join(ModulesDir, name), Mode: 0o644, Source: m})
		order.WriteString(name + "\n")
	}
	files = append(files, vm.CPIOEntry{Path: ModuleOrderFile, Mode: 0o644, Data: []byte(order.String())})
	return files
}

// WriteInitramfs writes an uncompressed newc cpio: /init = the goldsmith
// binary, the module files (host paths, in load order) under ModulesDir
// with ModuleOrderFile, and the folders and device nodes Init needs.
// A static ELF binary goes in stripped of its debug sections and symbol
// table (about 30% of an unstripped goldsmith): the VM's firmware loads and
// its kernel unpacks every byte of the initramfs, slowly under TCG.
func WriteInitramfs(w io.Writer, goldsmithBinary string, modules []string) error {
	entries := initramfsEntries(goldsmithBinary, modules)
	stripped, ok, err := strippedELF(goldsmithBinary)
	if err != nil {
		return fmt.Errorf("writing the initramfs: %w", err)
	}
	if ok {
		for i := range entries {
			if entries[i].Path == "init" {
				entries[i].Source, entries[i].Data = "", stripped
			}
		}
	}
	if err := vm.WriteCPIO(w, entries); err != nil {
		return fmt.Errorf("writing the initramfs: %w", err)
	}
	return nil
}

// BootConfig are the goldsmith.* kernel parameters that Init reads.
type BootConfig struct {
	Root       string        // goldsmith.root: the image's root block device, e.g. /dev/vda1
	RootFSType string        // goldsmith.rootfstype (default ext4)
	Network    bool          // goldsmith.net=1: configure virtio-net for QEMU's slirp
	Hostname   string        // goldsmith.hostname (default goldsmith-build)
	Port       string        // goldsmith.port: the agent's serial port (default /dev/ttyS1)
	RootWait   time.Duration // goldsmith.rootwait: how long to wait for Root, in seconds (default 30)
	Debug      bool          // goldsmith.debug=1: debug log on the console
}

// Defaults of BootConfig.
const (
	DefaultRootFSType = "ext4"
	DefaultHostname   = "goldsmith-build"
	DefaultPort       = "/dev/ttyS1"
	DefaultRootWait   = 30 * time.Second
)

// KernelArgs renders the goldsmith.* kernel parameters that Init reads;
// the caller adds the kernel's own (console=ttyS0 panic=-1 quiet).
func KernelArgs(p BootConfig) string {
	var args []string
	add := func(k, v string) {
		if v != "" {
			args = append(args, "goldsmith."+k+"="+v)
		}
	}
	add("root", p.Root)
	add("rootfstype", p.RootFSType)
	if p.Network {
		add("net", "1")
	} else {
		add("net", "0")
	}
	add("hostname", p.Hostname)
	add("port", p.Port)
	if p.RootWait > 0 {
		add("rootwait", strconv.Itoa(int(p.RootWait.Round(time.Second)/time.Second)))
	}
	if p.Debug {
		add("debug", "1")
	}
	return strings.Join(args, " ")
}

// ParseKernelArgs reads the goldsmith.* parameters of a kernel command line
// and fills in the defaults.
func ParseKernelArgs(cmdline string) (BootConfig, error) {
	p := BootConfig{RootFSType: DefaultRootFSType, Hostname: DefaultHostname, Port: DefaultPort, RootWait: DefaultRootWait}
	for _, f := range strings.Fields(cmdline) {
		k, v, _ := strings.Cut(f, "=")
		name, ok := strings.CutPrefix(k, "goldsmith.")
		if !ok {
			continue
		}
		switch name {
		case "root":
			p.Root = v
		case "rootfstype":
			p.RootFSType = v
		case "net":
			p.Network = v == "1" || v == "true"
		case "hostname":
			p.Hostname = v
		case "port":
			p.Port = v
		case "rootwait":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return p, fmt.Errorf("goldsmith.rootwait=%q: want a positive number of seconds", v)
			}
			p.RootWait = time.Duration(n) * time.Second
		case "debug":
			p.Debug = v == "1" || v == "true"
		}
	}
	if p.Root == "" {
		return p, fmt.Errorf("the kernel command line has no goldsmith.root")
	}
	return p, nil
}
