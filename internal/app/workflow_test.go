package app

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"

	"github.com/goldsmith/goldsmith/internal/store"
)

const wfPrefix = "arn:aws:imagebuilder:us-east-1:000000000000:workflow/"

// wfBuildDoc is a BUILD workflow with a parameter, a condition, references
// and an output.
const wfBuildDoc = `name: approval-build
description: Build that waits for approval.
schemaVersion: 1.0
parameters:
  - name: approvalTopicArn
    type: string
    description: Topic for approvals.
  - name: waitAtEnd
    type: boolean
    default: true
steps:
  - name: LaunchBuildInstance
    action: LaunchInstance
    inputs:
      waitFor: ssmAgent
  - name: ApplyBuildComponents
    action: ExecuteComponents
    inputs:
      instanceId.$: "$.stepOutputs.LaunchBuildInstance.instanceId"
  - name: CreateOutputImage
    action: CreateImage
    inputs:
      instanceId.$: "$.stepOutputs.LaunchBuildInstance.instanceId"
  - name: TerminateBuildInstance
    action: TerminateInstance
    onFailure: Continue
    inputs:
      instanceId.$: "$.stepOutputs.LaunchBuildInstance.instanceId"
  - name: Approve
    action: WaitForAction
    if:
      booleanEquals: true
      value: "$.parameters.waitAtEnd"
    inputs:
      snsTopicArn.$: "$.parameters.approvalTopicArn"
outputs:
  - name: ImageId
    value: "$.stepOutputs.CreateOutputImage.imageId"
`

// wfTestDoc is a TEST workflow.
const wfTestDoc = `schemaVersion: 1.0
steps:
  - name: LaunchTestInstance
    action: LaunchInstance
    inputs: {waitFor: ssmAgent}
  - name: ApplyTestComponents
    action: ExecuteComponents
    inputs:
      instanceId.$: $.stepOutputs.LaunchTestInstance.instanceId
  - name: TerminateTestInstance
    action: TerminateInstance
    onFailure: Continue
    inputs:
      instanceId.$: $.stepOutputs.LaunchTestInstance.instanceId
`

func wfCreate(t *testing.T, c *ib.Client, name, version string, typ types.WorkflowType, doc string, mod ...func(*ib.CreateWorkflowInput)) *ib.CreateWorkflowOutput {
	t.Helper()
	in := &ib.CreateWorkflowInput{Name: aws.String(name), SemanticVersion: aws.String(version), Type: typ, Data: aws.String(doc)}
	for _, m := range mod {
		m(in)
	}
	return must[*ib.CreateWorkflowOutput](t)(c.CreateWorkflow(context.Background(), in))
}

func TestWorkflowLifecycle(t *testing.T) { forEachStore(t, testWorkflowLifecycle) }

