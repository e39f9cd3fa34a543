package agent

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// strippedELF returns the 64-bit little-endian ELF executable at path
// without what the program does not load: the debug sections, the symbol
// table and its strings (what `go build -ldflags='-s -w'` leaves out). It
// keeps the file up to the end of its last PT_LOAD segment and a new
// section header table of the allocated sections. ok is false (and data
// nil) when the file is not such an ELF or has nothing to strip; the caller
// then uses the file as it is.
func strippedELF(path string) (data []byte, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("stripping %s: %w", path, err)
	}
	defer f.Close()
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, false, nil // not an ELF file (or a damaged one): copied as it is
	}
	if ef.Class != elf.ELFCLASS64 || ef.Data != elf.ELFDATA2LSB || ef.Type != elf.ET_EXEC || ef.Section(".dynsym") != nil {
		return nil, false, nil // only static executables such as goldsmith's
	}
	st, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("stripping %s: %w", path, err)
	}
	var end uint64
	for _, p := range ef.Progs {
		end = max(end, p.Off+p.Filesz)
	}
	// Every allocated section must lie in the kept part.
	keep := []*elf.Section{}
	newIndex := map[int]uint32{0: 0}
	for i, s := range ef.Sections {
		if i == 0 || s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		if s.Type != elf.SHT_NOBITS && s.Offset+s.FileSize > end {
			return nil, false, nil // an unusual layout: leave it alone
		}
		newIndex[i] = uint32(len(keep) + 1)
		keep = append(keep, s)
	}
	end = (end + 7) &^ 7
	if end == 0 || end >= uint64(st.Size()) {
		return nil, false, nil
	}
	var shstr bytes.Buffer
	shstr.WriteByte(0)
	nameOff := func(n string) uint32 {
		o := uint32(shstr.Len())
		shstr.WriteString(n)
		shstr.WriteByte(0)
		return o
	}
	shdrs := make([]elf.Section64, 0, len(keep)+2)
	shdrs = append(shdrs, elf.Section64{})
	for _, s := range keep {
		link := newIndex[int(s.Link)] // 0 when the linked section is dropped
		shdrs = append(shdrs, elf.Section64{
			Name: nameOff(s.Name), Type: uint32(s.Type), Flags: uint64(s.Flags), Addr: s.Addr,
			Off: s.Offset, Size: s.FileSize, Link: link, Info: s.Info, Addralign: s.Addralign, Entsize: s.Entsize,
		})
		if s.Type == elf.SHT_NOBITS {
			shdrs[len(shdrs)-1].Size = s.Size
		}
	}
	shstrIndex := len(shdrs)
	shdrs = append(shdrs, elf.Section64{Name: nameOff(".shstrtab"), Type: uint32(elf.SHT_STRTAB), Off: end, Size: uint64(shstr.Len()), Addralign: 1})
	shoff := (end + uint64(shstr.Len()) + 7) &^ 7

	buf := bytes.NewBuffer(make([]byte, 0, shoff+uint64(len(shdrs))*64))
	if _, err := io.Copy(buf, io.NewSectionReader(f, 0, int64(end))); err != nil {
		return nil, false, fmt.Errorf("stripping %s: %w", path, err)
	}
	buf.Write(shstr.Bytes())
	buf.Write(make([]byte, shoff-end-uint64(shstr.Len())))
	if err := binary.Write(buf, binary.LittleEndian, shdrs); err != nil {
		return nil, false, fmt.Errorf("stripping %s: %w", path, err)
	}
	out := buf.Bytes()
	// The ELF header: e_shoff at 0x28, e_shnum at 0x3c, e_shstrndx at 0x3e.
	binary.LittleEndian.PutUint64(out[0x28:], shoff)
	binary.LittleEndian.PutUint16(out[0x3c:], uint16(len(shdrs)))
	binary.LittleEndian.PutUint16(out[0x3e:], uint16(shstrIndex))
	return out, true, nil
}
