package vm

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mbrDisk builds a sector-0 MBR with the given 16-byte entries.
func mbrDisk(size int, entries ...[16]byte) []byte {
	b := make([]byte, size)
	for i, e := range entries {
		copy(b[446+16*i:], e[:])
	}
	b[510], b[511] = 0x55, 0xaa
	return b
}

func mbrEntry(boot, typ byte, start, sectors uint32) [16]byte {
	var e [16]byte
	e[0], e[4] = boot, typ
	binary.LittleEndian.PutUint32(e[8:], start)
	binary.LittleEndian.PutUint32(e[12:], sectors)
	return e
}

type gptPart struct {
	typ         string // GUID text
	first, last uint64
	attrs       uint64
}

func guidBytes(s string) []byte {
	h := strings.ReplaceAll(s, "-", "")
	raw := make([]byte, 16)
	for i := range raw {
		var v byte
		for _, c := range h[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			default:
				v |= byte(c-'a') + 10
			}
		}
		raw[i] = v
	}
	out := make([]byte, 16)
	binary.LittleEndian.PutUint32(out[0:], binary.BigEndian.Uint32(raw[0:]))
	binary.LittleEndian.PutUint16(out[4:], binary.BigEndian.Uint16(raw[4:]))
	binary.LittleEndian.PutUint16(out[6:], binary.BigEndian.Uint16(raw[6:]))
	copy(out[8:], raw[8:])
	return out
}

// gptDisk builds a protective MBR + primary GPT (128 entries) in memory.
func gptDisk(size int, parts ...gptPart) []byte {
	b := mbrDisk(size, mbrEntry(0, 0xee, 1, uint32(size/512-1)))
	table := make([]byte, 128*128)
	for i, p := range parts {
		e := table[i*128:]
		copy(e, guidBytes(p.typ))
		e[16] = byte(i + 1) // unique GUID
		binary.LittleEndian.PutUint64(e[32:], p.first)
		binary.LittleEndian.PutUint64(e[40:], p.last)
		binary.LittleEndian.PutUint64(e[48:], p.attrs)
	}
	copy(b[2*512:], table)
	h := b[512 : 512+92]
	copy(h, "EFI PART")
	binary.LittleEndian.PutUint32(h[8:], 0x00010000)
	binary.LittleEndian.PutUint32(h[12:], 92)
	binary.LittleEndian.PutUint64(h[24:], 1)
	binary.LittleEndian.PutUint64(h[32:], uint64(size/512-1))
	binary.LittleEndian.PutUint64(h[40:], 34)
	binary.LittleEndian.PutUint64(h[48:], uint64(size/512-34))
	binary.LittleEndian.PutUint64(h[72:], 2)
	binary.LittleEndian.PutUint32(h[80:], 128)
	binary.LittleEndian.PutUint32(h[84:], 128)
	binary.LittleEndian.PutUint32(h[88:], crc32.ChecksumIEEE(table))
	binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h))
	return b
}

func TestPartitionsInMemory(t *testing.T) {
	const size = 4 << 20
	badHeaderCRC := gptDisk(size, gptPart{typ: GPTLinuxFilesystem, first: 2048, last: 4095})
	badHeaderCRC[512+16] ^= 0xff
	badTableCRC := gptDisk(size, gptPart{typ: GPTLinuxFilesystem, first: 2048, last: 4095})
	badTableCRC[2*512+40] ^= 0x01
	tests := []struct {
		name    string
		disk    []byte
		want    []Partition
		wantErr bool
	}{
		{name: "empty disk", disk: make([]byte, size)},
		{name: "tiny", disk: make([]byte, 100)},
		{name: "mbr", disk: mbrDisk(size, mbrEntry(0x80, 0x83, 2048, 4096), mbrEntry(0, 0x05, 6144, 100), [16]byte{}, mbrEntry(0, 0x82, 6244, 100)),
			want: []Partition{{Number: 1, Start: 1 << 20, Size: 2 << 20, Type: "0x83", Bootable: true}, {Number: 4, Start: 6244 * 512, Size: 100 * 512, Type: "0x82"}}},
		{name: "boot sector, not a table", disk: mbrDisk(size, mbrEntry(0x12, 0x83, 1, 1))},
		{name: "mbr past the end", disk: mbrDisk(size, mbrEntry(0, 0x83, 2048, 1<<20)), wantErr: true},
		{name: "gpt", disk: gptDisk(size,
			gptPart{typ: GPTBIOSBoot, first: 34, last: 2047, attrs: 0},
			gptPart{typ: GPTLinuxFilesystem, first: 2048, last: 8191, attrs: 1 << 2}),
			want: []Partition{
				{Number: 1, Start: 34 * 512, Size: 2014 * 512, Type: GPTBIOSBoot},
				{Number: 2, Start: 1 << 20, Size: 6144 * 512, Type: GPTLinuxFilesystem, Bootable: true}}},
		{name: "gpt past the end", disk: gptDisk(size, gptPart{typ: GPTLinuxFilesystem, first: 2048, last: 1 << 30}), wantErr: true},
		{name: "gpt header crc", disk: badHeaderCRC, wantErr: true},
		{name: "gpt table crc", disk: badTableCRC, wantErr: true},
		{name: "protective mbr without gpt", disk: mbrDisk(size, mbrEntry(0, 0xee, 1, 100)), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Partitions(bytes.NewReader(tt.disk), int64(len(tt.disk)))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("partition %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestPartitionsSfdisk(t *testing.T) {
	requireTool(t, "sfdisk")
	tests := []struct {
		name   string
		script string
		want   []Partition
	}{
		{name: "dos", script: "label: dos\nstart=2048, size=4096, type=83, bootable\nstart=6144, type=82\n",
			want: []Partition{{Number: 1, Start: 1 << 20, Size: 2 << 20, Type: "0x83", Bootable: true}, {Number: 2, Start: 3 << 20, Size: (16 << 20) - (3 << 20), Type: "0x82"}}},
		{name: "gpt", script: "label: gpt\nstart=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649\nstart=4096, size=8192, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, attrs=LegacyBIOSBootable\n",
			want: []Partition{{Number: 1, Start: 1 << 20, Size: 1 << 20, Type: GPTBIOSBoot}, {Number: 2, Start: 2 << 20, Size: 4 << 20, Type: GPTLinuxFilesystem, Bootable: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "disk.raw")
			if err := os.WriteFile(img, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(img, 16<<20); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("sfdisk", "-q", img)
			cmd.Stdin = strings.NewReader(tt.script)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sfdisk: %v\n%s", err, out)
			}
			f, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := Partitions(f, 16<<20)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("partition %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func FuzzPartitions(f *testing.F) {
	f.Add(mbrDisk(1024, mbrEntry(0x80, 0x83, 2048, 4096)))
	f.Add(mbrDisk(1024, mbrEntry(0, 0xee, 1, 127)))
	f.Add(gptDisk(20<<10, gptPart{typ: GPTLinuxFilesystem, first: 34, last: 38, attrs: 4}))
	f.Add(make([]byte, 1024))
	f.Fuzz(func(t *testing.T, disk []byte) {
		parts, err := Partitions(bytes.NewReader(disk), int64(len(disk)))
		if err != nil {
			return
		}
		for _, p := range parts {
			if p.Start <= 0 || p.Size <= 0 || p.Start+p.Size > int64(len(disk)) || p.Number < 1 {
				t.Fatalf("invalid partition %+v on a %d-byte disk", p, len(disk))
			}
		}
	})
}
