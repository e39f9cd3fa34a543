package vm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// Partition is one entry of a disk's partition table.
type Partition struct {
	Number   int   // 1-based: MBR slot 1–4, GPT entry index + 1
	Start    int64 // bytes from the start of the disk
	Size     int64 // bytes
	Type     string
	Bootable bool // MBR active flag; GPT legacy-BIOS-bootable attribute
}

const sectorSize = 512

// Partitions reads an MBR (primary partitions; extended containers and
// their logical partitions are skipped) or a GPT (behind a protective MBR)
// with 512-byte sectors. A disk without a valid table (a bare filesystem,
// or boot-sector-like data whose entries are not valid) has no partitions:
// (nil, nil). A table whose entries point past size is an error. MBR types
// are "0x83"-style; GPT types are the type GUID in lower case.
func Partitions(r io.ReaderAt, size int64) ([]Partition, error) {
	if size < sectorSize {
		return nil, nil
	}
	mbr := make([]byte, sectorSize)
	if _, err := r.ReadAt(mbr, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading MBR: %w", err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		return nil, nil
	}
	type mbrEntry struct {
		boot, typ     byte
		start, sector uint32
	}
	var entries [4]mbrEntry
	protective := false
	for i := range entries {
		e := mbr[446+16*i : 446+16*(i+1)]
		entries[i] = mbrEntry{boot: e[0], typ: e[4], start: binary.LittleEndian.Uint32(e[8:]), sector: binary.LittleEndian.Uint32(e[12:])}
		if e[0] != 0 && e[0] != 0x80 {
			return nil, nil // not a partition table (e.g. a FAT or NTFS boot sector)
		}
		if e[4] == 0xee {
			protective = true
		}
	}
	if protective {
		return gptPartitions(r, size)
	}
	var parts []Partition
	for i, e := range entries {
		if e.typ == 0 || e.sector == 0 {
			continue
		}
		if e.typ == 0x05 || e.typ == 0x0f || e.typ == 0x85 {
			continue // extended container
		}
		start, length := int64(e.start)*sectorSize, int64(e.sector)*sectorSize
		if e.start == 0 || start+length > size {
			return nil, fmt.Errorf("MBR partition %d (sectors %d+%d) lies outside the %d-byte disk", i+1, e.start, e.sector, size)
		}
		parts = append(parts, Partition{Number: i + 1, Start: start, Size: length, Type: fmt.Sprintf("0x%02x", e.typ), Bootable: e.boot == 0x80})
	}
	return parts, nil
}

func gptPartitions(r io.ReaderAt, size int64) ([]Partition, error) {
	hdr := make([]byte, sectorSize)
	if _, err := r.ReadAt(hdr, sectorSize); err != nil {
		return nil, fmt.Errorf("reading GPT header: %w", err)
	}
	if string(hdr[:8]) != "EFI PART" {
		return nil, errors.New("protective MBR but no GPT header at LBA 1")
	}
	hsize := binary.LittleEndian.Uint32(hdr[12:])
	if hsize < 92 || hsize > sectorSize {
		return nil, fmt.Errorf("GPT header size %d is invalid", hsize)
	}
	want := binary.LittleEndian.Uint32(hdr[16:])
	h := bytes.Clone(hdr[:hsize])
	binary.LittleEndian.PutUint32(h[16:], 0)
	if got := crc32.ChecksumIEEE(h); got != want {
		return nil, fmt.Errorf("GPT header CRC %08x, want %08x", got, want)
	}
	lastLBA := uint64(size/sectorSize) - 1
	entryLBA := binary.LittleEndian.Uint64(hdr[72:])
	count := binary.LittleEndian.Uint32(hdr[80:])
	esize := binary.LittleEndian.Uint32(hdr[84:])
	if esize < 128 || esize%8 != 0 || esize > 4096 || count > 4096 || uint64(count)*uint64(esize) > 1<<20 {
		return nil, fmt.Errorf("GPT entry array (%d entries of %d bytes) is invalid", count, esize)
	}
	table := make([]byte, int(count)*int(esize))
	if entryLBA < 2 || entryLBA > lastLBA || int64(entryLBA)*sectorSize+int64(len(table)) > size {
		return nil, fmt.Errorf("GPT entry array at LBA %d lies outside the disk", entryLBA)
	}
	if _, err := r.ReadAt(table, int64(entryLBA)*sectorSize); err != nil {
		return nil, fmt.Errorf("reading GPT entries: %w", err)
	}
	if got, want := crc32.ChecksumIEEE(table), binary.LittleEndian.Uint32(hdr[88:]); got != want {
		return nil, fmt.Errorf("GPT entry array CRC %08x, want %08x", got, want)
	}
	var parts []Partition
	for i := 0; i < int(count); i++ {
		e := table[i*int(esize) : (i+1)*int(esize)]
		if bytes.Equal(e[:16], make([]byte, 16)) {
			continue
		}
		first, last := binary.LittleEndian.Uint64(e[32:]), binary.LittleEndian.Uint64(e[40:])
		if first == 0 || last < first || last > lastLBA {
			return nil, fmt.Errorf("GPT partition %d (LBA %d–%d) lies outside the %d-byte disk", i+1, first, last, size)
		}
		attrs := binary.LittleEndian.Uint64(e[48:])
		parts = append(parts, Partition{
			Number:   i + 1,
			Start:    int64(first) * sectorSize,
			Size:     int64(last-first+1) * sectorSize,
			Type:     guidString(e[:16]),
			Bootable: attrs&(1<<2) != 0,
		})
	}
	return parts, nil
}

// guidString formats a mixed-endian on-disk GUID.
func guidString(b []byte) string {
	s := fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint16(b[4:]), binary.LittleEndian.Uint16(b[6:]), b[8:10], b[10:16])
	return strings.ToLower(s)
}

// Well-known GPT partition type GUIDs.
const (
	GPTLinuxFilesystem = "0fc63daf-8483-4772-8e79-3d69d8477de4"
	GPTEFISystem       = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
	GPTBIOSBoot        = "21686148-6449-6e6f-744e-656564454649"
)
