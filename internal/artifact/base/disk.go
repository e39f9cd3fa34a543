package base

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goldsmith/goldsmith/internal/instance/vm"
	"github.com/goldsmith/goldsmith/internal/tailbuf"
)

// DiskOptions configure DebianDisk.
type DiskOptions struct {
	Dir     string   // work and output directory (created; the caller removes it)
	Mirrors []string // mmdebstrap mirror lines ("deb URL suite comp"); nil = HostMirrors
	SizeGiB int      // virtual disk size in GiB; 0 = 2
	Accel   string   // "kvm" | "tcg" for the GRUB builder VM; "" = vm.DetectAccel("auto")
	Logger  *slog.Logger
}

// DiskImage is a bootable Debian disk image made by DebianDisk.
type DiskImage struct {
	Path        string    // Dir/disk.qcow2: standalone qcow2 (no backing file)
	VirtualSize int64     // bytes
	OSVersion   string    // PRETTY_NAME of /etc/os-release
	Kernel      string    // kernel release, e.g. 6.1.0-56-cloud-amd64
	FSUUID      string    // UUID of the root ext4 filesystem (partition 1)
	Packages    []Package // installed packages (dpkg status), sorted by name
	Timings     []StepTime
}

// StepTime is how long one step of a build took.
type StepTime struct {
	Step string
	Took time.Duration
}

// DiskSuite is the Debian release of DebianDisk's image.
const DiskSuite = "bookworm"

// Layout of the disk: one DOS partition from sector 2048 (1 MiB) to the
// end; the gap before it holds GRUB's core image.
const (
	diskSector         = 512
	diskPartStart      = 2048 * diskSector
	defaultDiskSizeGiB = 2
	// grubVMLimit bounds the GRUB builder VM (about 20 s under TCG).
	grubVMLimit = 5 * time.Minute
)

