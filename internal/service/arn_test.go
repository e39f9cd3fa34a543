package service

import (
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	cases := []struct {
		in        string
		wildcards bool
		want      string
		err       string
	}{
		{"1.0.0", false, "1.0.0", ""},
		{"0.0.0", false, "0.0.0", ""},
		{"1073741823.0.1", false, "1073741823.0.1", ""},
		{"1073741824.0.0", false, "", "exceeds"},
		{"1.0", false, "", "form"},
		{"1.0.0.0", false, "", "form"},
		{"1.-1.0", false, "", "non-negative"},
		{"1.a.0", false, "", "non-negative"},
		{"1..0", false, "", "non-negative"},
		{"1.x.x", false, "", "wildcards"},
		{"1.x.x", true, "1.x.x", ""},
		{"x.x.x", true, "x.x.x", ""},
		{"1.0.x", true, "1.0.x", ""},
		{"x.2.x", true, "", "after the first 'x'"},
		{"1.x.8", true, "", "after the first 'x'"},
		{"01.0.0", false, "1.0.0", ""},
	}
	for _, tc := range cases {
		v, err := ParseVersion(tc.in, tc.wildcards)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseVersion(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || v.String() != tc.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %s", tc.in, v, err, tc.want)
		}
	}
}

func TestVersionSelection(t *testing.T) {
	// The user guide's example: 2.2.4, 1.7.8, 1.6.8.
	have := []Version{{2, 2, 4}, {1, 7, 8}, {1, 6, 8}}
	cases := map[string]string{"x.x.x": "2.2.4", "1.x.x": "1.7.8", "1.6.x": "1.6.8", "3.x.x": ""}
	for sel, want := range cases {
		s, err := ParseVersion(sel, true)
		if err != nil {
			t.Fatal(err)
		}
		var best *Version
		for i := range have {
			if s.Matches(have[i]) && (best == nil || have[i].Compare(*best) > 0) {
				best = &have[i]
			}
		}
		got := ""
		if best != nil {
			got = best.String()
		}
		if got != want {
			t.Errorf("%s selects %q, want %q", sel, got, want)
		}
	}
	if (Version{1, 10, 0}).Compare(Version{1, 9, 0}) != 1 {
		t.Error("1.10.0 must sort after 1.9.0")
	}
}

func TestParseARN(t *testing.T) {
	cases := []struct {
		in   string
		want ARN
		err  string
	}{
		{"arn:aws:imagebuilder:us-east-1:000000000000:component/my-comp/1.0.0/3",
			ARN{"aws", "us-east-1", "000000000000", "component", "my-comp", "1.0.0", 3}, ""},
		{"arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x",
			ARN{"aws", "us-east-1", "aws", "component", "update-linux", "x.x.x", 0}, ""},
		{"arn:aws:imagebuilder:eu-west-1:123456789012:workflow/build/wf_1/1.2.3/1",
			ARN{"aws", "eu-west-1", "123456789012", "workflow/build", "wf_1", "1.2.3", 1}, ""},
		{"arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/r/1.0.x",
			ARN{"aws", "us-east-1", "123456789012", "image-recipe", "r", "1.0.x", 0}, ""},
		{"arn:aws:imagebuilder:us-east-1:123456789012:image-pipeline/p",
			ARN{"aws", "us-east-1", "123456789012", "image-pipeline", "p", "", 0}, ""},
		{"arn:aws-marketplace:imagebuilder:us-east-1:aws-marketplace:component/c/1.0.0/1",
			ARN{"aws-marketplace", "us-east-1", "aws-marketplace", "component", "c", "1.0.0", 1}, ""},
		{"arn:aws:s3:::bucket", ARN{}, "not an Image Builder ARN"},
		{"arn:aws:imagebuilder:us-east-1:1234:component/c/1.0.0/1", ARN{}, "12 digits"},
		{"arn:aws:imagebuilder:us-east-1:123456789012:component/Caps/1.0.0/1", ARN{}, "[a-z0-9-_]+"},
		{"arn:aws:imagebuilder:us-east-1:123456789012:component/c/1.x.x/1", ARN{}, "wildcard"},
		{"arn:aws:imagebuilder:us-east-1:123456789012:component/c/1.0.0/0", ARN{}, "positive"},
		{"arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/r/1.0.0/1", ARN{}, "expected"},
		{"arn:aws:imagebuilder:us-east-1:123456789012:widget/w", ARN{}, "unknown resource type"},
		{"arn:aws:imagebuilder:us-east-1:123456789012:component/c/x.1.x", ARN{}, "after the first 'x'"},
	}
	for _, tc := range cases {
		got, err := ParseARN(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseARN(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseARN(%q) = %+v, %v", tc.in, got, err)
			continue
		}
		if got.String() != tc.in {
			t.Errorf("String() = %s, want %s", got.String(), tc.in)
		}
	}
	if Slug("My Comp_1") != "my-comp_1" {
		t.Errorf("Slug = %s", Slug("My Comp_1"))
	}
}

func FuzzParseARN(f *testing.F) {
	f.Add("arn:aws:imagebuilder:us-east-1:000000000000:component/my-comp/1.0.0/3")
	f.Add("arn:aws:imagebuilder:us-east-1:aws:workflow/test/x/x.x.x")
	f.Add("arn:aws:imagebuilder:us-east-1:123456789012:image-pipeline/p")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseARN(s)
		if err != nil {
			return
		}
		// A parsed ARN formats to a string that parses to the same value.
		b, err := ParseARN(a.String())
		if err != nil || b != a {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, a, a.String(), b, err)
		}
	})
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.0.0", "x.x.x", "1.x.x", "1073741823.1.1", "1.2", "01.2.3"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, wildcards bool) {
		v, err := ParseVersion(s, wildcards)
		if err != nil {
			return
		}
		w, err := ParseVersion(v.String(), wildcards)
		if err != nil || w != v {
			t.Fatalf("%q -> %v -> %v, %v", s, v, w, err)
		}
		if !wildcards && v.IsWildcard() {
			t.Fatalf("%q parsed with a wildcard", s)
		}
		if v.Major > maxVersionNode || v.Minor > maxVersionNode || v.Patch > maxVersionNode {
			t.Fatalf("%q: node out of range", s)
		}
	})
}
