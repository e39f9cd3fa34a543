package agent

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestStrippedELF(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go tool to build a static test program")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	prog := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from a stripped binary\") }\n"
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "prog")
	build := exec.Command("go", "build", "-o", bin, src)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	orig, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	data, ok, err := strippedELF(bin)
	if err != nil || !ok {
		t.Fatalf("strippedELF = ok %v, %v", ok, err)
	}
	if len(data) >= len(orig) {
		t.Fatalf("stripped %d bytes, original %d", len(data), len(orig))
	}
	t.Logf("stripped %d → %d bytes", len(orig), len(data))
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the stripped file is not a valid ELF: %v", err)
	}
	of, err := elf.NewFile(bytes.NewReader(orig))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{".symtab", ".strtab", ".debug_info"} {
		if ef.Section(name) != nil {
			t.Errorf("%s was kept", name)
		}
	}
	for _, s := range of.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		k := ef.Section(s.Name)
		if k == nil || k.Addr != s.Addr || k.Size != s.Size || k.Type != s.Type {
			t.Errorf("allocated section %s: kept as %+v", s.Name, k)
			continue
		}
		if s.Type != elf.SHT_NOBITS {
			a, _ := s.Data()
			b, _ := k.Data()
			if !bytes.Equal(a, b) {
				t.Errorf("section %s: contents differ", s.Name)
			}
		}
	}
	if len(ef.Progs) != len(of.Progs) {
		t.Errorf("program headers: %d, want %d", len(ef.Progs), len(of.Progs))
	}
	stripped := filepath.Join(dir, "stripped")
	if err := os.WriteFile(stripped, data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(stripped).CombinedOutput()
	if err != nil || string(out) != "hello from a stripped binary\n" {
		t.Fatalf("running the stripped binary: %v, %q", err, out)
	}
}

func TestStrippedELFLeavesOthersAlone(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"script": "#!/bin/sh\necho hi\n", "empty": "", "elf-magic-only": "\x7fELF"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		if data, ok, err := strippedELF(p); ok || data != nil || err != nil {
			t.Errorf("%s: strippedELF = %d bytes, ok %v, %v; want it left alone", name, len(data), ok, err)
		}
	}
	if _, _, err := strippedELF(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file must be an error")
	}
}