func testWorkflowLifecycle(t *testing.T, a *App) {
	c := client(a, "test", "test")
	ctx := context.Background()
	out := wfCreate(t, c, "Approval Build", "1.0.0", types.WorkflowTypeBuild, wfBuildDoc, func(in *ib.CreateWorkflowInput) {
		in.Description = aws.String("first")
		in.ChangeDescription = aws.String("initial")
		in.Tags = map[string]string{"team": "wf"}
	})
	arn1 := aws.ToString(out.WorkflowBuildVersionArn)
	if arn1 != wfPrefix+"build/approval-build/1.0.0/1" {
		t.Fatalf("arn = %s", arn1)
	}
	if out.ClientToken == nil || out.LatestVersionReferences == nil || aws.ToString(out.LatestVersionReferences.LatestVersionArn) != arn1 {
		t.Errorf("create output = %+v", out)
	}

	got := must[*ib.GetWorkflowOutput](t)(c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String(arn1)}))
	w := got.Workflow
	if aws.ToString(w.Arn) != arn1 || aws.ToString(w.Name) != "Approval Build" || aws.ToString(w.Version) != "1.0.0" ||
		w.Type != types.WorkflowTypeBuild || aws.ToString(w.Data) != wfBuildDoc || aws.ToString(w.Owner) != accountA ||
		aws.ToString(w.Description) != "first" || aws.ToString(w.ChangeDescription) != "initial" || w.Tags["team"] != "wf" ||
		!isoMillis.MatchString(aws.ToString(w.DateCreated)) {
		t.Fatalf("workflow = %+v", w)
	}
	if len(w.Parameters) != 2 || aws.ToString(w.Parameters[0].Name) != "approvalTopicArn" || aws.ToString(w.Parameters[0].Type) != "string" ||
		w.Parameters[0].DefaultValue != nil || aws.ToString(w.Parameters[0].Description) != "Topic for approvals." ||
		aws.ToString(w.Parameters[1].Type) != "boolean" || strings.Join(w.Parameters[1].DefaultValue, ",") != "true" {
		t.Errorf("parameters = %+v", w.Parameters)
	}

	// The same document and metadata again is refused; a changed one is
	// the next build.
	_, err := c.CreateWorkflow(ctx, &ib.CreateWorkflowInput{Name: aws.String("Approval Build"), SemanticVersion: aws.String("1.0.0"),
		Type: types.WorkflowTypeBuild, Data: aws.String(wfBuildDoc), Description: aws.String("first"), ChangeDescription: aws.String("initial")})
	wantCode(t, err, "ResourceInUseException")
	// A dry run that would succeed answers DryRunOperationException and stores nothing.
	_, err = c.CreateWorkflow(ctx, &ib.CreateWorkflowInput{Name: aws.String("Approval Build"), SemanticVersion: aws.String("1.0.0"),
		Type: types.WorkflowTypeBuild, Data: aws.String(wfBuildDoc), Description: aws.String("first"), ChangeDescription: aws.String("dry"), DryRun: true})
	wantCode(t, err, "DryRunOperationException")
	arn2 := aws.ToString(wfCreate(t, c, "Approval Build", "1.0.0", types.WorkflowTypeBuild, wfBuildDoc, func(in *ib.CreateWorkflowInput) {
		in.Description = aws.String("first")
		in.ChangeDescription = aws.String("second build")
	}).WorkflowBuildVersionArn)
	if arn2 != wfPrefix+"build/approval-build/1.0.0/2" {
		t.Fatalf("second build = %s", arn2)
	}
	arn3 := aws.ToString(wfCreate(t, c, "Approval Build", "1.1.0", types.WorkflowTypeBuild, wfBuildDoc).WorkflowBuildVersionArn)

	// Version ARNs and wildcards resolve to the newest matching build.
	for sel, want := range map[string]string{
		wfPrefix + "build/approval-build/1.0.0": arn2,
		wfPrefix + "build/approval-build/1.0.x": arn2,
		wfPrefix + "build/approval-build/x.x.x": arn3,
		wfPrefix + "build/approval-build/1.x.x": arn3,
		arn1:                                    arn1,
	} {
		g := must[*ib.GetWorkflowOutput](t)(c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String(sel)}))
		if aws.ToString(g.Workflow.Arn) != want {
			t.Errorf("GetWorkflow %s = %s, want %s", sel, aws.ToString(g.Workflow.Arn), want)
		}
	}
	// The type segment is part of the ARN.
	_, err = c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String(wfPrefix + "test/approval-build/1.0.0/1")})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String(wfPrefix + "build/approval-build/2.0.0/1")})
	wantCode(t, err, "ResourceNotFoundException")

	// Build versions, paginated one by one.
	var builds []string
	var token *string
	for {
		page := must[*ib.ListWorkflowBuildVersionsOutput](t)(c.ListWorkflowBuildVersions(ctx, &ib.ListWorkflowBuildVersionsInput{
			WorkflowVersionArn: aws.String(wfPrefix + "build/approval-build/1.0.0"), MaxResults: aws.Int32(1), NextToken: token}))
		for _, s := range page.WorkflowSummaryList {
			builds = append(builds, aws.ToString(s.Arn))
			if s.Type != types.WorkflowTypeBuild || aws.ToString(s.Name) != "Approval Build" || aws.ToString(s.Owner) != accountA {
				t.Errorf("summary = %+v", s)
			}
		}
		if token = page.NextToken; token == nil {
			break
		}
	}
	if strings.Join(builds, " ") != arn1+" "+arn2 {
		t.Errorf("build versions = %v", builds)
	}
	all := must[*ib.ListWorkflowBuildVersionsOutput](t)(c.ListWorkflowBuildVersions(ctx, &ib.ListWorkflowBuildVersionsInput{
		WorkflowVersionArn: aws.String(wfPrefix + "build/approval-build/x.x.x")}))
	if len(all.WorkflowSummaryList) != 3 || all.NextToken != nil {
		t.Errorf("x.x.x build versions = %d", len(all.WorkflowSummaryList))
	}
	_, err = c.ListWorkflowBuildVersions(ctx, &ib.ListWorkflowBuildVersionsInput{})
	wantCode(t, err, "InvalidRequestException")

	// Tags through the tag calls show up in GetWorkflow.
	must[*ib.TagResourceOutput](t)(c.TagResource(ctx, &ib.TagResourceInput{ResourceArn: aws.String(arn2), Tags: map[string]string{"stage": "qa"}}))
	must[*ib.UntagResourceOutput](t)(c.UntagResource(ctx, &ib.UntagResourceInput{ResourceArn: aws.String(arn1), TagKeys: []string{"team"}}))
	if tags := must[*ib.ListTagsForResourceOutput](t)(c.ListTagsForResource(ctx, &ib.ListTagsForResourceInput{ResourceArn: aws.String(arn2)})).Tags; tags["stage"] != "qa" {
		t.Errorf("tags of build 2 = %v", tags)
	}
	if g := must[*ib.GetWorkflowOutput](t)(c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String(arn1)})); len(g.Workflow.Tags) != 0 {
		t.Errorf("tags of build 1 after untag = %v", g.Workflow.Tags)
	}

	// Delete one build; it is gone, the other stays.
	del := must[*ib.DeleteWorkflowOutput](t)(c.DeleteWorkflow(ctx, &ib.DeleteWorkflowInput{WorkflowBuildVersionArn: aws.String(arn1)}))
	if aws.ToString(del.WorkflowBuildVersionArn) != arn1 {
		t.Errorf("delete output = %+v", del)
	}
	_, err = c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String(arn1)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.DeleteWorkflow(ctx, &ib.DeleteWorkflowInput{WorkflowBuildVersionArn: aws.String(arn1)})
	wantCode(t, err, "ResourceNotFoundException")
	must[*ib.GetWorkflowOutput](t)(c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String(arn2)}))
}

