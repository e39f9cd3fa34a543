package service

import (
	"regexp"
	"strings"
	"testing"

	"github.com/goldsmith/goldsmith/internal/api/gen"
)

func TestCheckAMIName(t *testing.T) {
	cases := []struct {
		name string
		want string // substring of the error; "" = valid
	}{
		{"my-ami {{ imagebuilder:buildDate }}", ""},
		{"my-ami-{{imagebuilder:buildDate}}", ""},
		{"{{   imagebuilder:buildDate  }}", ""},
		{"app_1.2 {{ imagebuilder:buildVersion }} {{ imagebuilder:buildDate }}", ""},
		{"my-ami", "must contain '{{ imagebuilder:buildDate }}'"},
		{"my-ami {{ imagebuilder:buildVersion }}", "must contain '{{ imagebuilder:buildDate }}'"},
		{"my-ami {{ imagebuilder:builddate }}", "is not one of"},
		{"my-ami {{ ssm:/x }} {{ imagebuilder:buildDate }}", "placeholder {{ ssm:/x }}"},
		{"my-ami {{ imagebuilder:buildDate", "not closed"},
		{"my-ami { imagebuilder:buildDate }", "braces may only form"},
		{"my:ami {{ imagebuilder:buildDate }}", "cannot contain ':'"},
		{"my/ami {{ imagebuilder:buildDate }}", "character '/'"},
		{"my\tami {{ imagebuilder:buildDate }}", "character '\\t'"},
		{" my-ami {{ imagebuilder:buildDate }}", "cannot start with ' '"},
		{"", "1 to 127"},
		{".x {{ imagebuilder:buildDate }}", "cannot start with '.'"},
		{"{{ imagebuilder:buildDate }} x.", "cannot end with '.'"},
		{strings.Repeat("a", 100) + "{{ imagebuilder:buildDate }}", "1 to 127"},
	}
	for _, tc := range cases {
		err := checkAMIName(tc.name)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

// amiNamePattern is the model's AmiNameString pattern.
var amiNamePattern = regexp.MustCompile(`^[-_A-Za-z0-9{][-_A-Za-z0-9\s:{}\.]+[-_A-Za-z0-9}]$`)

// FuzzAMIName: an accepted template fits the model pattern, has the build
// date placeholder, and rendering its placeholders leaves no ':' or braces.
func FuzzAMIName(f *testing.F) {
	for _, s := range []string{"my-ami {{ imagebuilder:buildDate }}", "{{imagebuilder:buildDate}}", "a{{ imagebuilder:buildVersion }}b",
		"x {{", "}} {{ imagebuilder:buildDate }}", "a:b", "{{{ imagebuilder:buildDate }}}", "{{ imagebuilder:buildDate }}}}", ".0000000{{ imagebuilder:buildDate }}"} {
		f.Add(s)
	}
	render := regexp.MustCompile(`\{\{ *imagebuilder:build(?:Date|Version) *\}\}`)
	f.Fuzz(func(t *testing.T, name string) {
		if checkAMIName(name) != nil {
			return
		}
		if !amiNamePattern.MatchString(name) {
			t.Fatalf("accepted %q, which the model pattern refuses", name)
		}
		if !regexp.MustCompile(`\{\{ *imagebuilder:buildDate *\}\}`).MatchString(name) {
			t.Fatalf("accepted %q without the build date", name)
		}
		if r := render.ReplaceAllString(name, "2024-01-02T03-04-05.000Z"); strings.ContainsAny(r, ":{}") {
			t.Fatalf("accepted %q; rendered %q still has ':' or braces", name, r)
		}
	})
}

func TestCheckS3BucketName(t *testing.T) {
	for _, ok := range []string{"abc", "my-logs.example", "a1-b2", strings.Repeat("a", 63)} {
		if err := checkS3BucketName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"ab", strings.Repeat("a", 64), "My-Bucket", "-abc", "abc-", "a..b", "192.168.1.1", "a_b", "s3://bucket"} {
		if err := checkS3BucketName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCheckKMSKeyInRegion(t *testing.T) {
	for _, ok := range []string{
		"1234abcd-12ab-34cd-56ef-1234567890ab", "mrk-1234abcd12ab34cd56ef1234567890ab", "alias/my-key", "alias/aws/ebs",
		"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:us-east-1:111122223333:alias/ExampleAlias",
	} {
		if err := checkKMSKeyInRegion(ok, "us-east-1"); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"my key", "arn:aws:kms:us-east-1:111122223333:key/nothex", "alias/", "1234",
		"arn:aws:s3:::bucket"} {
		if err := checkKMSKeyInRegion(bad, "us-east-1"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	err := checkKMSKeyInRegion("arn:aws:kms:eu-west-1:111122223333:alias/k", "us-east-1")
	if err == nil || !strings.Contains(err.Error(), "in region eu-west-1") {
		t.Errorf("key of another region: %v", err)
	}
}

func boolp(b bool) *bool  { return &b }
func i32p(v int32) *int32 { return &v }

func TestCheckDistributions(t *testing.T) {
	s := &Service{regions: []string{"us-east-1", "eu-west-1"}, keys: nil}
	ami := func(name string) *gen.AmiDistributionConfiguration {
		return &gen.AmiDistributionConfiguration{Name: name}
	}
	good := ami("x {{ imagebuilder:buildDate }}")
	cases := []struct {
		label string
		ds    []gen.Distribution
		want  string
	}{
		{"ok", []gen.Distribution{{Region: "us-east-1", AmiDistributionConfiguration: good}, {Region: "eu-west-1", S3ExportConfiguration: &gen.S3ExportConfiguration{RoleName: "vmimport", DiskImageFormat: "RAW", S3Bucket: "exports"}}}, ""},
		{"none", nil, "at least one distribution"},
		{"dup region", []gen.Distribution{{Region: "us-east-1", AmiDistributionConfiguration: good}, {Region: "us-east-1", AmiDistributionConfiguration: good}}, "distributions[1].region: region us-east-1 already has a distribution"},
		{"unknown region", []gen.Distribution{{Region: "ap-south-1", AmiDistributionConfiguration: good}}, `region "ap-south-1" is not a site`},
		{"no output", []gen.Distribution{{Region: "us-east-1"}}, "One or more outputs should be provided"},
		{"bad ami name", []gen.Distribution{{Region: "us-east-1", AmiDistributionConfiguration: ami("plain")}}, "amiDistributionConfiguration.name \"plain\""},
		{"kms without key store", []gen.Distribution{{Region: "us-east-1", AmiDistributionConfiguration: &gen.AmiDistributionConfiguration{KmsKeyId: "alias/k"}}}, "no key store"},
		{"user group", []gen.Distribution{{Region: "us-east-1", AmiDistributionConfiguration: &gen.AmiDistributionConfiguration{LaunchPermission: &gen.LaunchPermissionConfiguration{UserGroups: []string{"admins"}}}}}, `userGroups[0]: "admins"`},
		{"dup target", []gen.Distribution{{Region: "us-east-1", AmiDistributionConfiguration: &gen.AmiDistributionConfiguration{TargetAccountIds: []string{"111111111111", "111111111111"}}}}, "targetAccountIds[1]"},
		{"container no repo", []gen.Distribution{{Region: "us-east-1", ContainerDistributionConfiguration: &gen.ContainerDistributionConfiguration{}}}, "targetRepository is required"},
		{"container bad repo", []gen.Distribution{{Region: "us-east-1", ContainerDistributionConfiguration: &gen.ContainerDistributionConfiguration{TargetRepository: &gen.TargetContainerRepository{Service: "ECR", RepositoryName: "Bad Repo"}}}}, "repositoryName"},
		{"container bad tag", []gen.Distribution{{Region: "us-east-1", ContainerDistributionConfiguration: &gen.ContainerDistributionConfiguration{ContainerTags: []string{".x"}, TargetRepository: &gen.TargetContainerRepository{Service: "ECR", RepositoryName: "team/app"}}}}, "containerTags[0]"},
		{"s3 bad format", []gen.Distribution{{Region: "us-east-1", S3ExportConfiguration: &gen.S3ExportConfiguration{RoleName: "r", DiskImageFormat: "QCOW2", S3Bucket: "b-b"}}}, "diskImageFormat"},
		{"s3 no bucket", []gen.Distribution{{Region: "us-east-1", S3ExportConfiguration: &gen.S3ExportConfiguration{RoleName: "r", DiskImageFormat: "VMDK"}}}, "s3Bucket is required"},
		{"fast launch both", []gen.Distribution{{Region: "us-east-1", FastLaunchConfigurations: []gen.FastLaunchConfiguration{{Enabled: boolp(true), LaunchTemplate: &gen.FastLaunchLaunchTemplateSpecification{LaunchTemplateId: "lt-0123456789abcdef0", LaunchTemplateName: "n"}}}}}, "not both"},
		{"fast launch parallel", []gen.Distribution{{Region: "us-east-1", FastLaunchConfigurations: []gen.FastLaunchConfiguration{{Enabled: boolp(true), MaxParallelLaunches: i32p(2)}}}}, "minimum of 6"},
		{"fast launch dup", []gen.Distribution{{Region: "us-east-1", FastLaunchConfigurations: []gen.FastLaunchConfiguration{{Enabled: boolp(true)}, {Enabled: boolp(false)}}}}, "already has a fast-launch"},
		{"ssm reserved", []gen.Distribution{{Region: "us-east-1", SsmParameterConfigurations: []gen.SsmParameterConfiguration{{ParameterName: "/aws/x"}}}}, "reserved"},
		{"ssm foreign account", []gen.Distribution{{Region: "us-east-1", SsmParameterConfigurations: []gen.SsmParameterConfiguration{{ParameterName: "/app/ami", AmiAccountId: "222222222222"}}}}, "must also be a target account"},
		{"ssm target account", []gen.Distribution{{Region: "us-east-1", AmiDistributionConfiguration: &gen.AmiDistributionConfiguration{TargetAccountIds: []string{"222222222222"}}, SsmParameterConfigurations: []gen.SsmParameterConfiguration{{ParameterName: "/app/ami", AmiAccountId: "222222222222"}}}}, ""},
		{"launch template dup", []gen.Distribution{{Region: "us-east-1", LaunchTemplateConfigurations: []gen.LaunchTemplateConfiguration{{LaunchTemplateId: "lt-0123456789abcdef0"}, {LaunchTemplateId: "lt-0123456789abcdef0"}}}}, "already configured"},
	}
	for _, tc := range cases {
		err := s.checkDistributions("000000000000", tc.ds)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.label, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want it to contain %q", tc.label, err, tc.want)
		}
	}
}

// FuzzKMSKeyInRegion: an accepted key ARN names the distribution's region,
// and nothing accepted contains whitespace.
func FuzzKMSKeyInRegion(f *testing.F) {
	for _, s := range []string{"alias/k", "1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:us-east-1:111122223333:alias/k",
		"arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab", "arn:aws:kms::1:key/", "alias/ x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if checkKMSKeyInRegion(id, "us-east-1") != nil {
			return
		}
		if strings.ContainsAny(id, " \t\n") {
			t.Fatalf("accepted %q", id)
		}
		if strings.HasPrefix(id, "arn:") && !strings.Contains(id, ":kms:us-east-1:") {
			t.Fatalf("accepted %q for us-east-1", id)
		}
	})
}

// FuzzS3BucketName: accepted names follow the general purpose bucket rules.
func FuzzS3BucketName(f *testing.F) {
	for _, s := range []string{"abc", "a..b", "1.2.3.4", "My-Bucket", "-x-", "logs.example.com"} {
		f.Add(s)
	}
	rule := regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	f.Fuzz(func(t *testing.T, b string) {
		if checkS3BucketName(b) == nil && (!rule.MatchString(b) || strings.Contains(b, "..")) {
			t.Fatalf("accepted %q", b)
		}
	})
}
