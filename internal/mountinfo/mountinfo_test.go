package mountinfo

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	const in = `22 27 0:21 / /proc rw,relatime - proc proc rw
100 27 0:50 / /tmp/scratch/sb/merged rw,relatime shared:1 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
101 27 0:51 / /tmp/with\040space/merged rw - overlay overlay rw
short line
102 27 0:52 / /no/separator rw x y z
`
	got, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Mount{
		{Target: "/proc", FSType: "proc"},
		{Target: "/tmp/scratch/sb/merged", FSType: "overlay"},
		{Target: "/tmp/with space/merged", FSType: "overlay"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse = %+v, want %+v", got, want)
	}
}

func TestUnescape(t *testing.T) {
	tests := map[string]string{
		`plain`:        "plain",
		`a\040b`:       "a b",
		`tab\011`:      "tab\t",
		`back\134o`:    `back\o`,
		`trunc\04`:     `trunc\04`,
		`bad\999`:      `bad\999`,
		`\040\040end`:  "  end",
		`nl\012`:       "nl\n",
		`ends\`:        `ends\`,
		`x\0401\04012`: "x 1 12",
		`/a\040b`:      "/a b",
		`/bad\09`:      `/bad\09`,
		`/short\0`:     `/short\0`,
		`\134x`:        `\x`,
	}
	for in, want := range tests {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDeepestFirst(t *testing.T) {
	got := []string{"/a", "/a/b/c", "/a/b", "/x/y"}
	DeepestFirst(got)
	if want := []string{"/a/b/c", "/a/b", "/x/y", "/a"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("DeepestFirst = %q, want %q", got, want)
	}
}

func TestSelf(t *testing.T) {
	ms, err := Self()
	if err != nil {
		t.Skipf("no /proc/self/mountinfo here: %v", err)
	}
	for _, m := range ms {
		if m.Target == "/" {
			return
		}
	}
	t.Fatalf("the root file system is not in %d mounts", len(ms))
}

func TestUnder(t *testing.T) {
	mounts := []Mount{
		{Target: "/", FSType: "ext4"},
		{Target: "/work/d/rootfs/dev", FSType: "devtmpfs"},
		{Target: "/work/d/rootfs/dev/pts", FSType: "devpts"},
		{Target: "/work/d/rootfs x/proc", FSType: "proc"},
		{Target: "/work/d/rootfs-other", FSType: "tmpfs"},
		{Target: "/work/d/rootfs", FSType: "tmpfs"},
	}
	tests := []struct {
		dir              string
		under, atOrUnder []string
	}{
		{"/work/d/rootfs", []string{"/work/d/rootfs/dev/pts", "/work/d/rootfs/dev"},
			[]string{"/work/d/rootfs/dev/pts", "/work/d/rootfs/dev", "/work/d/rootfs"}},
		{"/work/d/rootfs/", []string{"/work/d/rootfs/dev/pts", "/work/d/rootfs/dev"},
			[]string{"/work/d/rootfs/dev/pts", "/work/d/rootfs/dev", "/work/d/rootfs"}},
		{"/work/d/rootfs x", []string{"/work/d/rootfs x/proc"}, []string{"/work/d/rootfs x/proc"}},
		{"/work/d/rootfs/dev/pts", nil, []string{"/work/d/rootfs/dev/pts"}},
		{"/work/d", []string{"/work/d/rootfs/dev/pts", "/work/d/rootfs x/proc", "/work/d/rootfs-other", "/work/d/rootfs/dev", "/work/d/rootfs"},
			[]string{"/work/d/rootfs/dev/pts", "/work/d/rootfs x/proc", "/work/d/rootfs-other", "/work/d/rootfs/dev", "/work/d/rootfs"}},
		{"/work/d/root", nil, nil},
		{"/elsewhere", nil, nil},
		{"/", []string{"/work/d/rootfs/dev/pts", "/work/d/rootfs x/proc", "/work/d/rootfs-other", "/work/d/rootfs/dev", "/work/d/rootfs"},
			[]string{"/work/d/rootfs/dev/pts", "/work/d/rootfs x/proc", "/work/d/rootfs-other", "/work/d/rootfs/dev", "/work/d/rootfs", "/"}},
	}
	for _, tt := range tests {
		if got := Under(mounts, tt.dir); !reflect.DeepEqual(got, tt.under) {
			t.Errorf("Under(%q) = %q, want %q", tt.dir, got, tt.under)
		}
		if got := AtOrUnder(mounts, tt.dir); !reflect.DeepEqual(got, tt.atOrUnder) {
			t.Errorf("AtOrUnder(%q) = %q, want %q", tt.dir, got, tt.atOrUnder)
		}
	}
}

// escape writes a mount point as the kernel does in mountinfo, octal-
// escaping backslashes and (so that the line splits into the same
// fields) every byte of a white-space character.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == '\\' || unicode.IsSpace(r) {
			for _, c := range []byte(s[i : i+n]) {
				fmt.Fprintf(&b, "\\%03o", c)
			}
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// FuzzParse: a mountinfo line built from a mount point and a file system
// type, between arbitrary text, parses back to that mount; every mount
// parsed has a type of one field that is in the text.
func FuzzParse(f *testing.F) {
	f.Add("", "/proc", "proc", "")
	f.Add("22 27 0:21 / /proc rw,relatime - proc proc rw", "/tmp/with space/merged", "overlay", "short line")
	f.Add("1 2 3 4 5 6 -", "/a\\b\tc\nd", "x", "- - - - - - -")
	f.Add("1 2 3 4 /a\\040b 6 - overlay x y\r", "/\u00a0nbsp", "fuse.sshfs", "102 27 0:52 / /no/separator rw x y z")
	f.Fuzz(func(t *testing.T, before, target, fstype, after string) {
		if target == "" || fstype == "" || strings.ContainsFunc(fstype, unicode.IsSpace) {
			t.Skip()
		}
		line := "36 35 98:0 /mnt1 " + escape(target) + " rw,noatime master:1 - " + fstype + " /dev/root rw"
		in := before + "\n" + line + "\n" + after
		ms, err := Parse(strings.NewReader(in))
		if err != nil {
			if len(in) < 1024*1024 {
				t.Fatalf("Parse(%q): %v", in, err)
			}
			return
		}
		if want := (Mount{Target: target, FSType: fstype}); !slices.Contains(ms, want) {
			t.Fatalf("%+v is not in %+v from %q", want, ms, in)
		}
		if lines := strings.Count(in, "\n") + 1; len(ms) > lines {
			t.Fatalf("%d mounts from %d lines", len(ms), lines)
		}
		for _, m := range ms {
			if m.FSType == "" || strings.ContainsFunc(m.FSType, unicode.IsSpace) || !strings.Contains(in, m.FSType) {
				t.Fatalf("bad type in %+v", m)
			}
		}
	})
}
