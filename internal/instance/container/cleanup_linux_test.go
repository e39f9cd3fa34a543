package container

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMountinfo(t *testing.T) {
	const in = `22 27 0:21 / /proc rw,relatime - proc proc rw
100 27 0:50 / /tmp/scratch/sb/merged rw,relatime shared:1 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
101 27 0:51 / /tmp/with\040space/merged rw - overlay overlay rw
short line
102 27 0:52 / /no/separator rw x y z
`
	got, err := parseMountinfo(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []mountInfo{
		{target: "/proc", fstype: "proc"},
		{target: "/tmp/scratch/sb/merged", fstype: "overlay"},
		{target: "/tmp/with space/merged", fstype: "overlay"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseMountinfo = %+v, want %+v", got, want)
	}
}

func TestUnescapeOctal(t *testing.T) {
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
	}
	for in, want := range tests {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsUnder(t *testing.T) {
	tests := []struct {
		p, root string
		want    bool
	}{
		{"/s/a/bundle", "/s", true},
		{"/s", "/s", false},
		{"/sx/a", "/s", false},
		{"/s/../t/a", "/s", false},
		{"/s/a", "/s/", true},
	}
	for _, tt := range tests {
		if got := isUnder(tt.p, tt.root); got != tt.want {
			t.Errorf("isUnder(%q, %q) = %v", tt.p, tt.root, got)
		}
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add("22 27 0:21 / /proc rw,relatime - proc proc rw\n")
	f.Add("1 2 3 4 /a\\040b 6 - overlay x y\n")
	f.Add("- - - - - - -\n")
	f.Fuzz(func(t *testing.T, in string) {
		ms, err := parseMountinfo(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, m := range ms {
			if m.fstype == "" {
				t.Fatalf("empty fstype from %q", in)
			}
		}
	})
}
