package service

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestInstanceTypeCatalogueMatchesDocs keeps docs/instance-types.md and the
// compiled catalogue equal.
func TestInstanceTypeCatalogueMatchesDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/instance-types.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\| (\\d+) \\| (\\d+) \\| ([a-z0-9_]+) \\|$")
	documented := map[string]instanceSize{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		c, _ := strconv.Atoi(m[2])
		mem, _ := strconv.Atoi(m[3])
		if _, dup := documented[m[1]]; dup {
			t.Errorf("docs list %s twice", m[1])
		}
		documented[m[1]] = instanceSize{c, mem, m[4]}
	}
	if len(documented) != len(instanceTypes) {
		t.Errorf("docs list %d instance types, the catalogue %d", len(documented), len(instanceTypes))
	}
	for name, size := range instanceTypes {
		if got, ok := documented[name]; !ok || got != size {
			t.Errorf("%s: catalogue %+v, docs %+v (listed: %v)", name, size, got, ok)
		}
	}
	for name := range documented {
		if _, ok := instanceTypes[name]; !ok {
			t.Errorf("docs list %s, the catalogue does not", name)
		}
	}
}

func TestInstanceTypeLookup(t *testing.T) {
	cases := []struct {
		name      string
		vcpu, mem int
		arch      string
		ok        bool
	}{
		{"t3.micro", 2, 1024, "x86_64", true},
		{"t2.nano", 1, 512, "x86_64", true},
		{"m5.large", 2, 8192, "x86_64", true},
		{"c6i.xlarge", 4, 8192, "x86_64", true},
		{"r5.2xlarge", 8, 65536, "x86_64", true},
		{"m7g.4xlarge", 16, 65536, "arm64", true},
		{"local.small", 1, 2048, "host", true},
		{"local.medium", 2, 4096, "host", true},
		{"local.large", 4, 8192, "host", true},
		{"M5.large", 0, 0, "", false},
		{"m5.24xlarge", 0, 0, "", false},
		{"", 0, 0, "", false},
	}
	for _, tc := range cases {
		v, m, ok := InstanceType(tc.name)
		arch, aok := InstanceTypeArch(tc.name)
		if v != tc.vcpu || m != tc.mem || ok != tc.ok || arch != tc.arch || aok != tc.ok {
			t.Errorf("InstanceType(%q) = %d, %d, %v, %q; want %d, %d, %v, %q", tc.name, v, m, ok, arch, tc.vcpu, tc.mem, tc.ok, tc.arch)
		}
	}
	if _, _, ok := InstanceType(DefaultInstanceType); !ok {
		t.Errorf("DefaultInstanceType %q is not in the catalogue", DefaultInstanceType)
	}
	// Every family of the brief is complete from large to its largest size.
	for _, fam := range []string{"m5", "m6i", "m7i", "c5", "c6i", "c7i"} {
		for _, size := range []string{"large", "xlarge", "2xlarge", "4xlarge"} {
			if _, _, ok := InstanceType(fam + "." + size); !ok {
				t.Errorf("%s.%s missing", fam, size)
			}
		}
	}
	for _, fam := range []string{"t2", "t3", "t3a"} {
		for _, size := range []string{"nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"} {
			if _, _, ok := InstanceType(fam + "." + size); !ok {
				t.Errorf("%s.%s missing", fam, size)
			}
		}
	}
	if len(instanceTypeNames()) != len(instanceTypes) {
		t.Error("instanceTypeNames lost entries")
	}
}

func TestCheckInstanceTypes(t *testing.T) {
	cases := []struct {
		in   []string
		want string // substring of the error; "" = valid
	}{
		{nil, ""},
		{[]string{"t3.micro", "local.small"}, ""},
		{[]string{"t3.micro", "t3.huge"}, `instanceTypes[1]: instance type "t3.huge" is not in goldsmith's catalogue`},
		{[]string{"t3.huge"}, "family t3 offers t3.nano, t3.micro"},
		{[]string{"p4d.24xlarge"}, "for example t3.micro"},
		{[]string{"m5.large", "c5.large", "m5.large"}, `instanceTypes[2]: instance type "m5.large" is already listed at instanceTypes[0]`},
	}
	for _, tc := range cases {
		err := checkInstanceTypes(tc.in)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: error %v, want it to contain %q", tc.in, err, tc.want)
		}
	}
}
