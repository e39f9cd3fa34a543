package vm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// patternRaw writes a raw image of size bytes with a marker at offset 1 MiB.
func patternRaw(t *testing.T, dir string, size int64) (string, []byte) {
	t.Helper()
	p := filepath.Join(dir, "src.raw")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	marker := bytes.Repeat([]byte("goldsmith!"), 100)
	if _, err := f.WriteAt(marker, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p, marker
}

func readAt(t *testing.T, path string, off int64, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConvertAndInspect(t *testing.T) {
	requireTool(t, "qemu-img")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	const size = 70 << 20 // not a CHS-friendly size: plain vpc would round it
	src, _ := patternRaw(t, dir, size)
	tests := []struct {
		name       string
		format     string
		opts       ConvertOptions
		exactSize  bool
		wantFormat string
	}{
		{name: "qcow2", format: "qcow2", exactSize: true, wantFormat: "qcow2"},
		{name: "raw", format: "raw", exactSize: true, wantFormat: "raw"},
		{name: "vmdk", format: "vmdk", exactSize: true, wantFormat: "vmdk"},
		{name: "vhd fixed", format: "vpc", opts: ConvertOptions{Subformat: "fixed", ForceSize: true}, exactSize: true, wantFormat: "vpc"},
		{name: "vhd dynamic", format: "vpc", opts: ConvertOptions{ForceSize: true}, exactSize: true, wantFormat: "vpc"},
		{name: "vhdx", format: "vhdx", exactSize: true, wantFormat: "vhdx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(dir, tt.name+"."+tt.format)
			begin := time.Now()
			if err := Convert(ctx, src, "raw", dst, tt.format, tt.opts); err != nil {
				t.Fatal(err)
			}
			t.Logf("convert to %s: %s", tt.name, time.Since(begin))
			info, err := Inspect(ctx, dst)
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != tt.wantFormat {
				t.Errorf("format = %q, want %q", info.Format, tt.wantFormat)
			}
			if tt.name == "vhd fixed" {
				st, err := os.Stat(dst)
				if err != nil {
					t.Fatal(err)
				}
				if st.Size() != size+512 {
					t.Errorf("fixed VHD file is %d bytes, want %d (+512 footer)", st.Size(), size+512)
				}
				if got := string(readAt(t, dst, size, 8)); got != "conectix" {
					t.Errorf("fixed VHD footer cookie = %q", got)
				}
			}
			if tt.exactSize && info.VirtualSize != size {
				t.Errorf("virtual size = %d, want %d", info.VirtualSize, size)
			}
		})
	}
	t.Run("vhd fixed read as vpc", func(t *testing.T) {
		dst := filepath.Join(dir, "vhd fixed.vpc")
		back := filepath.Join(dir, "fixed-back.raw")
		if err := Convert(ctx, dst, "vpc", back, "raw", ConvertOptions{}); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(back)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() != size {
			t.Errorf("fixed VHD virtual size %d, want %d", st.Size(), size)
		}
	})
}

func TestInspectRefuses(t *testing.T) {
	requireTool(t, "qemu-img")
	ctx := context.Background()
	dir := t.TempDir()
	iso := filepath.Join(dir, "x.iso")
	b := make([]byte, 64<<10)
	copy(b[32769:], "CD001")
	if err := os.WriteFile(iso, b, 0o600); err != nil {
		t.Fatal(err)
	}
	unreadable := filepath.Join(dir, "dir.img")
	if err := os.Mkdir(unreadable, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		path  string
		isISO bool
	}{
		{name: "iso", path: iso, isISO: true},
		{name: "missing", path: filepath.Join(dir, "nope.qcow2")},
		{name: "directory", path: unreadable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Inspect(ctx, tt.path)
			if err == nil {
				t.Fatal("Inspect succeeded")
			}
			if errors.Is(err, ErrISO) != tt.isISO {
				t.Fatalf("err = %v, ISO expected %v", err, tt.isISO)
			}
		})
	}
}

func TestEncryptedQcow2(t *testing.T) {
	requireTool(t, "qemu-img")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	src, marker := patternRaw(t, dir, 16<<20)
	enc := filepath.Join(dir, "enc.qcow2")
	secret := []byte("correct horse, battery staple")
	if err := Convert(ctx, src, "raw", enc, "qcow2", ConvertOptions{Encrypt: secret, EncryptIterTime: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(ctx, enc)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Encrypted || info.Format != "qcow2" {
		t.Fatalf("info = %+v, want an encrypted qcow2", info)
	}
	if bytes.Contains(mustRead(t, enc), marker[:20]) {
		t.Fatal("plaintext marker visible in the encrypted file")
	}
	tests := []struct {
		name    string
		secret  []byte
		wantErr bool
	}{
		{name: "no secret", wantErr: true},
		{name: "wrong secret", secret: []byte("wrong"), wantErr: true},
		{name: "right secret", secret: secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, tt.name+".raw")
			err := Convert(ctx, enc, "qcow2", out, "raw", ConvertOptions{SrcSecret: tt.secret})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if _, serr := os.Stat(out); serr == nil {
					t.Error("failed Convert left its output")
				}
				return
			}
			if got := readAt(t, out, 1<<20, len(marker)); !bytes.Equal(got, marker) {
				t.Fatal("decrypted content differs")
			}
		})
	}
	if entries, _ := filepath.Glob(filepath.Join(os.TempDir(), ".secret-*")); len(entries) > 0 {
		t.Errorf("secret files left behind: %v", entries)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOverlayAndResize(t *testing.T) {
	requireTool(t, "qemu-img")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	src, _ := patternRaw(t, dir, 32<<20)
	base := filepath.Join(dir, "base.qcow2")
	if err := Convert(ctx, src, "raw", base, "qcow2", ConvertOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		size     int64
		secret   []byte
		wantSize int64
	}{
		{name: "same size", wantSize: 32 << 20},
		{name: "bigger", size: 64 << 20, wantSize: 64 << 20},
		{name: "encrypted", secret: []byte("s3cret"), wantSize: 32 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ov := filepath.Join(dir, tt.name+".qcow2")
			if err := CreateOverlay(ctx, base, "qcow2", ov, tt.size, tt.secret); err != nil {
				t.Fatal(err)
			}
			info, err := Inspect(ctx, ov)
			if err != nil {
				t.Fatal(err)
			}
			if info.BackingFile != base || info.VirtualSize != tt.wantSize || info.Encrypted != (tt.secret != nil) {
				t.Fatalf("info = %+v, want backing %s, size %d", info, base, tt.wantSize)
			}
		})
	}
	if err := Resize(ctx, base, "qcow2", 48<<20); err != nil {
		t.Fatal(err)
	}
	if info, err := Inspect(ctx, base); err != nil || info.VirtualSize != 48<<20 {
		t.Fatalf("after Resize: %+v, %v", info, err)
	}
}
