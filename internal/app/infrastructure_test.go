package app

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"

	"github.com/goldsmith/goldsmith/internal/store"
)

const infraPrefix = "arn:aws:imagebuilder:us-east-1:000000000000:infrastructure-configuration/"

// setRefs records that resource from references the ARNs to, as a pipeline
// or image does, straight in the server's store.
func setRefs(t *testing.T, a *App, from string, to ...string) {
	t.Helper()
	err := a.st.Update(context.Background(), func(tx store.Tx) error { return tx.SetRefs(context.Background(), from, to) })
	if err != nil {
		t.Fatal(err)
	}
}

// wantMessage fails the test unless err carries the code and its message
// contains want.
func wantMessage(t *testing.T, err error, code, want string) {
	t.Helper()
	wantCode(t, err, code)
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not mention %q", err, want)
	}
}

func createInfra(t *testing.T, c *ib.Client, name string, mod ...func(*ib.CreateInfrastructureConfigurationInput)) string {
	t.Helper()
	in := &ib.CreateInfrastructureConfigurationInput{Name: aws.String(name), InstanceProfileName: aws.String("EC2InstanceProfileForImageBuilder")}
	for _, m := range mod {
		m(in)
	}
	out, err := c.CreateInfrastructureConfiguration(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateInfrastructureConfiguration %s: %v", name, err)
	}
	return aws.ToString(out.InfrastructureConfigurationArn)
}