func TestWorkflowListing(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	wfCreate(t, c, "alpha", "1.0.0", types.WorkflowTypeBuild, wfBuildDoc)
	wfCreate(t, c, "alpha", "1.0.0", types.WorkflowTypeBuild, wfBuildDoc, func(in *ib.CreateWorkflowInput) { in.Description = aws.String("b2") })
	wfCreate(t, c, "alpha", "2.0.0", types.WorkflowTypeBuild, wfBuildDoc)
	wfCreate(t, c, "beta", "1.0.0", types.WorkflowTypeTest, wfTestDoc)
	wfCreate(t, c, "alpha", "1.0.0", types.WorkflowTypeTest, wfTestDoc) // same name, other type

	list := func(in *ib.ListWorkflowsInput) []types.WorkflowVersion {
		t.Helper()
		var out []types.WorkflowVersion
		for {
			page := must[*ib.ListWorkflowsOutput](t)(c.ListWorkflows(ctx, in))
			out = append(out, page.WorkflowVersionList...)
			if page.NextToken == nil {
				return out
			}
			in.NextToken = page.NextToken
		}
	}
	arns := func(vs []types.WorkflowVersion) string {
		var s []string
		for _, v := range vs {
			s = append(s, strings.TrimPrefix(aws.ToString(v.Arn), wfPrefix))
		}
		return strings.Join(s, " ")
	}
	versions := list(&ib.ListWorkflowsInput{MaxResults: aws.Int32(1)})
	sorted := strings.Fields(arns(versions))
	slices.Sort(sorted)
	if got := strings.Join(sorted, " "); got != "build/alpha/1.0.0 build/alpha/2.0.0 test/alpha/1.0.0 test/beta/1.0.0" {
		t.Errorf("versions = %s", got)
	}
	for _, v := range versions {
		if aws.ToString(v.Owner) != accountA || v.Type == "" || !isoMillis.MatchString(aws.ToString(v.DateCreated)) {
			t.Errorf("version = %+v", v)
		}
		if aws.ToString(v.Arn) == wfPrefix+"build/alpha/1.0.0" && aws.ToString(v.Description) != "b2" {
			t.Errorf("1.0.0 lists build 1, not the newest: %+v", v)
		}
	}
	if got := arns(list(&ib.ListWorkflowsInput{ByName: true})); len(strings.Fields(got)) != 3 || !strings.Contains(got, "build/alpha/2.0.0") {
		t.Errorf("byName = %s", got)
	}
	if got := arns(list(&ib.ListWorkflowsInput{Filters: []types.Filter{{Name: aws.String("type"), Values: []string{"TEST"}}}})); got != "test/alpha/1.0.0 test/beta/1.0.0" && got != "test/beta/1.0.0 test/alpha/1.0.0" {
		t.Errorf("type=TEST = %s", got)
	}
	if got := arns(list(&ib.ListWorkflowsInput{Filters: []types.Filter{{Name: aws.String("name"), Values: []string{"beta"}}}})); got != "test/beta/1.0.0" {
		t.Errorf("name=beta = %s", got)
	}
	if got := arns(list(&ib.ListWorkflowsInput{Filters: []types.Filter{{Name: aws.String("version"), Values: []string{"2.0.0"}}}})); got != "build/alpha/2.0.0" {
		t.Errorf("version=2.0.0 = %s", got)
	}
	_, err := c.ListWorkflows(ctx, &ib.ListWorkflowsInput{Filters: []types.Filter{{Name: aws.String("platform"), Values: []string{"Linux"}}}})
	wantCode(t, err, "InvalidRequestException")
	_, err = c.ListWorkflows(ctx, &ib.ListWorkflowsInput{NextToken: aws.String("forged")})
	wantCode(t, err, "InvalidPaginationTokenException")
	if l := list(&ib.ListWorkflowsInput{Owner: types.OwnershipShared}); len(l) != 0 {
		t.Errorf("owner=Shared = %s", arns(l))
	}
	if l := list(&ib.ListWorkflowsInput{Owner: types.OwnershipThirdparty}); len(l) != 0 {
		t.Errorf("owner=ThirdParty = %s", arns(l))
	}
}

