package vmbuild

import (
	"encoding/binary"
	"errors"
	"testing"
)

func mbrWith(parts ...[3]uint32) []byte { // type, start, count
	s := make([]byte, 512)
	s[510], s[511] = 0x55, 0xaa
	for i, p := range parts {
		e := s[446+16*i:]
		e[4] = byte(p[0])
		binary.LittleEndian.PutUint32(e[8:], p[1])
		binary.LittleEndian.PutUint32(e[12:], p[2])
	}
	return s
}

func TestGrowLastPartition(t *testing.T) {
	const total = 6291456 // 3 GiB in sectors
	tests := []struct {
		name      string
		sector    []byte
		wantPart  int
		wantCount uint32
		noGrow    bool
	}{
		{"one partition", mbrWith([3]uint32{0x83, 2048, 4192256}), 1, total - 2048, false},
		{"root after swap", mbrWith([3]uint32{0x82, 2048, 1000000}, [3]uint32{0x83, 1002048, 3000000}), 2, total - 1002048, false},
		{"last slot is not the last on disk", mbrWith([3]uint32{0x83, 3000000, 1000000}, [3]uint32{0x82, 2048, 100000}), 1, total - 3000000, false},
		{"gpt", mbrWith([3]uint32{0xee, 1, 0xffffffff}), 0, 0, true},
		{"extended", mbrWith([3]uint32{0x83, 2048, 1000}, [3]uint32{0x05, 4096, 1000}), 0, 0, true},
		{"no label", make([]byte, 512), 0, 0, true},
		{"already full", mbrWith([3]uint32{0x83, 2048, total - 2048}), 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := growLastPartition(tt.sector, total)
			if tt.noGrow {
				if !errors.Is(err, errNoGrow) {
					t.Fatalf("err = %v, want errNoGrow", err)
				}
				return
			}
			if err != nil || n != tt.wantPart {
				t.Fatalf("growLastPartition = %d, %v; want %d", n, err, tt.wantPart)
			}
			e := tt.sector[446+16*(n-1):]
			if got := binary.LittleEndian.Uint32(e[12:]); got != tt.wantCount {
				t.Errorf("sector count = %d, want %d", got, tt.wantCount)
			}
		})
	}
}

// FuzzGrowLastPartition: any sector either is refused or gets a partition
// that ends exactly at the disk's end.
func FuzzGrowLastPartition(f *testing.F) {
	f.Add(mbrWith([3]uint32{0x83, 2048, 4192256}), int64(6291456))
	f.Add(mbrWith([3]uint32{0x82, 2048, 1000000}, [3]uint32{0x83, 1002048, 3000000}), int64(8000000))
	f.Add(make([]byte, 512), int64(100))
	f.Fuzz(func(t *testing.T, sector []byte, total int64) {
		if len(sector) < 512 || total <= 0 {
			return
		}
		sector = append([]byte(nil), sector[:512]...)
		n, err := growLastPartition(sector, total)
		if err != nil {
			return
		}
		e := sector[446+16*(n-1):]
		start := int64(binary.LittleEndian.Uint32(e[8:]))
		count := int64(binary.LittleEndian.Uint32(e[12:]))
		if want := min(total, 1<<32-1); start+count != want {
			t.Fatalf("partition %d ends at %d, want %d", n, start+count, want)
		}
	})
}
