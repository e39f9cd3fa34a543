package service

import (
	"errors"
	"strings"
	"testing"

	"github.com/goldsmith/goldsmith/internal/api/gen"
)

func recipeErrCode(err error) string {
	var ge *gen.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return ""
}

func TestNextRecipeVersion(t *testing.T) {
	vs := func(ss ...string) []Version {
		var out []Version
		for _, s := range ss {
			v, err := ParseVersion(s, false)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	for _, tc := range []struct {
		sel      string
		existing []Version
		want     string
	}{
		{"1.2.3", vs("1.2.3"), "1.2.3"}, // exact: the caller decides; the create refuses the duplicate
		{"1.0.x", nil, "1.0.0"},
		{"1.0.x", vs("1.0.0"), "1.0.1"},
		{"1.0.x", vs("1.0.0", "1.0.7", "1.0.3", "1.1.9", "2.0.0"), "1.0.8"},
		{"1.x.x", vs("1.0.4", "1.3.2", "2.9.9"), "1.4.0"},
		{"1.x.x", vs("2.0.0"), "1.0.0"},
		{"x.x.x", nil, "0.0.0"},
		{"x.x.x", vs("0.0.1", "3.1.4"), "4.0.0"},
	} {
		sel, err := ParseVersion(tc.sel, true)
		if err != nil {
			t.Fatal(err)
		}
		got, err := nextRecipeVersion(sel, tc.existing)
		if err != nil || got.String() != tc.want {
			t.Errorf("nextRecipeVersion(%s, %v) = %v, %v; want %s", tc.sel, tc.existing, got, err, tc.want)
		}
	}
	sel, _ := ParseVersion("1.0.x", true)
	if _, err := nextRecipeVersion(sel, []Version{{1, 0, maxVersionNode}}); recipeErrCode(err) != gen.CodeInvalidVersionNumber {
		t.Errorf("overflow: got %v, want InvalidVersionNumberException", err)
	}
}

func TestCheckComponentParameters(t *testing.T) {
	declared := []gen.ComponentParameterDetail{
		{Name: "Greeting", Type: "String", DefaultValue: []string{"hi"}},
		{Name: "Count", Type: "Integer", DefaultValue: []string{"1"}},
		{Name: "Verbose", Type: "Boolean", DefaultValue: []string{"false"}},
		{Name: "Packages", Type: "StringList", DefaultValue: []string{"curl"}},
		{Name: "Required", Type: "String"},
	}
	req := gen.ComponentParameter{Name: "Required", Value: []string{"x"}}
	p := func(name string, vals ...string) gen.ComponentParameter {
		return gen.ComponentParameter{Name: name, Value: vals}
	}
	for _, tc := range []struct {
		name  string
		given []gen.ComponentParameter
		want  string // substring of the error; "" = accepted
	}{
		{"only required", []gen.ComponentParameter{req}, ""},
		{"all", []gen.ComponentParameter{req, p("Greeting", "yo"), p("Count", "3"), p("Verbose", "TRUE"), p("Packages", "a", "b")}, ""},
		{"unknown", []gen.ComponentParameter{req, p("Greting", "yo")}, `no parameter "Greting"`},
		{"case matters", []gen.ComponentParameter{req, p("greeting", "yo")}, `no parameter "greeting"`},
		{"two values", []gen.ComponentParameter{req, p("Greeting", "a", "b")}, "exactly one value, not 2"},
		{"no value", []gen.ComponentParameter{req, p("Count")}, "exactly one value, not 0"},
		{"empty list", []gen.ComponentParameter{req, p("Packages")}, "at least one value"},
		{"not an integer", []gen.ComponentParameter{req, p("Count", "three")}, "is an Integer"},
		{"not a boolean", []gen.ComponentParameter{req, p("Verbose", "yes")}, "is a Boolean"},
		{"twice", []gen.ComponentParameter{req, p("Greeting", "a"), p("Greeting", "b")}, "more than once"},
		{"missing required", nil, `"Required" of component arn:c has no default`},
	} {
		err := checkComponentParameters("components[0]", "arn:c", declared, tc.given)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || recipeErrCode(err) != gen.CodeInvalidParameterValue):
			t.Errorf("%s: got %v, want InvalidParameterValueException containing %q", tc.name, err, tc.want)
		}
	}
	if err := checkComponentParameters("components[0]", "arn:c", nil, []gen.ComponentParameter{p("X", "1")}); err == nil || !strings.Contains(err.Error(), "declares no parameters") {
		t.Errorf("no declared parameters: got %v", err)
	}
}