// DebianDisk builds a bootable Debian 12 disk image (BIOS, GRUB, the cloud
// kernel, systemd, cloud-init with local datasources, DHCP on eth0, SSH)
// from the host's apt mirrors, without any other network access:
//
//  1. mmdebstrap --variant=minbase with DiskPackages into Dir/rootfs;
//  2. configuration (customizeRootfs) and golden-image cleanup
//     (sanitizeRootfs) of that directory;
//  3. a raw disk with one DOS partition from sector 2048 (sfdisk) and
//     mkfs.ext4 -d straight into the partition;
//  4. grub-install and update-grub inside a builder VM that boots the
//     image's own kernel and initramfs with the disk as /dev/vda (loop
//     devices get no partitions on some hosts, so the host cannot do it);
//  5. qemu-img convert to Dir/disk.qcow2.
//
// The root filesystem (in the background, during step 4), the raw disk and
// the kernel copy are removed on success; the GRUB VM's console log stays
// in Dir/grub-vm. Needs root, mmdebstrap, sfdisk,
// mkfs.ext4, qemu-img and qemu-system-x86_64.
func DebianDisk(ctx context.Context, o DiskOptions) (*DiskImage, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("image", "debian-12-disk")
	if o.Dir == "" {
		return nil, errors.New("debian disk: no work directory")
	}
	if o.SizeGiB == 0 {
		o.SizeGiB = defaultDiskSizeGiB
	}
	if o.SizeGiB < 1 {
		return nil, fmt.Errorf("debian disk: bad size %d GiB", o.SizeGiB)
	}
	for _, tool := range []string{"mmdebstrap", "sfdisk", "mkfs.ext4", "qemu-img", "qemu-system-x86_64"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("debian disk: %s is not installed: %w", tool, err)
		}
	}
	mirrors := o.Mirrors
	if len(mirrors) == 0 {
		m, err := HostMirrors("/", DiskSuite)
		if err != nil {
			return nil, fmt.Errorf("debian disk: %w", err)
		}
		mirrors = m
	}
	accel := o.Accel
	if accel == "" {
		a, err := vm.DetectAccel("auto")
		if err != nil {
			return nil, fmt.Errorf("debian disk: %w", err)
		}
		accel = a
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("debian disk: %w", err)
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("debian disk: %w", err)
	}
	rootfs := filepath.Join(dir, "rootfs")
	raw := filepath.Join(dir, "disk.raw")
	img := &DiskImage{Path: filepath.Join(dir, "disk.qcow2"), VirtualSize: int64(o.SizeGiB) << 30}
	step := func(name string, f func() error) error {
		start := time.Now()
		log.Info("debian disk: step", "step", name)
		err := f()
		took := time.Since(start)
		if err != nil {
			log.Warn("debian disk: step failed", "step", name, "took", took.Round(time.Millisecond), "err", err)
			return fmt.Errorf("debian disk: %w", err)
		}
		img.Timings = append(img.Timings, StepTime{Step: name, Took: took})
		log.Info("debian disk: step done", "step", name, "took", took.Round(time.Millisecond))
		return nil
	}

	var meta *rootfsMeta
	bootDir := filepath.Join(dir, "boot")
	// The root filesystem is removed in the background once the disk holds
	// it (removal is I/O-bound, the GRUB VM CPU-bound); DebianDisk waits
	// for it before returning, whatever happens.
	var removed chan error
	defer func() {
		if removed != nil {
			<-removed
		}
	}()
	steps := []struct {
		name string
		f    func() error
	}{
		{"mmdebstrap", func() error {
			log.Info("debian disk: mirrors", "mirrors", mirrors)
			return mmdebstrapDir(ctx, DiskSuite, rootfs, DiskPackages, mirrors)
		}},
		{"customize", func() error {
			if img.FSUUID, err = newUUID(); err != nil {
				return err
			}
			if err := customizeRootfs(rootfs, diskCustomization{FSUUID: img.FSUUID, Hostname: diskHostname}); err != nil {
				return err
			}
			if err := sanitizeRootfs(rootfs); err != nil {
				return err
			}
			meta, err = readRootfsMeta(rootfs)
			return err
		}},
		{"mkfs", func() error {
			if err := makeRawDisk(ctx, raw, img.VirtualSize, rootfs, img.FSUUID); err != nil {
				return err
			}
			if err := copyBootFiles(rootfs, bootDir, meta); err != nil {
				return err
			}
			removed = make(chan error, 1)
			go func() { removed <- removeRootfs(rootfs) }()
			return nil
		}},
		{"grub-vm", func() error {
			return installGrub(ctx, grubVM{
				Accel:   accel,
				Raw:     raw,
				Kernel:  filepath.Join(bootDir, "vmlinuz"),
				Initrd:  filepath.Join(bootDir, "initrd.img"),
				FSUUID:  img.FSUUID,
				RunDir:  filepath.Join(dir, "grub-vm"),
				Limit:   grubVMLimit,
				Logger:  log,
				Console: 60,
			})
		}},
		{"convert", func() error {
			if err := vm.Convert(ctx, raw, "raw", img.Path, "qcow2", vm.ConvertOptions{}); err != nil {
				return fmt.Errorf("convert to qcow2: %w", err)
			}
			return nil
		}},
		{"cleanup", func() error {
			err := <-removed
			removed = nil
			if err != nil {
				return err
			}
			if err := os.Remove(raw); err != nil {
				return fmt.Errorf("remove raw disk: %w", err)
			}
			if err := os.RemoveAll(bootDir); err != nil {
				return fmt.Errorf("remove kernel copy: %w", err)
			}
			return nil
		}},
	}
	total := time.Now()
	for _, s := range steps {
		if err := step(s.name, s.f); err != nil {
			return nil, err
		}
	}
	img.OSVersion, img.Kernel, img.Packages = meta.OSVersion, meta.Kernel, meta.Packages
	log.Info("debian disk: done", "path", img.Path, "os", img.OSVersion, "kernel", img.Kernel,
		"packages", len(img.Packages), "took", time.Since(total).Round(time.Millisecond))
	return img, nil
}