func TestInfrastructureConfigurationLifecycle(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()

	arn := createInfra(t, c, "My Infra", func(in *ib.CreateInfrastructureConfigurationInput) {
		in.Description = aws.String("build hosts")
		in.InstanceTypes = []string{"t3.micro", "local.small"}
		in.SecurityGroupIds = []string{"sg-0123456789abcdef0"}
		in.SubnetId = aws.String("subnet-0123abcd")
		in.KeyPair = aws.String("debug-key")
		in.TerminateInstanceOnFailure = aws.Bool(false)
		in.SnsTopicArn = aws.String("arn:aws:sns:us-east-1:000000000000:builds")
		in.Logging = &types.Logging{S3Logs: &types.S3Logs{S3BucketName: aws.String("build-logs"), S3KeyPrefix: aws.String("infra/")}}
		in.ResourceTags = map[string]string{"purpose": "build"}
		in.InstanceMetadataOptions = &types.InstanceMetadataOptions{HttpTokens: aws.String("required"), HttpPutResponseHopLimit: aws.Int32(2)}
		in.Placement = &types.Placement{AvailabilityZone: aws.String("us-east-1a"), Tenancy: types.TenancyTypeDedicated}
		in.Tags = map[string]string{"team": "images"}
	})
	if arn != infraPrefix+"my-infra" {
		t.Fatalf("ARN = %s", arn)
	}
	got := must[*ib.GetInfrastructureConfigurationOutput](t)(c.GetInfrastructureConfiguration(ctx, &ib.GetInfrastructureConfigurationInput{InfrastructureConfigurationArn: aws.String(arn)}))
	ic := got.InfrastructureConfiguration
	if aws.ToString(got.RequestId) == "" || aws.ToString(ic.Arn) != arn || aws.ToString(ic.Name) != "My Infra" || aws.ToString(ic.Description) != "build hosts" ||
		strings.Join(ic.InstanceTypes, ",") != "t3.micro,local.small" || aws.ToString(ic.InstanceProfileName) != "EC2InstanceProfileForImageBuilder" ||
		strings.Join(ic.SecurityGroupIds, ",") != "sg-0123456789abcdef0" || aws.ToString(ic.SubnetId) != "subnet-0123abcd" ||
		aws.ToString(ic.KeyPair) != "debug-key" || aws.ToBool(ic.TerminateInstanceOnFailure) || ic.TerminateInstanceOnFailure == nil ||
		aws.ToString(ic.SnsTopicArn) != "arn:aws:sns:us-east-1:000000000000:builds" ||
		aws.ToString(ic.Logging.S3Logs.S3BucketName) != "build-logs" || aws.ToString(ic.Logging.S3Logs.S3KeyPrefix) != "infra/" ||
		ic.ResourceTags["purpose"] != "build" || aws.ToString(ic.InstanceMetadataOptions.HttpTokens) != "required" ||
		aws.ToInt32(ic.InstanceMetadataOptions.HttpPutResponseHopLimit) != 2 || aws.ToString(ic.Placement.AvailabilityZone) != "us-east-1a" ||
		ic.Placement.Tenancy != types.TenancyTypeDedicated || ic.Tags["team"] != "images" || len(ic.Tags) != 1 {
		t.Fatalf("GetInfrastructureConfiguration = %+v", ic)
	}
	created := aws.ToString(ic.DateCreated)
	if !isoMillis.MatchString(created) || ic.DateUpdated != nil {
		t.Errorf("dateCreated %q, dateUpdated %v", created, ic.DateUpdated)
	}

	// The name (and any name with the same ARN slug) is taken.
	for _, name := range []string{"My Infra", "my infra", "my-infra"} {
		_, err := c.CreateInfrastructureConfiguration(ctx, &ib.CreateInfrastructureConfigurationInput{Name: aws.String(name), InstanceProfileName: aws.String("p")})
		wantMessage(t, err, "ResourceAlreadyExistsException", arn)
	}

	// Update replaces the whole configuration: members left out are cleared.
	up := must[*ib.UpdateInfrastructureConfigurationOutput](t)(c.UpdateInfrastructureConfiguration(ctx, &ib.UpdateInfrastructureConfigurationInput{
		InfrastructureConfigurationArn: aws.String(arn), InstanceProfileName: aws.String("OtherProfile"),
		InstanceTypes: []string{"m5.large"}, Description: aws.String("bigger"),
	}))
	if aws.ToString(up.InfrastructureConfigurationArn) != arn || aws.ToString(up.ClientToken) == "" {
		t.Errorf("UpdateInfrastructureConfiguration = %+v", up)
	}
	ic = must[*ib.GetInfrastructureConfigurationOutput](t)(c.GetInfrastructureConfiguration(ctx, &ib.GetInfrastructureConfigurationInput{InfrastructureConfigurationArn: aws.String(arn)})).InfrastructureConfiguration
	if aws.ToString(ic.Name) != "My Infra" || aws.ToString(ic.InstanceProfileName) != "OtherProfile" || strings.Join(ic.InstanceTypes, ",") != "m5.large" ||
		ic.Logging != nil || ic.SubnetId != nil || ic.Placement != nil || len(ic.SecurityGroupIds) != 0 || !aws.ToBool(ic.TerminateInstanceOnFailure) ||
		ic.Tags["team"] != "images" || aws.ToString(ic.DateCreated) != created || !isoMillis.MatchString(aws.ToString(ic.DateUpdated)) {
		t.Errorf("after update: %+v", ic)
	}

	// Unknown ARNs, malformed ARNs and other accounts.
	missing := infraPrefix + "nope"
	_, err := c.GetInfrastructureConfiguration(ctx, &ib.GetInfrastructureConfigurationInput{InfrastructureConfigurationArn: aws.String(missing)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.UpdateInfrastructureConfiguration(ctx, &ib.UpdateInfrastructureConfigurationInput{InfrastructureConfigurationArn: aws.String(missing), InstanceProfileName: aws.String("p")})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.DeleteInfrastructureConfiguration(ctx, &ib.DeleteInfrastructureConfigurationInput{InfrastructureConfigurationArn: aws.String(missing)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.GetInfrastructureConfiguration(ctx, &ib.GetInfrastructureConfigurationInput{InfrastructureConfigurationArn: aws.String("arn:aws:imagebuilder:us-east-1:000000000000:distribution-configuration/my-infra")})
	wantCode(t, err, "InvalidRequestException")
	_, err = c.GetInfrastructureConfiguration(ctx, &ib.GetInfrastructureConfigurationInput{InfrastructureConfigurationArn: aws.String("not-an-arn")})
	wantCode(t, err, "InvalidRequestException")

	b := client(a, "other", "othersecret")
	_, err = b.GetInfrastructureConfiguration(ctx, &ib.GetInfrastructureConfigurationInput{InfrastructureConfigurationArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = b.UpdateInfrastructureConfiguration(ctx, &ib.UpdateInfrastructureConfigurationInput{InfrastructureConfigurationArn: aws.String(arn), InstanceProfileName: aws.String("p")})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = b.DeleteInfrastructureConfiguration(ctx, &ib.DeleteInfrastructureConfigurationInput{InfrastructureConfigurationArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException")
	if l := must[*ib.ListInfrastructureConfigurationsOutput](t)(b.ListInfrastructureConfigurations(ctx, &ib.ListInfrastructureConfigurationsInput{})); len(l.InfrastructureConfigurationSummaryList) != 0 {
		t.Errorf("account B lists %+v", l.InfrastructureConfigurationSummaryList)
	}
	// B may use the same name in its own account.
	if got := createInfra(t, b, "My Infra"); got != "arn:aws:imagebuilder:us-east-1:111111111111:infrastructure-configuration/my-infra" {
		t.Errorf("B's ARN = %s", got)
	}

	// Tags work on the ARN.
	must[*ib.TagResourceOutput](t)(c.TagResource(ctx, &ib.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"stage": "dev"}}))
	if tags := must[*ib.ListTagsForResourceOutput](t)(c.ListTagsForResource(ctx, &ib.ListTagsForResourceInput{ResourceArn: aws.String(arn)})).Tags; len(tags) != 2 {
		t.Errorf("tags = %v", tags)
	}

	// A pipeline (or image) that references the configuration blocks its
	// deletion.
	pipeline := "arn:aws:imagebuilder:us-east-1:000000000000:image-pipeline/nightly"
	setRefs(t, a, pipeline, arn)
	_, err = c.DeleteInfrastructureConfiguration(ctx, &ib.DeleteInfrastructureConfigurationInput{InfrastructureConfigurationArn: aws.String(arn)})
	wantMessage(t, err, "ResourceDependencyException", pipeline)
	setRefs(t, a, pipeline)
	del := must[*ib.DeleteInfrastructureConfigurationOutput](t)(c.DeleteInfrastructureConfiguration(ctx, &ib.DeleteInfrastructureConfigurationInput{InfrastructureConfigurationArn: aws.String(arn)}))
	if aws.ToString(del.InfrastructureConfigurationArn) != arn || aws.ToString(del.RequestId) == "" {
		t.Errorf("DeleteInfrastructureConfiguration = %+v", del)
	}
	_, err = c.GetInfrastructureConfiguration(ctx, &ib.GetInfrastructureConfigurationInput{InfrastructureConfigurationArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.DeleteInfrastructureConfiguration(ctx, &ib.DeleteInfrastructureConfigurationInput{InfrastructureConfigurationArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException")
	// The name is free again.
	createInfra(t, c, "My Infra")
}

func TestInfrastructureConfigurationValidation(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	cases := []struct {
		label string
		mod   func(*ib.CreateInfrastructureConfigurationInput)
		code  string
		want  string
	}{
		{"unknown instance type", func(in *ib.CreateInfrastructureConfigurationInput) {
			in.InstanceTypes = []string{"t3.micro", "t3.mega"}
		},
			"InvalidParameterValueException", `instanceTypes[1]: instance type "t3.mega" is not in goldsmith's catalogue`},
		{"duplicate instance type", func(in *ib.CreateInfrastructureConfigurationInput) {
			in.InstanceTypes = []string{"local.large", "local.large"}
		},
			"InvalidParameterValueException", "already listed"},
		{"security group form", func(in *ib.CreateInfrastructureConfigurationInput) { in.SecurityGroupIds = []string{"default"} },
			"InvalidParameterValueException", `securityGroupIds[0]: "default"`},
		{"subnet without security groups", func(in *ib.CreateInfrastructureConfigurationInput) { in.SubnetId = aws.String("subnet-0123abcd") },
			"InvalidParameterValueException", "needs securityGroupIds"},
		{"subnet form", func(in *ib.CreateInfrastructureConfigurationInput) {
			in.SubnetId, in.SecurityGroupIds = aws.String("net-1"), []string{"sg-0123abcd"}
		}, "InvalidParameterValueException", `subnetId: "net-1"`},
		{"availability zone of another region", func(in *ib.CreateInfrastructureConfigurationInput) {
			in.Placement = &types.Placement{AvailabilityZone: aws.String("eu-west-1a")}
		}, "InvalidParameterValueException", "not an Availability Zone of region us-east-1"},
		{"host without host tenancy", func(in *ib.CreateInfrastructureConfigurationInput) {
			in.Placement = &types.Placement{HostId: aws.String("h-0123456789abcdef0")}
		}, "InvalidParameterValueException", "only with tenancy host"},
		{"host id and group", func(in *ib.CreateInfrastructureConfigurationInput) {
			in.Placement = &types.Placement{Tenancy: types.TenancyTypeHost, HostId: aws.String("h-0123456789abcdef0"),
				HostResourceGroupArn: aws.String("arn:aws:resource-groups:us-east-1:000000000000:group/hosts")}
		}, "InvalidParameterValueException", "either hostId or hostResourceGroupArn"},
		{"tenancy enum", func(in *ib.CreateInfrastructureConfigurationInput) {
			in.Placement = &types.Placement{Tenancy: "shared"}
		},
			"InvalidRequestException", "tenancy"},
		{"sns topic of another region", func(in *ib.CreateInfrastructureConfigurationInput) {
			in.SnsTopicArn = aws.String("arn:aws:sns:eu-west-1:000000000000:builds")
		}, "InvalidParameterValueException", "is in region eu-west-1"},
		{"sns topic form", func(in *ib.CreateInfrastructureConfigurationInput) { in.SnsTopicArn = aws.String("builds") },
			"InvalidRequestException", "snsTopicArn"},
		{"s3 logs without bucket", func(in *ib.CreateInfrastructureConfigurationInput) {
			in.Logging = &types.Logging{S3Logs: &types.S3Logs{S3KeyPrefix: aws.String("p/")}}
		}, "InvalidParameterValueException", "s3BucketName is required"},
		{"s3 logs bucket name", func(in *ib.CreateInfrastructureConfigurationInput) {
			in.Logging = &types.Logging{S3Logs: &types.S3Logs{S3BucketName: aws.String("Build_Logs")}}
		}, "InvalidParameterValueException", "logging.s3Logs.s3BucketName"},
		{"hop limit", func(in *ib.CreateInfrastructureConfigurationInput) {
			in.InstanceMetadataOptions = &types.InstanceMetadataOptions{HttpPutResponseHopLimit: aws.Int32(65)}
		}, "InvalidRequestException", "httpPutResponseHopLimit"},
		{"http tokens", func(in *ib.CreateInfrastructureConfigurationInput) {
			in.InstanceMetadataOptions = &types.InstanceMetadataOptions{HttpTokens: aws.String("sometimes")}
		}, "InvalidRequestException", "httpTokens"},
		{"name pattern", func(in *ib.CreateInfrastructureConfigurationInput) { in.Name = aws.String(" bad") },
			"InvalidRequestException", "name"},
	}
	updates := 0
	for _, tc := range cases {
		t.Run(tc.label, func(t *testing.T) {
			in := &ib.CreateInfrastructureConfigurationInput{Name: aws.String("v-" + strings.ReplaceAll(tc.label, " ", "-")), InstanceProfileName: aws.String("p")}
			tc.mod(in)
			_, err := c.CreateInfrastructureConfiguration(ctx, in)
			wantMessage(t, err, tc.code, tc.want)
			// Update applies the same rules.
			if tc.code == "InvalidParameterValueException" {
				updates++
				arn := createInfra(t, c, "u-"+strings.ReplaceAll(tc.label, " ", "-"))
				_, err := c.UpdateInfrastructureConfiguration(ctx, &ib.UpdateInfrastructureConfigurationInput{
					InfrastructureConfigurationArn: aws.String(arn), InstanceProfileName: in.InstanceProfileName,
					InstanceTypes: in.InstanceTypes, SecurityGroupIds: in.SecurityGroupIds, SubnetId: in.SubnetId,
					Placement: in.Placement, SnsTopicArn: in.SnsTopicArn, Logging: in.Logging, InstanceMetadataOptions: in.InstanceMetadataOptions,
				})
				wantMessage(t, err, tc.code, tc.want)
			}
		})
	}
	if l := must[*ib.ListInfrastructureConfigurationsOutput](t)(c.ListInfrastructureConfigurations(ctx, &ib.ListInfrastructureConfigurationsInput{})); len(l.InfrastructureConfigurationSummaryList) != updates {
		t.Errorf("refused creates stored something: %d configurations", len(l.InfrastructureConfigurationSummaryList))
	}
}

func TestInfrastructureConfigurationListAndIdempotency(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	for _, n := range []string{"charlie", "alpha", "Bravo"} {
		createInfra(t, c, n, func(in *ib.CreateInfrastructureConfigurationInput) {
			in.InstanceTypes = []string{"local.small"}
			in.ResourceTags = map[string]string{"n": n}
			in.Tags = map[string]string{"t": n}
		})
	}
	var names []string
	p := ib.NewListInfrastructureConfigurationsPaginator(c, &ib.ListInfrastructureConfigurationsInput{MaxResults: aws.Int32(1)})
	pages := 0
	for p.HasMorePages() {
		page := must[*ib.ListInfrastructureConfigurationsOutput](t)(p.NextPage(ctx))
		pages++
		if len(page.InfrastructureConfigurationSummaryList) != 1 {
			t.Fatalf("page of %d", len(page.InfrastructureConfigurationSummaryList))
		}
		s := page.InfrastructureConfigurationSummaryList[0]
		if !isoMillis.MatchString(aws.ToString(s.DateCreated)) || s.Tags["t"] != aws.ToString(s.Name) || s.ResourceTags["n"] != aws.ToString(s.Name) ||
			strings.Join(s.InstanceTypes, ",") != "local.small" || aws.ToString(s.InstanceProfileName) == "" {
			t.Errorf("summary %+v", s)
		}
		names = append(names, aws.ToString(s.Name))
	}
	if strings.Join(names, ",") != "alpha,Bravo,charlie" || pages != 3 {
		t.Errorf("listed %v in %d pages", names, pages)
	}
	for _, f := range []string{"Bravo", "bravo"} {
		l := must[*ib.ListInfrastructureConfigurationsOutput](t)(c.ListInfrastructureConfigurations(ctx, &ib.ListInfrastructureConfigurationsInput{
			Filters: []types.Filter{{Name: aws.String("name"), Values: []string{f}}}}))
		if len(l.InfrastructureConfigurationSummaryList) != 1 || aws.ToString(l.InfrastructureConfigurationSummaryList[0].Name) != "Bravo" {
			t.Errorf("filter name=%s: %+v", f, l.InfrastructureConfigurationSummaryList)
		}
	}
	_, err := c.ListInfrastructureConfigurations(ctx, &ib.ListInfrastructureConfigurationsInput{Filters: []types.Filter{{Name: aws.String("platform"), Values: []string{"Linux"}}}})
	wantCode(t, err, "InvalidRequestException")
	_, err = c.ListInfrastructureConfigurations(ctx, &ib.ListInfrastructureConfigurationsInput{NextToken: aws.String("garbage")})
	wantCode(t, err, "InvalidPaginationTokenException")

	// clientToken: a replay returns the first result, other parameters are
	// a mismatch.
	in := &ib.CreateInfrastructureConfigurationInput{Name: aws.String("idem"), InstanceProfileName: aws.String("p"), ClientToken: aws.String("token-1")}
	first := must[*ib.CreateInfrastructureConfigurationOutput](t)(c.CreateInfrastructureConfiguration(ctx, in))
	again := must[*ib.CreateInfrastructureConfigurationOutput](t)(c.CreateInfrastructureConfiguration(ctx, in))
	if aws.ToString(first.InfrastructureConfigurationArn) != aws.ToString(again.InfrastructureConfigurationArn) || aws.ToString(again.ClientToken) != "token-1" {
		t.Errorf("replay = %+v, first %+v", again, first)
	}
	in.Description = aws.String("changed")
	_, err = c.CreateInfrastructureConfiguration(ctx, in)
	wantCode(t, err, "IdempotentParameterMismatchException")
}

// TestInfrastructureConfigurationCLI runs create → get → list → update →
// delete with the AWS CLI.
func TestInfrastructureConfigurationCLI(t *testing.T) {
	awsBin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("no aws CLI on PATH")
	}
	a := startServer(t)
	ok, fails := cliSteps(t, a, awsBin)
	out := ok("create-infrastructure-configuration", "--name", "cli-infra", "--instance-profile-name", "p",
		"--instance-types", "t3.micro", "local.large", "--logging", "s3Logs={s3BucketName=cli-logs}", "--tags", "team=cli")
	arn, _ := out["infrastructureConfigurationArn"].(string)
	if arn != infraPrefix+"cli-infra" {
		t.Fatalf("ARN %q", arn)
	}
	got := ok("get-infrastructure-configuration", "--infrastructure-configuration-arn", arn)
	ic, _ := got["infrastructureConfiguration"].(map[string]any)
	if types, _ := ic["instanceTypes"].([]any); len(types) != 2 || ic["terminateInstanceOnFailure"] != true {
		t.Errorf("get = %v", got)
	}
	list := ok("list-infrastructure-configurations")
	if l, _ := list["infrastructureConfigurationSummaryList"].([]any); len(l) != 1 {
		t.Errorf("list = %v", list)
	}
	ok("update-infrastructure-configuration", "--infrastructure-configuration-arn", arn, "--instance-profile-name", "q", "--instance-types", "m5.large")
	fails("InvalidParameterValueException", "create-infrastructure-configuration", "--name", "bad", "--instance-profile-name", "p", "--instance-types", "z9.large")
	ok("delete-infrastructure-configuration", "--infrastructure-configuration-arn", arn)
	fails("ResourceNotFoundException", "get-infrastructure-configuration", "--infrastructure-configuration-arn", arn)
}

// cliSteps returns runners of `aws imagebuilder` that must succeed (ok) or
// fail with an error code (fails).
func cliSteps(t *testing.T, a *App, awsBin string) (func(args ...string) map[string]any, func(code string, args ...string)) {
	run := awsCLI(t, a, awsBin)
	ok, fails := cliChecks(t, run)
	return ok, fails
}