// TestCreateWorkflowErrors: every refusal of CreateWorkflow, with the
// modelled code and a message naming the problem.
func TestCreateWorkflowErrors(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	negative, err := os.ReadFile("../workflowdoc/testdata/corpus/cdk-minimal-test-workflow-NEGATIVE.yaml")
	if err != nil {
		t.Fatal(err)
	}
	distDoc := "schemaVersion: 1.0\nsteps:\n  - name: Dist\n    action: DistributeImage\n"
	for _, tc := range []struct {
		name string
		mod  func(*ib.CreateWorkflowInput)
		code string
		msg  string
	}{
		{"version with two nodes", func(in *ib.CreateWorkflowInput) { in.SemanticVersion = aws.String("1.0") }, "", "semanticVersion"},
		{"wildcard version", func(in *ib.CreateWorkflowInput) { in.SemanticVersion = aws.String("1.0.x") }, "", "semanticVersion"},
		{"version node too large", func(in *ib.CreateWorkflowInput) { in.SemanticVersion = aws.String("1.0.1073741824") }, "InvalidVersionNumberException", "1073741824"},
		{"data and uri", func(in *ib.CreateWorkflowInput) { in.Uri = aws.String("s3://bucket/key") }, "InvalidParameterCombinationException", "either data or uri"},
		{"neither data nor uri", func(in *ib.CreateWorkflowInput) { in.Data = nil }, "InvalidRequestException", "data or uri"},
		{"bad type", func(in *ib.CreateWorkflowInput) { in.Type = "DEPLOY" }, "InvalidRequestException", "type"},
		{"not YAML", func(in *ib.CreateWorkflowInput) { in.Data = aws.String("steps: [") }, "InvalidParameterValueException", "not valid YAML"},
		{"NEGATIVE corpus document", func(in *ib.CreateWorkflowInput) { in.Data = aws.String(string(negative)) }, "InvalidParameterValueException",
			`:4:5: steps[0] (launch-instance): inputs.waitFor: LaunchInstance requires input "waitFor"`},
		{"unknown action", func(in *ib.CreateWorkflowInput) {
			in.Data = aws.String(strings.Replace(wfTestDoc, "action: ExecuteComponents", "action: RunScript", 1))
		}, "InvalidParameterValueException", `:7:13: steps[1] (ApplyTestComponents): action: "RunScript" is not a workflow step action`},
		{"reference to a later step", func(in *ib.CreateWorkflowInput) {
			in.Data = aws.String(strings.Replace(wfTestDoc, "LaunchTestInstance.instanceId", "TerminateTestInstance.instanceId", 1))
		}, "InvalidParameterValueException", `which does not run before this one`},
		{"timeout above the action maximum", func(in *ib.CreateWorkflowInput) {
			in.Data = aws.String(strings.Replace(wfTestDoc, "    inputs: {waitFor: ssmAgent}", "    timeoutSeconds: 90000\n    inputs: {waitFor: ssmAgent}", 1))
		}, "InvalidParameterValueException", "timeoutSeconds: 90000 exceeds the maximum of 43200 seconds for LaunchInstance"},
		{"action outside its stage", func(in *ib.CreateWorkflowInput) { in.Data = aws.String(distDoc) }, "InvalidParameterValueException",
			"action DistributeImage is not allowed in a TEST workflow"},
		{"unreadable uri", func(in *ib.CreateWorkflowInput) {
			in.Data = nil
			in.Uri = aws.String("file:///nonexistent/workflow.yaml")
		}, "InvalidParameterValueException", "/nonexistent/workflow.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &ib.CreateWorkflowInput{Name: aws.String("bad"), SemanticVersion: aws.String("1.0.0"), Type: types.WorkflowTypeTest, Data: aws.String(wfTestDoc)}
			tc.mod(in)
			_, err := c.CreateWorkflow(ctx, in)
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.code != "" && errorCode(err) != tc.code {
				t.Fatalf("code %q, want %s (%v)", errorCode(err), tc.code, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("message %v lacks %q", err, tc.msg)
			}
		})
	}
	// None of them stored anything.
	if l := must[*ib.ListWorkflowsOutput](t)(c.ListWorkflows(ctx, &ib.ListWorkflowsInput{})); len(l.WorkflowVersionList) != 0 {
		t.Errorf("refused creates stored %+v", l.WorkflowVersionList)
	}
}

