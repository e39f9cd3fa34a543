package vm

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

type cpioMember struct {
	name       string
	mode       uint32
	data       string
	rmaj, rmin uint32
	nlink, uid uint32
}

// readCPIO is an independent newc parser used to check WriteCPIO.
func readCPIO(t *testing.T, b []byte) []cpioMember {
	t.Helper()
	var out []cpioMember
	off := 0
	align := func(n int) int { return (n + 3) &^ 3 }
	for {
		if off+110 > len(b) {
			t.Fatalf("truncated header at %d", off)
		}
		h := b[off : off+110]
		if string(h[:6]) != "070701" {
			t.Fatalf("bad magic %q at %d", h[:6], off)
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(string(h[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				t.Fatalf("field %d: %v", i, err)
			}
			return uint32(v)
		}
		mode, uid, nlink, size, rmaj, rmin, namesize := field(1), field(2), field(4), field(6), field(9), field(10), field(11)
		name := string(b[off+110 : off+110+int(namesize)-1])
		if b[off+110+int(namesize)-1] != 0 {
			t.Fatalf("name %q not NUL-terminated", name)
		}
		off = align(off + 110 + int(namesize))
		data := string(b[off : off+int(size)])
		off = align(off + int(size))
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after trailer", len(b)-off)
			}
			return out
		}
		out = append(out, cpioMember{name: name, mode: mode, data: data, rmaj: rmaj, rmin: rmin, nlink: nlink, uid: uid})
	}
}

func TestWriteCPIO(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, []byte("from host file!"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      []CPIOEntry
		want    []cpioMember
		wantErr bool
	}{
		{
			name: "all kinds with implicit parents",
			in: []CPIOEntry{
				{Path: "/init", Mode: 0o755, Data: []byte("#!/bin/sh\n")},
				{Path: "bin/busybox", Mode: 0o755, Source: src},
				{Path: "bin/sh", Mode: fs.ModeSymlink, Target: "busybox"},
				{Path: "dev", Mode: fs.ModeDir},
				{Path: "dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 5, Minor: 1},
				{Path: "lib/modules/6.1/a.ko", Data: []byte("x"), UID: 7},
			},
			want: []cpioMember{
				{name: "init", mode: 0o100755, data: "#!/bin/sh\n", nlink: 1},
				{name: "bin", mode: 0o040755, nlink: 2},
				{name: "bin/busybox", mode: 0o100755, data: "from host file!", nlink: 1},
				{name: "bin/sh", mode: 0o120777, data: "busybox", nlink: 1},
				{name: "dev", mode: 0o040755, nlink: 2},
				{name: "dev/console", mode: 0o020600, rmaj: 5, rmin: 1, nlink: 1},
				{name: "lib", mode: 0o040755, nlink: 2},
				{name: "lib/modules", mode: 0o040755, nlink: 2},
				{name: "lib/modules/6.1", mode: 0o040755, nlink: 2},
				{name: "lib/modules/6.1/a.ko", mode: 0o100644, data: "x", nlink: 1, uid: 7},
			},
		},
		{
			name: "listed parent after its child",
			in: []CPIOEntry{
				{Path: "etc/x", Data: []byte("1")},
				{Path: "etc", Mode: fs.ModeDir | 0o700},
			},
			wantErr: true,
		},
		{name: "duplicate", in: []CPIOEntry{{Path: "a"}, {Path: "/a"}}, wantErr: true},
		{name: "escape", in: []CPIOEntry{{Path: "../a"}}, wantErr: true},
		{name: "empty", in: []CPIOEntry{{Path: "/"}}, wantErr: true},
		{name: "symlink without target", in: []CPIOEntry{{Path: "l", Mode: fs.ModeSymlink}}, wantErr: true},
		{name: "missing source", in: []CPIOEntry{{Path: "f", Source: filepath.Join(t.TempDir(), "nope")}}, wantErr: true},
		{name: "unsupported kind", in: []CPIOEntry{{Path: "p", Mode: fs.ModeNamedPipe}}, wantErr: true},
		{name: "empty archive", in: nil, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := WriteCPIO(&buf, tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			got := readCPIO(t, buf.Bytes())
			if len(got) != len(tt.want) {
				t.Fatalf("got %d members %+v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("member %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