// makeRawDisk creates the raw disk at raw: size bytes, a DOS label with one
// bootable Linux partition from sector 2048 to the end (sfdisk), and an
// ext4 filesystem labelled "root" with the given UUID, filled from rootfs,
// written straight into the partition (mkfs.ext4 -E offset). mke2fs uses
// the root filesystem's own /etc/mke2fs.conf when it has one, so that the
// filesystem features are those its kernel and GRUB know.
func makeRawDisk(ctx context.Context, raw string, size int64, rootfs, uuid string) error {
	f, err := os.OpenFile(raw, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("raw disk: %w", err)
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("raw disk: %w", err)
	}
	layout := fmt.Sprintf("label: dos\nstart=%d, type=83, bootable\n", diskPartStart/diskSector)
	if err := runTool(ctx, nil, strings.NewReader(layout), "sfdisk", "-q", raw); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	start, length, err := firstMBRPartition(raw)
	if err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	if start != diskPartStart || start+length != size {
		return fmt.Errorf("partition: sfdisk made partition 1 at %d+%d, want %d to %d", start, length, diskPartStart, size)
	}
	var env []string
	if _, err := os.Stat(filepath.Join(rootfs, "etc/mke2fs.conf")); err == nil {
		env = []string{"MKE2FS_CONFIG=" + filepath.Join(rootfs, "etc/mke2fs.conf")}
	}
	args := []string{"-q", "-F", "-L", "root", "-U", uuid, "-E", "offset=" + strconv.FormatInt(start, 10),
		"-d", rootfs, raw, strconv.FormatInt(length/1024, 10) + "k"}
	if err := runTool(ctx, env, nil, "mkfs.ext4", args...); err != nil {
		return fmt.Errorf("mkfs: %w", err)
	}
	return nil
}

// firstMBRPartition reads the start and length in bytes of the first
// primary partition of the DOS partition table on the disk at path.
func firstMBRPartition(path string) (start, length int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("read MBR: %w", err)
	}
	defer f.Close()
	mbr := make([]byte, diskSector)
	if _, err := io.ReadFull(f, mbr); err != nil {
		return 0, 0, fmt.Errorf("read MBR: %w", err)
	}
	return parseMBRPartition1(mbr)
}

// parseMBRPartition1 decodes entry 1 of a master boot record.
func parseMBRPartition1(mbr []byte) (start, length int64, err error) {
	if len(mbr) < diskSector || mbr[510] != 0x55 || mbr[511] != 0xaa {
		return 0, 0, errors.New("no DOS partition table (boot signature missing)")
	}
	e := mbr[446 : 446+16]
	if e[4] == 0 {
		return 0, 0, errors.New("partition 1 is empty")
	}
	lba := int64(binary.LittleEndian.Uint32(e[8:12]))
	n := int64(binary.LittleEndian.Uint32(e[12:16]))
	return lba * diskSector, n * diskSector, nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("uuid: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// copyBootFiles copies the kernel and initramfs of the root filesystem to
// dir/vmlinuz and dir/initrd.img for the GRUB builder VM.
func copyBootFiles(rootfs, dir string, meta *rootfsMeta) error {
	r, err := os.OpenRoot(rootfs)
	if err != nil {
		return fmt.Errorf("copy kernel: %w", err)
	}
	defer r.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("copy kernel: %w", err)
	}
	for src, dst := range map[string]string{meta.Vmlinuz: "vmlinuz", meta.Initrd: "initrd.img"} {
		data, err := r.ReadFile(src)
		if err != nil {
			return fmt.Errorf("copy kernel: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o644); err != nil {
			return fmt.Errorf("copy kernel: %w", err)
		}
	}
	return nil
}

// removeRootfs removes the root filesystem directory, after making sure
// nothing is mounted below it.
func removeRootfs(rootfs string) error {
	if err := detachMountsUnder(rootfs); err != nil {
		return err
	}
	if err := os.RemoveAll(rootfs); err != nil {
		return fmt.Errorf("remove rootfs: %w", err)
	}
	return nil
}

// runTool runs a host tool, with extra environment and stdin, and returns
// an error holding the tail of its output when it fails.
func runTool(ctx context.Context, env []string, stdin io.Reader, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	out := tailbuf.New(4 << 10)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%s: %w", name, cerr)
		}
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(out.String()))
	}
	return nil
}