// TestWorkflowFromURI reads the document from a file:// uri and encrypts it
// under a key.
func TestWorkflowFromURI(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wf.yaml")
	if err := os.WriteFile(path, []byte(wfTestDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	out := must[*ib.CreateWorkflowOutput](t)(c.CreateWorkflow(ctx, &ib.CreateWorkflowInput{Name: aws.String("from-uri"),
		SemanticVersion: aws.String("1.0.0"), Type: types.WorkflowTypeTest, Uri: aws.String("file://" + path), KmsKeyId: aws.String("alias/wf")}))
	got := must[*ib.GetWorkflowOutput](t)(c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: out.WorkflowBuildVersionArn}))
	if aws.ToString(got.Workflow.Data) != wfTestDoc || aws.ToString(got.Workflow.KmsKeyId) != "alias/wf" {
		t.Errorf("workflow = %+v", got.Workflow)
	}
}

// TestWorkflowOwnership: another account neither sees nor changes a
// workflow; a dependant blocks deletion.
func TestWorkflowOwnership(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	b := client(a, "other", "othersecret")
	ctx := context.Background()
	arn := aws.ToString(wfCreate(t, c, "mine", "1.0.0", types.WorkflowTypeTest, wfTestDoc).WorkflowBuildVersionArn)
	_, err := b.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = b.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String(wfPrefix + "test/mine/x.x.x")})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = b.DeleteWorkflow(ctx, &ib.DeleteWorkflowInput{WorkflowBuildVersionArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException")
	if l := must[*ib.ListWorkflowBuildVersionsOutput](t)(b.ListWorkflowBuildVersions(ctx, &ib.ListWorkflowBuildVersionsInput{
		WorkflowVersionArn: aws.String(wfPrefix + "test/mine/1.0.0")})); len(l.WorkflowSummaryList) != 0 {
		t.Errorf("B lists A's builds: %+v", l.WorkflowSummaryList)
	}
	if l := must[*ib.ListWorkflowsOutput](t)(b.ListWorkflows(ctx, &ib.ListWorkflowsInput{})); len(l.WorkflowVersionList) != 0 {
		t.Errorf("B lists %+v", l.WorkflowVersionList)
	}
	// B may create a workflow of the same name: its own ARN.
	if got := aws.ToString(wfCreate(t, b, "mine", "1.0.0", types.WorkflowTypeTest, wfTestDoc).WorkflowBuildVersionArn); !strings.Contains(got, ":"+accountB+":workflow/test/mine/1.0.0/1") {
		t.Errorf("B's ARN = %s", got)
	}

	// A pipeline (any resource) that references the workflow blocks its deletion.
	pipeline := "arn:aws:imagebuilder:us-east-1:000000000000:image-pipeline/uses-mine"
	wfSetRefs(t, a, pipeline, wfPrefix+"test/mine/1.0.0")
	_, err = c.DeleteWorkflow(ctx, &ib.DeleteWorkflowInput{WorkflowBuildVersionArn: aws.String(arn)})
	wantCode(t, err, "ResourceDependencyException")
	if !strings.Contains(err.Error(), pipeline) {
		t.Errorf("message does not name the dependant: %v", err)
	}
	wfSetRefs(t, a, pipeline)
	must[*ib.DeleteWorkflowOutput](t)(c.DeleteWorkflow(ctx, &ib.DeleteWorkflowInput{WorkflowBuildVersionArn: aws.String(arn)}))

	// Wildcards are not accepted for deletion.
	_, err = c.DeleteWorkflow(ctx, &ib.DeleteWorkflowInput{WorkflowBuildVersionArn: aws.String(wfPrefix + "test/mine/x.x.x")})
	if code := errorCode(err); code != "InvalidRequestException" && code != "ResourceNotFoundException" {
		t.Errorf("delete by wildcard: %v", err)
	}
	_, err = c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:000000000000:component/x/1.0.0/1")})
	if code := errorCode(err); code != "InvalidRequestException" && code != "ResourceNotFoundException" {
		t.Errorf("GetWorkflow with a component ARN: %v", err)
	}
}

// wfSetRefs records that `from` depends on `to` (as a pipeline does).
func wfSetRefs(t *testing.T, a *App, from string, to ...string) {
	t.Helper()
	if err := a.st.Update(context.Background(), func(tx store.Tx) error { return tx.SetRefs(context.Background(), from, to) }); err != nil {
		t.Fatal(err)
	}
}

// TestWorkflowsWithAWSCLI runs create → get → list → delete with the AWS
// CLI on PATH.
func TestWorkflowsWithAWSCLI(t *testing.T) {
	awsBin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("no aws CLI on PATH")
	}
	a := startServer(t)
	path := filepath.Join(t.TempDir(), "wf.yaml")
	if err := os.WriteFile(path, []byte(wfBuildDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	run := awsCLI(t, a, awsBin)
	ok, fails := cliChecks(t, run)
	out := ok("create-workflow", "--name", "cli-flow", "--semantic-version", "1.0.0", "--type", "BUILD",
		"--data", "file://"+path, "--tags", "team=cli")
	arn, _ := out["workflowBuildVersionArn"].(string)
	if arn != wfPrefix+"build/cli-flow/1.0.0/1" {
		t.Fatalf("create-workflow ARN %q", arn)
	}
	got := ok("get-workflow", "--workflow-build-version-arn", arn)
	wf, _ := got["workflow"].(map[string]any)
	if wf["data"] != wfBuildDoc || wf["type"] != "BUILD" {
		t.Errorf("get-workflow = %v", got)
	}
	ok("get-workflow", "--workflow-build-version-arn", wfPrefix+"build/cli-flow/x.x.x")
	list := ok("list-workflows")
	if l, _ := list["workflowVersionList"].([]any); len(l) != 1 {
		t.Errorf("list-workflows = %v", list)
	}
	amazon := ok("list-workflows", "--owner", "Amazon")
	if l, _ := amazon["workflowVersionList"].([]any); len(l) != 5 {
		t.Errorf("list-workflows --owner Amazon = %v", amazon)
	}
	builds := ok("list-workflow-build-versions", "--workflow-version-arn", wfPrefix+"build/cli-flow/1.0.0")
	if l, _ := builds["workflowSummaryList"].([]any); len(l) != 1 {
		t.Errorf("list-workflow-build-versions = %v", builds)
	}
	fails("ResourceInUseException", "create-workflow", "--name", "cli-flow", "--semantic-version", "1.0.0", "--type", "BUILD", "--data", "file://"+path)
	fails("DryRunOperationException", "create-workflow", "--name", "cli-flow", "--semantic-version", "2.0.0", "--type", "BUILD", "--data", "file://"+path, "--dry-run")
	ok("delete-workflow", "--workflow-build-version-arn", arn)
	fails("ResourceNotFoundException", "get-workflow", "--workflow-build-version-arn", arn)
}