func TestParseParentImage(t *testing.T) {
	for _, tc := range []struct {
		in        string
		container bool
		kind      parentKind
		wildcard  bool
		want      string // error substring
	}{
		{"arn:aws:imagebuilder:us-east-1:aws:image/amazon-linux-2-x86/x.x.x", false, parentImageARN, true, ""},
		{"arn:aws:imagebuilder:us-east-1:000000000000:image/base/1.0.0/2", false, parentImageARN, false, ""},
		{"arn:aws:imagebuilder:us-east-1:000000000000:image/base/1.0.0", true, parentImageARN, false, ""},
		{"arn:aws:imagebuilder:us-east-1:000000000000:image/base/1.x.2", false, 0, false, "must also be 'x'"},
		{"arn:aws:imagebuilder:us-east-1:000000000000:image/base", false, 0, false, "needs a version"},
		{"arn:aws:imagebuilder:us-east-1:000000000000:component/base/1.0.0/1", false, 0, false, "must be an image ARN"},
		{"arn:aws:ec2:us-east-1::image/ami-0123456789abcdef0", false, 0, false, "not an Image Builder ARN"},
		{"ami-0123456789abcdef0", false, parentAMI, false, ""},
		{"ami-0123456789abcdef", false, 0, false, "17 lower-case hex"},
		{"ami-0123456789ABCDEF0", false, 0, false, "17 lower-case hex"},
		{"ami-0123456789abcdef0", true, 0, false, "not on an AMI"},
		{"ssm:/aws/service/ami", false, 0, false, "SSM parameter"},
		{"amazonlinux:2023", false, 0, false, "give an image ARN"},
		{"amazonlinux:2023", true, parentContainer, false, ""},
		{"public.ecr.aws/docker/library/debian:bookworm", true, parentContainer, false, ""},
		{"Ubuntu", true, 0, false, "repository path component"},
	} {
		p, err := parseParentImage("parentImage", tc.in, tc.container)
		switch {
		case tc.want == "" && (err != nil || p.kind != tc.kind || p.wildcard() != tc.wildcard):
			t.Errorf("%q (container %v): got %+v, %v; want kind %d wildcard %v", tc.in, tc.container, p, err, tc.kind, tc.wildcard)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q (container %v): got %v, want error containing %q", tc.in, tc.container, err, tc.want)
		}
	}
}

var recipeDockerRefSeeds = []string{
	"debian", "debian:bookworm", "library/debian:12.5-slim", "docker.io/library/debian:latest",
	"localhost:5000/team/app:v1", "localhost/app", "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo/app:1.0",
	"public.ecr.aws/amazonlinux/amazonlinux:2023", "[::1]:5000/app:x",
	"app@sha256:" + strings.Repeat("a", 64), "registry.example.com:443/a/b_c__d-e.f:tag@sha512:" + strings.Repeat("0", 128),
	"", "Debian", "app:", ":tag", "app@sha256:abc", "app@sha256:" + strings.Repeat("a", 63), "a//b", "app:-tag",
	"app:" + strings.Repeat("t", 129), "-app", "app-", "bad host:5000/app", strings.Repeat("a", 256),
}

func TestParseDockerReference(t *testing.T) {
	valid := map[string]dockerRef{
		"debian":                                {Path: "debian"},
		"debian:bookworm":                       {Path: "debian", Tag: "bookworm"},
		"docker.io/library/debian:latest":       {Domain: "docker.io", Path: "library/debian", Tag: "latest"},
		"localhost:5000/team/app:v1":            {Domain: "localhost:5000", Path: "team/app", Tag: "v1"},
		"localhost/app":                         {Domain: "localhost", Path: "app"},
		"app@sha256:" + strings.Repeat("a", 64): {Path: "app", Digest: "sha256:" + strings.Repeat("a", 64)},
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/repo/app:1.0": {Domain: "123456789012.dkr.ecr.us-east-1.amazonaws.com", Path: "repo/app", Tag: "1.0"},
	}
	for in, want := range valid {
		got, err := parseDockerReference(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("parseDockerReference(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "Debian", "app:", ":tag", "app@sha256:abc", "app@sha256:" + strings.Repeat("a", 63),
		"a//b", "app:-tag", "app:" + strings.Repeat("t", 129), "-app", "app-", "bad host:5000/app", strings.Repeat("a", 256), "app@@x"} {
		if _, err := parseDockerReference(in); err == nil {
			t.Errorf("parseDockerReference(%q) accepted an invalid reference", in)
		}
	}
}

// FuzzParseDockerReference checks that every accepted reference renders
// back to itself and parses to the same parts.
func FuzzParseDockerReference(f *testing.F) {
	for _, s := range recipeDockerRefSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := parseDockerReference(s)
		if err != nil {
			return
		}
		if ref.Path == "" {
			t.Fatalf("%q: accepted without a repository path", s)
		}
		if ref.String() != s {
			t.Fatalf("%q: renders as %q", s, ref.String())
		}
		again, err := parseDockerReference(ref.String())
		if err != nil || again != ref {
			t.Fatalf("%q: reparse gives %+v, %v", s, again, err)
		}
	})
}

