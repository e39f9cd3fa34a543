package app

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"

	"github.com/goldsmith/goldsmith/internal/config"
)

const distPrefix = "arn:aws:imagebuilder:us-east-1:000000000000:distribution-configuration/"

// twoSites configures the server with two distribution regions.
func twoSites(c *config.Config) { c.Regions = []string{"us-east-1", "eu-west-1"} }

func amiOutput(region, name string) types.Distribution {
	return types.Distribution{Region: aws.String(region), AmiDistributionConfiguration: &types.AmiDistributionConfiguration{Name: aws.String(name)}}
}

func createDist(t *testing.T, c *ib.Client, name string, ds ...types.Distribution) string {
	t.Helper()
	if len(ds) == 0 {
		ds = []types.Distribution{amiOutput("us-east-1", "ami {{ imagebuilder:buildDate }}")}
	}
	out, err := c.CreateDistributionConfiguration(context.Background(), &ib.CreateDistributionConfigurationInput{Name: aws.String(name), Distributions: ds})
	if err != nil {
		t.Fatalf("CreateDistributionConfiguration %s: %v", name, err)
	}
	return aws.ToString(out.DistributionConfigurationArn)
}

func TestDistributionConfigurationLifecycle(t *testing.T) {
	a := startServer(t, twoSites)
	c := client(a, "test", "test")
	ctx := context.Background()

	full := []types.Distribution{
		{
			Region: aws.String("us-east-1"),
			AmiDistributionConfiguration: &types.AmiDistributionConfiguration{
				Name: aws.String("golden-{{imagebuilder:buildDate}}"), Description: aws.String("golden image"),
				TargetAccountIds: []string{"222222222222"}, AmiTags: map[string]string{"os": "linux"},
				KmsKeyId:         aws.String("arn:aws:kms:us-east-1:000000000000:alias/images"),
				LaunchPermission: &types.LaunchPermissionConfiguration{UserIds: []string{"333333333333"}, UserGroups: []string{"all"}},
			},
			LaunchTemplateConfigurations: []types.LaunchTemplateConfiguration{{LaunchTemplateId: aws.String("lt-0123456789abcdef0"), SetDefaultVersion: aws.Bool(true)}},
			SsmParameterConfigurations:   []types.SsmParameterConfiguration{{ParameterName: aws.String("/golden/ami"), DataType: types.SsmParameterDataTypeAwsEc2Image, AmiAccountId: aws.String("222222222222")}},
		},
		{
			Region: aws.String("eu-west-1"),
			ContainerDistributionConfiguration: &types.ContainerDistributionConfiguration{
				ContainerTags:    []string{"latest", "v1"},
				TargetRepository: &types.TargetContainerRepository{Service: types.ContainerRepositoryServiceEcr, RepositoryName: aws.String("team/app")},
			},
			S3ExportConfiguration:    &types.S3ExportConfiguration{RoleName: aws.String("vmimport"), DiskImageFormat: types.DiskImageFormatVmdk, S3Bucket: aws.String("exports"), S3Prefix: aws.String("vm/")},
			FastLaunchConfigurations: []types.FastLaunchConfiguration{{Enabled: true, MaxParallelLaunches: aws.Int32(6), LaunchTemplate: &types.FastLaunchLaunchTemplateSpecification{LaunchTemplateName: aws.String("fl")}}},
		},
	}
	out := must[*ib.CreateDistributionConfigurationOutput](t)(c.CreateDistributionConfiguration(ctx, &ib.CreateDistributionConfigurationInput{
		Name: aws.String("Golden Dist"), Description: aws.String("everywhere"), Distributions: full, Tags: map[string]string{"team": "images"},
	}))
	arn := aws.ToString(out.DistributionConfigurationArn)
	if arn != distPrefix+"golden-dist" || aws.ToString(out.ClientToken) == "" || aws.ToString(out.RequestId) == "" {
		t.Fatalf("create = %+v", out)
	}
	got := must[*ib.GetDistributionConfigurationOutput](t)(c.GetDistributionConfiguration(ctx, &ib.GetDistributionConfigurationInput{DistributionConfigurationArn: aws.String(arn)}))
	dc := got.DistributionConfiguration
	if aws.ToString(dc.Arn) != arn || aws.ToString(dc.Name) != "Golden Dist" || aws.ToString(dc.Description) != "everywhere" ||
		aws.ToInt32(dc.TimeoutMinutes) != 360 || dc.Tags["team"] != "images" || len(dc.Distributions) != 2 ||
		!isoMillis.MatchString(aws.ToString(dc.DateCreated)) || dc.DateUpdated != nil {
		t.Fatalf("get = %+v", dc)
	}
	us, eu := dc.Distributions[0], dc.Distributions[1]
	if aws.ToString(us.AmiDistributionConfiguration.Name) != "golden-{{imagebuilder:buildDate}}" || us.AmiDistributionConfiguration.AmiTags["os"] != "linux" ||
		aws.ToString(us.AmiDistributionConfiguration.KmsKeyId) != "arn:aws:kms:us-east-1:000000000000:alias/images" ||
		strings.Join(us.AmiDistributionConfiguration.LaunchPermission.UserGroups, ",") != "all" ||
		!aws.ToBool(us.LaunchTemplateConfigurations[0].SetDefaultVersion) || us.SsmParameterConfigurations[0].DataType != types.SsmParameterDataTypeAwsEc2Image ||
		strings.Join(eu.ContainerDistributionConfiguration.ContainerTags, ",") != "latest,v1" ||
		aws.ToString(eu.ContainerDistributionConfiguration.TargetRepository.RepositoryName) != "team/app" ||
		eu.S3ExportConfiguration.DiskImageFormat != types.DiskImageFormatVmdk || !eu.FastLaunchConfigurations[0].Enabled ||
		aws.ToString(eu.FastLaunchConfigurations[0].LaunchTemplate.LaunchTemplateName) != "fl" {
		t.Errorf("distributions = %+v / %+v", us, eu)
	}
	created := aws.ToString(dc.DateCreated)

	_, err := c.CreateDistributionConfiguration(ctx, &ib.CreateDistributionConfigurationInput{Name: aws.String("golden dist"), Distributions: full})
	wantMessage(t, err, "ResourceAlreadyExistsException", arn)

	// Update replaces description and distributions.
	must[*ib.UpdateDistributionConfigurationOutput](t)(c.UpdateDistributionConfiguration(ctx, &ib.UpdateDistributionConfigurationInput{
		DistributionConfigurationArn: aws.String(arn), Distributions: []types.Distribution{amiOutput("eu-west-1", "eu {{ imagebuilder:buildDate }}")},
	}))
	dc = must[*ib.GetDistributionConfigurationOutput](t)(c.GetDistributionConfiguration(ctx, &ib.GetDistributionConfigurationInput{DistributionConfigurationArn: aws.String(arn)})).DistributionConfiguration
	if len(dc.Distributions) != 1 || aws.ToString(dc.Distributions[0].Region) != "eu-west-1" || dc.Description != nil ||
		aws.ToString(dc.Name) != "Golden Dist" || aws.ToString(dc.DateCreated) != created || !isoMillis.MatchString(aws.ToString(dc.DateUpdated)) ||
		aws.ToInt32(dc.TimeoutMinutes) != 360 || dc.Tags["team"] != "images" {
		t.Errorf("after update: %+v", dc)
	}
	_, err = c.UpdateDistributionConfiguration(ctx, &ib.UpdateDistributionConfigurationInput{
		DistributionConfigurationArn: aws.String(arn), Distributions: []types.Distribution{amiOutput("eu-west-1", "no-date")},
	})
	wantMessage(t, err, "InvalidParameterValueException", "imagebuilder:buildDate")

	missing := distPrefix + "nope"
	_, err = c.GetDistributionConfiguration(ctx, &ib.GetDistributionConfigurationInput{DistributionConfigurationArn: aws.String(missing)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.UpdateDistributionConfiguration(ctx, &ib.UpdateDistributionConfigurationInput{DistributionConfigurationArn: aws.String(missing), Distributions: full})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.DeleteDistributionConfiguration(ctx, &ib.DeleteDistributionConfigurationInput{DistributionConfigurationArn: aws.String(missing)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.DeleteDistributionConfiguration(ctx, &ib.DeleteDistributionConfigurationInput{DistributionConfigurationArn: aws.String(infraPrefix + "golden-dist")})
	wantCode(t, err, "InvalidRequestException")

	b := client(a, "other", "othersecret")
	_, err = b.GetDistributionConfiguration(ctx, &ib.GetDistributionConfigurationInput{DistributionConfigurationArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = b.UpdateDistributionConfiguration(ctx, &ib.UpdateDistributionConfigurationInput{DistributionConfigurationArn: aws.String(arn), Distributions: full})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = b.DeleteDistributionConfiguration(ctx, &ib.DeleteDistributionConfigurationInput{DistributionConfigurationArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException")
	if l := must[*ib.ListDistributionConfigurationsOutput](t)(b.ListDistributionConfigurations(ctx, &ib.ListDistributionConfigurationsInput{})); len(l.DistributionConfigurationSummaryList) != 0 {
		t.Errorf("account B lists %+v", l.DistributionConfigurationSummaryList)
	}

	image := "arn:aws:imagebuilder:us-east-1:000000000000:image/golden/1.0.0/1"
	setRefs(t, a, image, arn)
	_, err = c.DeleteDistributionConfiguration(ctx, &ib.DeleteDistributionConfigurationInput{DistributionConfigurationArn: aws.String(arn)})
	wantMessage(t, err, "ResourceDependencyException", image)
	setRefs(t, a, image)
	del := must[*ib.DeleteDistributionConfigurationOutput](t)(c.DeleteDistributionConfiguration(ctx, &ib.DeleteDistributionConfigurationInput{DistributionConfigurationArn: aws.String(arn)}))
	if aws.ToString(del.DistributionConfigurationArn) != arn {
		t.Errorf("delete = %+v", del)
	}
	_, err = c.GetDistributionConfiguration(ctx, &ib.GetDistributionConfigurationInput{DistributionConfigurationArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException")
}

func TestDistributionConfigurationValidation(t *testing.T) {
	a := startServer(t, twoSites)
	c := client(a, "test", "test")
	ctx := context.Background()
	good := "x {{ imagebuilder:buildDate }}"
	cases := []struct {
		label string
		ds    []types.Distribution
		code  string
		want  string
	}{
		{"empty", []types.Distribution{}, "InvalidParameterValueException", "at least one distribution"},
		{"duplicate region", []types.Distribution{amiOutput("us-east-1", good), amiOutput("eu-west-1", good), amiOutput("us-east-1", good)},
			"InvalidParameterValueException", "distributions[2].region: region us-east-1 already has a distribution (distributions[0])"},
		{"unknown region", []types.Distribution{amiOutput("ap-south-1", good)}, "InvalidParameterValueException", `region "ap-south-1" is not a site of this server; configured regions: us-east-1, eu-west-1`},
		{"no output", []types.Distribution{{Region: aws.String("us-east-1")}}, "InvalidParameterValueException", "One or more outputs should be provided"},
		{"no build date", []types.Distribution{amiOutput("us-east-1", "golden")}, "InvalidParameterValueException", "must contain '{{ imagebuilder:buildDate }}'"},
		{"unknown variable", []types.Distribution{amiOutput("us-east-1", "x {{ imagebuilder:buildDate }} {{ imagebuilder:os }}")}, "InvalidParameterValueException", "imagebuilder:os"},
		{"colon outside placeholder", []types.Distribution{amiOutput("us-east-1", "a:b {{ imagebuilder:buildDate }}")}, "InvalidParameterValueException", "cannot contain ':'"},
		{"model pattern", []types.Distribution{amiOutput("us-east-1", "a/b {{ imagebuilder:buildDate }}")}, "InvalidRequestException", "name"},
		{"kms key of another region", []types.Distribution{{Region: aws.String("us-east-1"), AmiDistributionConfiguration: &types.AmiDistributionConfiguration{
			KmsKeyId: aws.String("arn:aws:kms:eu-west-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab")}}}, "InvalidParameterValueException", "is in region eu-west-1"},
		{"kms key form", []types.Distribution{{Region: aws.String("us-east-1"), AmiDistributionConfiguration: &types.AmiDistributionConfiguration{KmsKeyId: aws.String("my key")}}},
			"InvalidParameterValueException", "not a KMS key"},
		{"launch permission group", []types.Distribution{{Region: aws.String("us-east-1"), AmiDistributionConfiguration: &types.AmiDistributionConfiguration{
			LaunchPermission: &types.LaunchPermissionConfiguration{UserGroups: []string{"everyone"}}}}}, "InvalidParameterValueException", `"everyone"`},
		{"container service", []types.Distribution{{Region: aws.String("us-east-1"), ContainerDistributionConfiguration: &types.ContainerDistributionConfiguration{
			TargetRepository: &types.TargetContainerRepository{Service: "DOCKERHUB", RepositoryName: aws.String("app")}}}}, "InvalidRequestException", "service"},
		{"container repository", []types.Distribution{{Region: aws.String("us-east-1"), ContainerDistributionConfiguration: &types.ContainerDistributionConfiguration{
			TargetRepository: &types.TargetContainerRepository{Service: "ECR", RepositoryName: aws.String("App/")}}}}, "InvalidParameterValueException", "repositoryName"},
		{"s3 export format", []types.Distribution{{Region: aws.String("us-east-1"), S3ExportConfiguration: &types.S3ExportConfiguration{
			RoleName: aws.String("r"), DiskImageFormat: "QCOW2", S3Bucket: aws.String("bkt")}}}, "InvalidRequestException", "diskImageFormat"},
		{"s3 export bucket", []types.Distribution{{Region: aws.String("us-east-1"), S3ExportConfiguration: &types.S3ExportConfiguration{
			RoleName: aws.String("r"), DiskImageFormat: "RAW", S3Bucket: aws.String("s3://bkt")}}}, "InvalidParameterValueException", "s3ExportConfiguration.s3Bucket"},
		{"fast launch template twice", []types.Distribution{{Region: aws.String("us-east-1"), FastLaunchConfigurations: []types.FastLaunchConfiguration{{Enabled: true,
			LaunchTemplate: &types.FastLaunchLaunchTemplateSpecification{LaunchTemplateId: aws.String("lt-0123456789abcdef0"), LaunchTemplateName: aws.String("n")}}}}},
			"InvalidParameterCombinationException", "not both"},
		{"fast launch parallelism", []types.Distribution{{Region: aws.String("us-east-1"), FastLaunchConfigurations: []types.FastLaunchConfiguration{{Enabled: true, MaxParallelLaunches: aws.Int32(3)}}}},
			"InvalidParameterValueException", "minimum of 6"},
		{"ssm account not a target", []types.Distribution{{Region: aws.String("us-east-1"), SsmParameterConfigurations: []types.SsmParameterConfiguration{{
			ParameterName: aws.String("/app/ami"), AmiAccountId: aws.String("222222222222")}}}}, "InvalidParameterValueException", "target account"},
		{"ssm reserved name", []types.Distribution{{Region: aws.String("us-east-1"), SsmParameterConfigurations: []types.SsmParameterConfiguration{{
			ParameterName: aws.String("ssm-ami")}}}}, "InvalidParameterValueException", "reserved"},
		{"launch template id", []types.Distribution{{Region: aws.String("us-east-1"), LaunchTemplateConfigurations: []types.LaunchTemplateConfiguration{{
			LaunchTemplateId: aws.String("lt-1")}}}}, "InvalidRequestException", "launchTemplateId"},
	}
	for _, tc := range cases {
		t.Run(tc.label, func(t *testing.T) {
			_, err := c.CreateDistributionConfiguration(ctx, &ib.CreateDistributionConfigurationInput{Name: aws.String("bad"), Distributions: tc.ds})
			wantMessage(t, err, tc.code, tc.want)
		})
	}
	if l := must[*ib.ListDistributionConfigurationsOutput](t)(c.ListDistributionConfigurations(ctx, &ib.ListDistributionConfigurationsInput{})); len(l.DistributionConfigurationSummaryList) != 0 {
		t.Errorf("refused creates stored %d configurations", len(l.DistributionConfigurationSummaryList))
	}
	// Any spacing inside the braces is accepted.
	for i, name := range []string{"a-{{imagebuilder:buildDate}}", "b {{   imagebuilder:buildDate }}", "c {{ imagebuilder:buildVersion }}-{{ imagebuilder:buildDate }}"} {
		createDist(t, c, "spacing-"+string(rune('a'+i)), amiOutput("us-east-1", name))
	}
}

func TestDistributionConfigurationDefaultSites(t *testing.T) {
	// Without configured regions the server's own region is the only site.
	a := startServer(t)
	c := client(a, "test", "test")
	createDist(t, c, "home")
	_, err := c.CreateDistributionConfiguration(context.Background(), &ib.CreateDistributionConfigurationInput{
		Name: aws.String("away"), Distributions: []types.Distribution{amiOutput("eu-west-1", "x {{ imagebuilder:buildDate }}")}})
	wantMessage(t, err, "InvalidParameterValueException", "configured regions: us-east-1")
}

func TestDistributionConfigurationList(t *testing.T) {
	a := startServer(t, twoSites)
	c := client(a, "test", "test")
	ctx := context.Background()
	createDist(t, c, "one")
	createDist(t, c, "two", amiOutput("us-east-1", "x {{ imagebuilder:buildDate }}"), amiOutput("eu-west-1", "y {{ imagebuilder:buildDate }}"))
	createDist(t, c, "three")
	var names []string
	p := ib.NewListDistributionConfigurationsPaginator(c, &ib.ListDistributionConfigurationsInput{MaxResults: aws.Int32(1)})
	for p.HasMorePages() {
		page := must[*ib.ListDistributionConfigurationsOutput](t)(p.NextPage(ctx))
		if len(page.DistributionConfigurationSummaryList) != 1 {
			t.Fatalf("page of %d", len(page.DistributionConfigurationSummaryList))
		}
		s := page.DistributionConfigurationSummaryList[0]
		names = append(names, aws.ToString(s.Name)+":"+strings.Join(s.Regions, "+"))
		if !isoMillis.MatchString(aws.ToString(s.DateCreated)) || !strings.HasPrefix(aws.ToString(s.Arn), distPrefix) {
			t.Errorf("summary %+v", s)
		}
	}
	if strings.Join(names, ",") != "one:us-east-1,three:us-east-1,two:us-east-1+eu-west-1" {
		t.Errorf("listed %v", names)
	}
	l := must[*ib.ListDistributionConfigurationsOutput](t)(c.ListDistributionConfigurations(ctx, &ib.ListDistributionConfigurationsInput{
		Filters: []types.Filter{{Name: aws.String("name"), Values: []string{"two", "three"}}}}))
	if len(l.DistributionConfigurationSummaryList) != 2 || l.NextToken != nil {
		t.Errorf("filtered list %+v", l)
	}
	_, err := c.ListDistributionConfigurations(ctx, &ib.ListDistributionConfigurationsInput{Filters: []types.Filter{{Name: aws.String("region"), Values: []string{"x"}}}})
	wantCode(t, err, "InvalidRequestException")
}

// TestDistributionConfigurationCLI runs create → get → list → update →
// delete with the AWS CLI.
func TestDistributionConfigurationCLI(t *testing.T) {
	awsBin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("no aws CLI on PATH")
	}
	a := startServer(t, twoSites)
	ok, fails := cliSteps(t, a, awsBin)
	out := ok("create-distribution-configuration", "--name", "cli-dist", "--distributions",
		`[{"region":"us-east-1","amiDistributionConfiguration":{"name":"cli {{ imagebuilder:buildDate }}","amiTags":{"a":"b"}}},{"region":"eu-west-1","s3ExportConfiguration":{"roleName":"vmimport","diskImageFormat":"RAW","s3Bucket":"cli-exports"}}]`,
		"--tags", "team=cli")
	arn, _ := out["distributionConfigurationArn"].(string)
	if arn != distPrefix+"cli-dist" {
		t.Fatalf("ARN %q", arn)
	}
	got := ok("get-distribution-configuration", "--distribution-configuration-arn", arn)
	dc, _ := got["distributionConfiguration"].(map[string]any)
	if ds, _ := dc["distributions"].([]any); len(ds) != 2 || dc["timeoutMinutes"] != float64(360) {
		t.Errorf("get = %v", got)
	}
	list := ok("list-distribution-configurations")
	if l, _ := list["distributionConfigurationSummaryList"].([]any); len(l) != 1 {
		t.Errorf("list = %v", list)
	}
	ok("update-distribution-configuration", "--distribution-configuration-arn", arn, "--distributions",
		`[{"region":"eu-west-1","amiDistributionConfiguration":{"name":"eu-{{imagebuilder:buildDate}}"}}]`)
	fails("InvalidParameterValueException", "create-distribution-configuration", "--name", "bad", "--distributions",
		`[{"region":"us-east-1","amiDistributionConfiguration":{"name":"no-date"}}]`)
	ok("delete-distribution-configuration", "--distribution-configuration-arn", arn)
	fails("ResourceNotFoundException", "get-distribution-configuration", "--distribution-configuration-arn", arn)
}

// TestConfigurationsAreRegional: configurations live in the region of the
// request that created them; another region neither lists nor shares the
// name space.
func TestConfigurationsAreRegional(t *testing.T) {
	a := startServer(t, twoSites)
	ctx := context.Background()
	us := client(a, "test", "test")
	eu := ib.New(ib.Options{Region: "eu-west-1", BaseEndpoint: aws.String(a.URL()), RetryMaxAttempts: 1,
		Credentials: us.Options().Credentials})
	createDist(t, us, "shared-name")
	createInfra(t, us, "shared-name")
	must[*ib.CreateLifecyclePolicyOutput](t)(us.CreateLifecyclePolicy(ctx, lcInput("shared-name")))
	if got := createDist(t, eu, "shared-name"); got != "arn:aws:imagebuilder:eu-west-1:000000000000:distribution-configuration/shared-name" {
		t.Errorf("eu-west-1 ARN %s", got)
	}
	if l := must[*ib.ListDistributionConfigurationsOutput](t)(eu.ListDistributionConfigurations(ctx, &ib.ListDistributionConfigurationsInput{})); len(l.DistributionConfigurationSummaryList) != 1 {
		t.Errorf("eu-west-1 lists %d distribution configurations", len(l.DistributionConfigurationSummaryList))
	}
	if l := must[*ib.ListInfrastructureConfigurationsOutput](t)(eu.ListInfrastructureConfigurations(ctx, &ib.ListInfrastructureConfigurationsInput{})); len(l.InfrastructureConfigurationSummaryList) != 0 {
		t.Errorf("eu-west-1 lists %d infrastructure configurations", len(l.InfrastructureConfigurationSummaryList))
	}
	if l := must[*ib.ListLifecyclePoliciesOutput](t)(eu.ListLifecyclePolicies(ctx, &ib.ListLifecyclePoliciesInput{})); len(l.LifecyclePolicySummaryList) != 0 {
		t.Errorf("eu-west-1 lists %d lifecycle policies", len(l.LifecyclePolicySummaryList))
	}
	// An availability zone must belong to the request's region.
	createInfra(t, eu, "eu-hosts", func(in *ib.CreateInfrastructureConfigurationInput) {
		in.Placement = &types.Placement{AvailabilityZone: aws.String("eu-west-1b")}
	})
}
