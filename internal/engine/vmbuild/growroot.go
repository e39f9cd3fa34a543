package vmbuild

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// sectorSize is the only sector size goldsmith's disks use.
const sectorSize = 512

// errNoGrow says the disk's layout is not one growRootPartition handles; the
// disk is still bigger, the file system keeps its size.
var errNoGrow = errors.New("the root partition cannot be grown")

// growRootPartition extends the last primary partition of a DOS-labelled
// disk (the layout of the Debian base and most cloud images) to the end of
// the overlay, which CreateOverlay already made volumeSize big, by
// rewriting the partition table in the overlay before the instance boots.
// It returns the partition number to resize the file system of; errNoGrow
// for GPT disks, bare file systems or a last partition that is not the
// one ending last.
func growRootPartition(ctx context.Context, overlay string, size int64, dir string) (int, error) {
	mbr := filepath.Join(dir, "mbr.bin")
	if out, err := exec.CommandContext(ctx, "qemu-img", "dd", "-f", "qcow2", "-O", "raw",
		"if="+overlay, "of="+mbr, "bs=512", "count=1").CombinedOutput(); err != nil {
		return 0, fmt.Errorf("reading the partition table: %v: %s", err, strings.TrimSpace(string(out)))
	}
	defer os.Remove(mbr)
	sector, err := os.ReadFile(mbr)
	if err != nil {
		return 0, fmt.Errorf("reading the partition table: %w", err)
	}
	n, err := growLastPartition(sector, size/sectorSize)
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(mbr, sector, 0o600); err != nil {
		return 0, fmt.Errorf("writing the partition table: %w", err)
	}
	if out, err := exec.CommandContext(ctx, "qemu-io", "-f", "qcow2", "-c", "write -q -s "+mbr+" 0 512", overlay).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("writing the partition table: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return n, nil
}

// growLastPartition rewrites, in an MBR sector, the primary partition that
// ends last so that it ends at totalSectors; it returns its number (1–4).
func growLastPartition(sector []byte, totalSectors int64) (int, error) {
	if len(sector) < sectorSize || sector[510] != 0x55 || sector[511] != 0xaa {
		return 0, fmt.Errorf("%w: no DOS partition table", errNoGrow)
	}
	last, lastEnd := -1, int64(0)
	for i := range 4 {
		e := sector[446+16*i : 446+16*(i+1)]
		typ := e[4]
		if typ == 0 {
			continue
		}
		if typ == 0xee || typ == 0x05 || typ == 0x0f || typ == 0x85 {
			return 0, fmt.Errorf("%w: GPT or extended partitions", errNoGrow)
		}
		start := int64(binary.LittleEndian.Uint32(e[8:]))
		count := int64(binary.LittleEndian.Uint32(e[12:]))
		if end := start + count; end > lastEnd {
			last, lastEnd = i, end
		}
	}
	if last < 0 {
		return 0, fmt.Errorf("%w: no partition", errNoGrow)
	}
	e := sector[446+16*last : 446+16*(last+1)]
	start := int64(binary.LittleEndian.Uint32(e[8:]))
	if totalSectors > 1<<32-1 {
		totalSectors = 1<<32 - 1 // the most a DOS label addresses
	}
	if totalSectors <= lastEnd {
		return 0, fmt.Errorf("%w: the partition already reaches the end", errNoGrow)
	}
	binary.LittleEndian.PutUint32(e[12:], uint32(totalSectors-start))
	return last + 1, nil
}

// growRootFS resizes the root file system (online) to its grown partition.
func (in *instance) growRootFS(ctx context.Context, part int) error {
	dev := "/dev/vda" + strconv.Itoa(part)
	r, err := in.c.Exec(ctx, []string{"resize2fs", dev})
	if err != nil {
		return fmt.Errorf("growing the root file system: %w", err)
	}
	if r.ExitCode != 0 {
		return fmt.Errorf("growing the root file system: resize2fs %s exited %d: %s", dev, r.ExitCode, tail(r.Stderr, 300))
	}
	return nil
}