// FuzzParseParentImage checks that parentImage classification never
// panics and that accepted values have a kind fitting the recipe type.
func FuzzParseParentImage(f *testing.F) {
	for _, s := range append(recipeDockerRefSeeds, "ami-0123456789abcdef0", "arn:aws:imagebuilder:us-east-1:aws:image/a/x.x.x",
		"arn:aws:imagebuilder:us-east-1:000000000000:image/a/1.0.0/1", "ssm:/x") {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, container bool) {
		p, err := parseParentImage("parentImage", s, container)
		if err != nil {
			if recipeErrCode(err) != gen.CodeInvalidParameterValue {
				t.Fatalf("%q: error %v is not InvalidParameterValueException", s, err)
			}
			return
		}
		switch p.kind {
		case parentImageARN:
		case parentAMI:
			if container {
				t.Fatalf("%q: AMI accepted as a container parent", s)
			}
		case parentContainer:
			if !container {
				t.Fatalf("%q: registry reference accepted as an image recipe parent", s)
			}
		default:
			t.Fatalf("%q: no kind", s)
		}
	})
}

func TestCheckDockerfileTemplate(t *testing.T) {
	good := "FROM {{{ imagebuilder:parentImage }}}\n{{{imagebuilder:environments}}}\n{{{ imagebuilder:components }}}\nRUN echo {{ other }}\n"
	if err := checkDockerfileTemplate("dockerfileTemplateData", good); err != nil {
		t.Fatalf("valid template refused: %v", err)
	}
	for _, tc := range []struct{ tpl, want string }{
		{"  \n", "empty"},
		{"RUN true\n", "no FROM"},
		{"FROM x\n{{{ imagebuilder:parentimage }}}\n", `line 2: unknown placeholder "imagebuilder:parentimage"`},
		{"FROM {{ imagebuilder:parentImage }}\n", "line 1: write imagebuilder:parentImage in triple braces"},
		{"FROM x\x00\n", "NUL"},
		{"FROM x\n" + strings.Repeat("#", maxDockerfileTemplate), "at most 16000"},
	} {
		err := checkDockerfileTemplate("dockerfileTemplateData", tc.tpl)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("template %.40q: got %v, want %q", tc.tpl, err, tc.want)
		}
	}
}

