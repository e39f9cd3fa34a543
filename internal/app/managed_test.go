package app

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"

	"github.com/goldsmith/goldsmith/internal/config"
)

// TestManagedResources: the Amazon-managed workflows and components are
// listed under owner=Amazon in every configured region, readable by any
// account and unchangeable.
func TestManagedResources(t *testing.T) { forEachStore(t, testManagedResources) }

func testManagedResources(t *testing.T, a *App) {
	c := client(a, "test", "test")
	b := client(a, "other", "othersecret")
	ctx := context.Background()

	wfs := must[*ib.ListWorkflowsOutput](t)(c.ListWorkflows(ctx, &ib.ListWorkflowsInput{Owner: types.OwnershipAmazon}))
	var names []string
	for _, w := range wfs.WorkflowVersionList {
		names = append(names, strings.TrimPrefix(aws.ToString(w.Arn), "arn:aws:imagebuilder:us-east-1:aws:workflow/"))
		if aws.ToString(w.Owner) != "aws" {
			t.Errorf("owner = %+v", w)
		}
	}
	slices.Sort(names)
	if got := strings.Join(names, " "); got != "build/build-container/1.0.1 build/build-image/1.0.3 distribution/distribute-image/1.0.0 test/test-container/1.0.0 test/test-image/1.0.0" {
		t.Errorf("managed workflows = %s", got)
	}
	if self := must[*ib.ListWorkflowsOutput](t)(c.ListWorkflows(ctx, &ib.ListWorkflowsInput{})); len(self.WorkflowVersionList) != 0 {
		t.Errorf("owner=Self lists managed workflows: %+v", self.WorkflowVersionList)
	}

	// The documents, as real pipelines reference them (x.x.x), for any account.
	for _, cl := range []*ib.Client{c, b} {
		got := must[*ib.GetWorkflowOutput](t)(cl.GetWorkflow(ctx, &ib.GetWorkflowInput{
			WorkflowBuildVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:workflow/build/build-image/x.x.x")}))
		w := got.Workflow
		if aws.ToString(w.Arn) != "arn:aws:imagebuilder:us-east-1:aws:workflow/build/build-image/1.0.3/1" || w.Type != types.WorkflowTypeBuild ||
			!strings.Contains(aws.ToString(w.Data), "action: CreateImage") || !strings.Contains(aws.ToString(w.Data), "name: \"ImageId\"") {
			t.Errorf("build-image = %+v", w)
		}
	}
	for _, arn := range []string{
		"arn:aws:imagebuilder:us-east-1:aws:workflow/test/test-image/x.x.x",
		"arn:aws:imagebuilder:us-east-1:aws:workflow/build/build-container/1.x.x",
		"arn:aws:imagebuilder:us-east-1:aws:workflow/test/test-container/1.0.0",
		"arn:aws:imagebuilder:us-east-1:aws:workflow/distribution/distribute-image/1.0.0/1",
	} {
		must[*ib.GetWorkflowOutput](t)(c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String(arn)}))
	}
	builds := must[*ib.ListWorkflowBuildVersionsOutput](t)(c.ListWorkflowBuildVersions(ctx, &ib.ListWorkflowBuildVersionsInput{
		WorkflowVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:workflow/test/test-image/x.x.x")}))
	if len(builds.WorkflowSummaryList) != 1 || aws.ToString(builds.WorkflowSummaryList[0].Owner) != "aws" {
		t.Errorf("test-image builds = %+v", builds.WorkflowSummaryList)
	}

	comps := must[*ib.ListComponentsOutput](t)(c.ListComponents(ctx, &ib.ListComponentsInput{Owner: types.OwnershipAmazon}))
	var cnames []string
	for _, v := range comps.ComponentVersionList {
		cnames = append(cnames, aws.ToString(v.Name)+"/"+aws.ToString(v.Version)+"/"+string(v.Type)+"/"+string(v.Platform))
	}
	slices.Sort(cnames)
	if got := strings.Join(cnames, " "); got != "hello-world-linux/1.0.0/BUILD/Linux reboot-linux/1.0.0/BUILD/Linux reboot-test-linux/1.0.0/TEST/Linux simple-boot-test-linux/1.0.0/TEST/Linux update-linux/1.0.0/BUILD/Linux" {
		t.Errorf("managed components = %s", got)
	}
	for _, cl := range []*ib.Client{c, b} {
		got := must[*ib.GetComponentOutput](t)(cl.GetComponent(ctx, &ib.GetComponentInput{
			ComponentBuildVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x")}))
		comp := got.Component
		if aws.ToString(comp.Arn) != "arn:aws:imagebuilder:us-east-1:aws:component/update-linux/1.0.0/1" || aws.ToString(comp.Owner) != "aws" ||
			!strings.Contains(aws.ToString(comp.Data), "action: UpdateOS") || comp.State == nil || comp.State.Status != types.ComponentStatusActive {
			t.Errorf("update-linux = %+v", comp)
		}
	}
	for _, name := range []string{"reboot-linux", "hello-world-linux", "simple-boot-test-linux", "reboot-test-linux"} {
		must[*ib.GetComponentOutput](t)(c.GetComponent(ctx, &ib.GetComponentInput{
			ComponentBuildVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/" + name + "/1.x.x")}))
	}

	// Managed resources cannot be deleted by customers.
	_, err := c.DeleteWorkflow(ctx, &ib.DeleteWorkflowInput{WorkflowBuildVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:workflow/build/build-image/1.0.3/1")})
	wantCode(t, err, "ForbiddenException")
	_, err = c.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/update-linux/1.0.0/1")})
	wantCode(t, err, "ForbiddenException")
	must[*ib.GetWorkflowOutput](t)(c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:workflow/build/build-image/1.0.3/1")}))
}

// TestManagedResourcesInEveryRegion: each configured region has its own
// copy, with that region in the ARN; restarting on the same data does not
// seed twice.
func TestManagedResourcesInEveryRegion(t *testing.T) {
	dir := t.TempDir()
	cfgs := func(c *config.Config) {
		c.Regions = []string{"us-east-1", "eu-west-1"}
		c.DataDir = dir
	}
	// A first server on the same data dir seeds, then stops.
	cfg := &config.Config{Listen: "127.0.0.1:0", Accounts: []config.Account{
		{ID: accountA, Credentials: []config.Credential{{AccessKeyID: "test", SecretAccessKey: "test"}}}}}
	cfgs(cfg)
	if err := cfg.ApplyDefaults(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first, err := Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	a := startServer(t, cfgs)
	eu := ib.New(ib.Options{Region: "eu-west-1", BaseEndpoint: aws.String(a.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), RetryMaxAttempts: 1})
	got := must[*ib.GetComponentOutput](t)(eu.GetComponent(ctx, &ib.GetComponentInput{
		ComponentBuildVersionArn: aws.String("arn:aws:imagebuilder:eu-west-1:aws:component/hello-world-linux/x.x.x")}))
	if aws.ToString(got.Component.Arn) != "arn:aws:imagebuilder:eu-west-1:aws:component/hello-world-linux/1.0.0/1" {
		t.Errorf("eu-west-1 component = %s", aws.ToString(got.Component.Arn))
	}
	wfs := must[*ib.ListWorkflowsOutput](t)(eu.ListWorkflows(ctx, &ib.ListWorkflowsInput{Owner: types.OwnershipAmazon}))
	if len(wfs.WorkflowVersionList) != 5 || !strings.HasPrefix(aws.ToString(wfs.WorkflowVersionList[0].Arn), "arn:aws:imagebuilder:eu-west-1:aws:workflow/") {
		t.Errorf("eu-west-1 workflows = %+v", wfs.WorkflowVersionList)
	}
	for _, cl := range []*ib.Client{eu, client(a, "test", "test")} {
		builds := must[*ib.ListComponentBuildVersionsOutput](t)(cl.ListComponentBuildVersions(ctx, &ib.ListComponentBuildVersionsInput{
			ComponentVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/update-linux/1.0.0")}))
		if len(builds.ComponentSummaryList) != 1 {
			t.Errorf("update-linux builds after a restart = %d", len(builds.ComponentSummaryList))
		}
	}
}

// TestManagedWithAWSCLI lists and reads the managed resources with the AWS CLI.
func TestManagedWithAWSCLI(t *testing.T) {
	awsBin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("no aws CLI on PATH")
	}
	a := startServer(t)
	run := awsCLI(t, a, awsBin)
	out, stderr, err := run("list-components", "--owner", "Amazon")
	if err != nil {
		t.Fatalf("list-components: %v\n%s", err, stderr)
	}
	if l, _ := out["componentVersionList"].([]any); len(l) != 5 {
		t.Errorf("list-components --owner Amazon = %v", out)
	}
	out, stderr, err = run("get-workflow", "--workflow-build-version-arn", "arn:aws:imagebuilder:us-east-1:aws:workflow/build/build-image/x.x.x")
	if err != nil {
		t.Fatalf("get-workflow: %v\n%s", err, stderr)
	}
	if wf, _ := out["workflow"].(map[string]any); wf["owner"] != "aws" {
		t.Errorf("get-workflow = %v", out)
	}
}
