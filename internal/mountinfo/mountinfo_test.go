package mountinfo

import (
	"reflect"
	"strings"
	"testing"
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

// FuzzParse: any text parses without panicking, to at most one mount per
// line, each with a type that is one field.
func FuzzParse(f *testing.F) {
	f.Add("22 27 0:21 / /proc rw,relatime - proc proc rw\n")
	f.Add("101 27 0:51 / /tmp/with\\040space/merged rw - overlay overlay rw\n")
	f.Add("1 2 3 4 5 6 -\n")
	f.Add("1 2 3 4 /a\\040b 6 - overlay x y\n")
	f.Add("- - - - - - -\n")
	f.Fuzz(func(t *testing.T, in string) {
		ms, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		if len(ms) > strings.Count(in, "\n")+1 {
			t.Fatalf("%d mounts from %d lines", len(ms), strings.Count(in, "\n")+1)
		}
		for _, m := range ms {
			if m.FSType == "" || strings.ContainsAny(m.FSType, " \t\n") {
				t.Fatalf("bad type in %+v", m)
			}
		}
	})
}