func TestCheckBlockDeviceMappings(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	yes := true
	empty := ""
	ebs := func(e gen.EbsInstanceBlockDeviceSpecification) *gen.EbsInstanceBlockDeviceSpecification { return &e }
	ok := []gen.InstanceBlockDeviceMapping{
		{DeviceName: "/dev/xvda", Ebs: ebs(gen.EbsInstanceBlockDeviceSpecification{VolumeSize: i32(30), VolumeType: gen.EbsVolumeTypeGp3, Iops: i32(3000), Throughput: i32(125)})},
		{DeviceName: "/dev/sdb", Ebs: ebs(gen.EbsInstanceBlockDeviceSpecification{VolumeSize: i32(8), Encrypted: &yes, KmsKeyId: "alias/k"})},
		{DeviceName: "/dev/sdc", VirtualName: "ephemeral0"},
		{DeviceName: "/dev/sdd", NoDevice: &empty},
		{DeviceName: "xvdf", Ebs: ebs(gen.EbsInstanceBlockDeviceSpecification{SnapshotId: "snap-0123456789abcdef0"})},
	}
	if err := checkBlockDeviceMappings("blockDeviceMappings", ok); err != nil {
		t.Fatalf("valid mappings refused: %v", err)
	}
	for _, tc := range []struct {
		m    gen.InstanceBlockDeviceMapping
		want string
	}{
		{gen.InstanceBlockDeviceMapping{Ebs: ebs(gen.EbsInstanceBlockDeviceSpecification{VolumeSize: i32(8)})}, "deviceName is required"},
		{gen.InstanceBlockDeviceMapping{DeviceName: "/dev/sdb"}, "exactly one of ebs, virtualName and noDevice"},
		{gen.InstanceBlockDeviceMapping{DeviceName: "/dev/sdb", VirtualName: "ephemeral0", NoDevice: &empty}, "exactly one of"},
		{gen.InstanceBlockDeviceMapping{DeviceName: "/dev/sdb", VirtualName: "scratch"}, "ephemeral<N>"},
		{gen.InstanceBlockDeviceMapping{DeviceName: "/dev/sdb", Ebs: ebs(gen.EbsInstanceBlockDeviceSpecification{VolumeSize: i32(8), Iops: i32(3000)})}, "iops can only be set"},
		{gen.InstanceBlockDeviceMapping{DeviceName: "/dev/sdb", Ebs: ebs(gen.EbsInstanceBlockDeviceSpecification{VolumeSize: i32(8), VolumeType: gen.EbsVolumeTypeIo2})}, "iops is required for io2"},
		{gen.InstanceBlockDeviceMapping{DeviceName: "/dev/sdb", Ebs: ebs(gen.EbsInstanceBlockDeviceSpecification{VolumeSize: i32(8), VolumeType: gen.EbsVolumeTypeGp2, Throughput: i32(200)})}, "throughput can only be set for gp3"},
		{gen.InstanceBlockDeviceMapping{DeviceName: "/dev/sdb", Ebs: ebs(gen.EbsInstanceBlockDeviceSpecification{VolumeSize: i32(8), KmsKeyId: "k"})}, "needs encrypted"},
		{gen.InstanceBlockDeviceMapping{DeviceName: "/dev/sdb", Ebs: ebs(gen.EbsInstanceBlockDeviceSpecification{VolumeSize: i32(100), VolumeType: gen.EbsVolumeTypeSt1})}, "below the 125 GiB minimum"},
		{gen.InstanceBlockDeviceMapping{DeviceName: "/dev/sdb", Ebs: ebs(gen.EbsInstanceBlockDeviceSpecification{SnapshotId: "snapshot-1"})}, "not a snapshot ID"},
	} {
		err := checkBlockDeviceMappings("blockDeviceMappings", []gen.InstanceBlockDeviceMapping{tc.m})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "blockDeviceMappings[0]") {
			t.Errorf("%+v: got %v, want %q", tc.m, err, tc.want)
		}
	}
	dup := []gen.InstanceBlockDeviceMapping{ok[2], {DeviceName: "/dev/sdc", NoDevice: &empty}}
	if err := checkBlockDeviceMappings("blockDeviceMappings", dup); err == nil || !strings.Contains(err.Error(), "blockDeviceMappings[1].deviceName \"/dev/sdc\" is mapped more than once") {
		t.Errorf("duplicate device: got %v", err)
	}
}

func TestCheckUserDataAndWorkingDirectory(t *testing.T) {
	if err := checkUserData("IyEvYmluL2Jhc2gKZWNobyBoaQo="); err != nil {
		t.Errorf("valid user data refused: %v", err)
	}
	if err := checkUserData("not base64!"); err == nil {
		t.Error("invalid base64 accepted")
	}
	if err := checkUserData(strings.Repeat("A", maxUserDataOverride+3)); err == nil || !strings.Contains(err.Error(), "at most 21847") {
		t.Errorf("oversized user data: got %v", err)
	}
	for _, tc := range []struct {
		dir      string
		platform gen.Platform
		ok       bool
	}{
		{"/tmp", gen.PlatformLinux, true}, {"tmp", gen.PlatformLinux, false},
		{`C:\build`, gen.PlatformWindows, true}, {"/tmp", gen.PlatformWindows, false}, {"", gen.PlatformWindows, true},
	} {
		if err := checkWorkingDirectory(tc.dir, tc.platform); (err == nil) != tc.ok {
			t.Errorf("checkWorkingDirectory(%q, %s) = %v", tc.dir, tc.platform, err)
		}
	}
}
