package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
)

const helloDoc = `name: Hello
description: says hello
schemaVersion: 1.0
parameters:
  - Greeting:
      type: string
      default: hello
      description: what to say
phases:
  - name: build
    steps:
      - name: Say
        action: ExecuteBash
        inputs:
          commands:
            - echo {{ Greeting }}
  - name: test
    steps:
      - name: Check
        action: ExecuteBash
        inputs:
          commands:
            - true
`

const testOnlyDoc = `name: T
schemaVersion: 1.0
phases:
  - name: test
    steps:
      - name: Check
        action: ExecuteBash
        inputs:
          commands: ["true"]
`

func createComponent(t *testing.T, c *ib.Client, name, version, doc string, mod ...func(*ib.CreateComponentInput)) *ib.CreateComponentOutput {
	t.Helper()
	in := &ib.CreateComponentInput{
		Name: aws.String(name), SemanticVersion: aws.String(version),
		Platform: types.PlatformLinux, Data: aws.String(doc),
	}
	for _, m := range mod {
		m(in)
	}
	out, err := c.CreateComponent(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateComponent %s %s: %v", name, version, err)
	}
	return out
}

var isoMillis = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestComponentLifecycle(t *testing.T) { forEachStore(t, testComponentLifecycle) }

func testComponentLifecycle(t *testing.T, a *App) {
	c := client(a, "test", "test")
	ctx := context.Background()

	out := createComponent(t, c, "Hello World", "1.0.0", helloDoc, func(in *ib.CreateComponentInput) {
		in.Tags = map[string]string{"team": "images"}
		in.Description = aws.String("greets")
	})
	arn := aws.ToString(out.ComponentBuildVersionArn)
	if want := "arn:aws:imagebuilder:us-east-1:000000000000:component/hello-world/1.0.0/1"; arn != want {
		t.Fatalf("ARN = %s, want %s", arn, want)
	}
	if aws.ToString(out.ClientToken) == "" || aws.ToString(out.RequestId) == "" {
		t.Errorf("clientToken/requestId missing: %+v", out)
	}
	if out.LatestVersionReferences == nil || aws.ToString(out.LatestVersionReferences.LatestVersionArn) != arn {
		t.Errorf("latestVersionReferences = %+v", out.LatestVersionReferences)
	}

	// A changed document under the same version is a new build; the
	// identical one is refused.
	out2 := createComponent(t, c, "Hello World", "1.0.0", strings.Replace(helloDoc, "says hello", "says hi", 1))
	if got := aws.ToString(out2.ComponentBuildVersionArn); !strings.HasSuffix(got, "/1.0.0/2") {
		t.Fatalf("second build ARN = %s", got)
	}
	_, err := c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("Hello World"), SemanticVersion: aws.String("1.0.0"),
		Platform: types.PlatformLinux, Data: aws.String(helloDoc), Tags: map[string]string{"team": "images"}, Description: aws.String("greets")})
	wantCode(t, err, "ResourceInUseException")
	createComponent(t, c, "Hello World", "1.2.0", helloDoc)
	createComponent(t, c, "Hello World", "2.0.0", helloDoc)

	cases := []struct{ arn, want string }{
		{arn, arn},
		{"arn:aws:imagebuilder:us-east-1:000000000000:component/hello-world/1.0.0", strings.TrimSuffix(arn, "1") + "2"},
		{"arn:aws:imagebuilder:us-east-1:000000000000:component/hello-world/1.x.x", "arn:aws:imagebuilder:us-east-1:000000000000:component/hello-world/1.2.0/1"},
		{"arn:aws:imagebuilder:us-east-1:000000000000:component/hello-world/x.x.x", "arn:aws:imagebuilder:us-east-1:000000000000:component/hello-world/2.0.0/1"},
	}
	for _, tc := range cases {
		got, err := c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: aws.String(tc.arn)})
		if err != nil {
			t.Fatalf("GetComponent %s: %v", tc.arn, err)
		}
		if aws.ToString(got.Component.Arn) != tc.want {
			t.Errorf("GetComponent %s = %s, want %s", tc.arn, aws.ToString(got.Component.Arn), tc.want)
		}
	}
	got := must[*ib.GetComponentOutput](t)(c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: aws.String(arn)}))
	comp := got.Component
	if aws.ToString(comp.Data) != helloDoc || aws.ToString(comp.Name) != "Hello World" || comp.Type != types.ComponentTypeBuild ||
		aws.ToString(comp.Owner) != accountA || aws.ToBool(comp.Encrypted) || comp.Tags["team"] != "images" ||
		comp.State == nil || comp.State.Status != types.ComponentStatusActive {
		t.Errorf("component = %+v", comp)
	}
	if !isoMillis.MatchString(aws.ToString(comp.DateCreated)) {
		t.Errorf("dateCreated %q is not ISO-8601 with milliseconds", aws.ToString(comp.DateCreated))
	}
	if len(comp.Parameters) != 1 || aws.ToString(comp.Parameters[0].Name) != "Greeting" || aws.ToString(comp.Parameters[0].Type) != "String" ||
		len(comp.Parameters[0].DefaultValue) != 1 || comp.Parameters[0].DefaultValue[0] != "hello" {
		t.Errorf("parameters = %+v", comp.Parameters)
	}
	refs := got.LatestVersionReferences
	if aws.ToString(refs.LatestVersionArn) != cases[3].want || aws.ToString(refs.LatestMajorVersionArn) != cases[2].want ||
		aws.ToString(refs.LatestPatchVersionArn) != cases[1].want {
		t.Errorf("latestVersionReferences = %+v", refs)
	}

	// A document with only a test phase is a TEST component.
	tout := createComponent(t, c, "tester", "1.0.0", testOnlyDoc)
	tget := must[*ib.GetComponentOutput](t)(c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: tout.ComponentBuildVersionArn}))
	if tget.Component.Type != types.ComponentTypeTest {
		t.Errorf("type = %s, want TEST", tget.Component.Type)
	}

	builds := must[*ib.ListComponentBuildVersionsOutput](t)(c.ListComponentBuildVersions(ctx, &ib.ListComponentBuildVersionsInput{
		ComponentVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:000000000000:component/hello-world/1.0.0")}))
	if len(builds.ComponentSummaryList) != 2 || builds.ComponentSummaryList[0].Tags["team"] != "images" {
		t.Errorf("build versions = %+v", builds.ComponentSummaryList)
	}

	// Delete one build; it is gone, the other remains.
	del := must[*ib.DeleteComponentOutput](t)(c.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: aws.String(arn)}))
	if aws.ToString(del.ComponentBuildVersionArn) != arn {
		t.Errorf("delete echoed %s", aws.ToString(del.ComponentBuildVersionArn))
	}
	_, err = c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException")
}

func TestComponentCreateErrors(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	base := func(m func(*ib.CreateComponentInput)) *ib.CreateComponentInput {
		in := &ib.CreateComponentInput{Name: aws.String("comp"), SemanticVersion: aws.String("1.0.0"), Platform: types.PlatformLinux, Data: aws.String(helloDoc)}
		m(in)
		return in
	}
	cases := []struct {
		name, code, msg string
		in              *ib.CreateComponentInput
	}{
		{"short version", "InvalidVersionNumberException", "semanticVersion", base(func(in *ib.CreateComponentInput) { in.SemanticVersion = aws.String("1.0") })},
		{"wildcard version", "InvalidVersionNumberException", "semanticVersion", base(func(in *ib.CreateComponentInput) { in.SemanticVersion = aws.String("1.x.0") })},
		{"huge node", "InvalidVersionNumberException", "1073741824", base(func(in *ib.CreateComponentInput) { in.SemanticVersion = aws.String("1.0.1073741824") })},
		{"bad name", "InvalidRequestException", "name", base(func(in *ib.CreateComponentInput) { in.Name = aws.String("bad/name") })},
		{"bad platform", "InvalidRequestException", "platform", base(func(in *ib.CreateComponentInput) { in.Platform = "Solaris" })},
		{"data and uri", "InvalidParameterCombinationException", "either data or uri", base(func(in *ib.CreateComponentInput) { in.Uri = aws.String("s3://b/k") })},
		{"neither", "InvalidRequestException", "data or uri", base(func(in *ib.CreateComponentInput) { in.Data = nil })},
		{"bad yaml", "InvalidParameterValueException", ":3", base(func(in *ib.CreateComponentInput) { in.Data = aws.String("name: x\nschemaVersion: 1.0\nphases: [\n") })},
		{"bad structure", "InvalidParameterValueException", "phases", base(func(in *ib.CreateComponentInput) {
			in.Data = aws.String("name: x\nschemaVersion: 1.0\nphases: {build: 1}\n")
		})},
		{"missing file", "InvalidParameterValueException", "/nonexistent", base(func(in *ib.CreateComponentInput) {
			in.Data = nil
			in.Uri = aws.String("file:///nonexistent/doc.yml")
		})},
		{"aws tag", "InvalidRequestException", "tags", base(func(in *ib.CreateComponentInput) { in.Tags = map[string]string{"aws:x": "y"} })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateComponent(ctx, tc.in)
			wantCode(t, err, tc.code)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q does not mention %q", err, tc.msg)
			}
		})
	}
	list := must[*ib.ListComponentsOutput](t)(c.ListComponents(ctx, &ib.ListComponentsInput{}))
	if len(list.ComponentVersionList) != 0 {
		t.Errorf("failed creates left components behind: %+v", list.ComponentVersionList)
	}
}

func TestComponentFromFileAndKMS(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "doc.yml")
	if err := os.WriteFile(path, []byte(helloDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("from-file"), SemanticVersion: aws.String("1.0.0"),
		Platform: types.PlatformLinux, Uri: aws.String("file://" + path), KmsKeyId: aws.String("alias/goldsmith-test")})
	if err != nil {
		t.Fatal(err)
	}
	got := must[*ib.GetComponentOutput](t)(c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: out.ComponentBuildVersionArn}))
	if aws.ToString(got.Component.Data) != helloDoc || !aws.ToBool(got.Component.Encrypted) || aws.ToString(got.Component.KmsKeyId) != "alias/goldsmith-test" {
		t.Errorf("component = %+v", got.Component)
	}
	// The plaintext is not in the database.
	db, err := os.ReadFile(filepath.Join(a.cfg.DataDir, "goldsmith.db"))
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(filepath.Join(a.cfg.DataDir, "goldsmith.db-wal"))
	if strings.Contains(string(db)+string(wal), "echo {{ Greeting }}") {
		t.Error("encrypted component document found in plaintext in the database")
	}
}

func TestImportComponent(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	out, err := c.ImportComponent(ctx, &ib.ImportComponentInput{Name: aws.String("imported"), SemanticVersion: aws.String("1.0.0"),
		Type: types.ComponentTypeTest, Format: types.ComponentFormatShell, Platform: types.PlatformLinux,
		Data: aws.String("#!/bin/bash\necho 'it: works' # \"quoted\" \\ back\n")})
	if err != nil {
		t.Fatal(err)
	}
	got := must[*ib.GetComponentOutput](t)(c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: out.ComponentBuildVersionArn}))
	data := aws.ToString(got.Component.Data)
	if got.Component.Type != types.ComponentTypeTest || !strings.Contains(data, "ExecuteBash") || !strings.Contains(data, `echo 'it: works' # "quoted" \ back`) {
		t.Errorf("imported component = %s\n%s", got.Component.Type, data)
	}
	// AWSTOE would read {{ }} in the script as an expression: refused.
	_, err = c.ImportComponent(ctx, &ib.ImportComponentInput{Name: aws.String("braces"), SemanticVersion: aws.String("1.0.0"),
		Type: types.ComponentTypeBuild, Format: types.ComponentFormatShell, Platform: types.PlatformLinux,
		Data: aws.String("echo {{ nope }}\n")})
	wantCode(t, err, "InvalidParameterValueException")
}

func TestComponentListing(t *testing.T) { forEachStore(t, testComponentListing) }

func testComponentListing(t *testing.T, a *App) {
	c := client(a, "test", "test")
	ctx := context.Background()
	for i := range 5 {
		createComponent(t, c, fmt.Sprintf("comp-%d", i), "1.0.0", helloDoc)
		createComponent(t, c, fmt.Sprintf("comp-%d", i), "1.1.0", helloDoc)
	}
	createComponent(t, c, "tester", "1.0.0", testOnlyDoc)

	var seen []string
	p := ib.NewListComponentsPaginator(c, &ib.ListComponentsInput{MaxResults: aws.Int32(1)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, v := range page.ComponentVersionList {
			seen = append(seen, aws.ToString(v.Arn))
		}
	}
	if len(seen) != 11 || pages != 11 {
		t.Fatalf("paged %d versions in %d pages: %v", len(seen), pages, seen)
	}
	if seen[0] != "arn:aws:imagebuilder:us-east-1:000000000000:component/comp-0/1.0.0" || seen[1] != "arn:aws:imagebuilder:us-east-1:000000000000:component/comp-0/1.1.0" {
		t.Errorf("order = %v", seen[:2])
	}
	filterCases := []struct {
		name    string
		filters []types.Filter
		byName  bool
		want    int
	}{
		{"type", []types.Filter{{Name: aws.String("type"), Values: []string{"TEST"}}}, false, 1},
		{"name", []types.Filter{{Name: aws.String("name"), Values: []string{"comp-3"}}}, false, 2},
		{"version", []types.Filter{{Name: aws.String("version"), Values: []string{"1.1.0"}}}, false, 5},
		{"platform", []types.Filter{{Name: aws.String("platform"), Values: []string{"Windows"}}}, false, 0},
		{"byName", nil, true, 6},
	}
	for _, tc := range filterCases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.ListComponents(ctx, &ib.ListComponentsInput{Filters: tc.filters, ByName: tc.byName})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.ComponentVersionList) != tc.want {
				t.Errorf("got %d, want %d", len(out.ComponentVersionList), tc.want)
			}
		})
	}
	_, err := c.ListComponents(ctx, &ib.ListComponentsInput{Filters: []types.Filter{{Name: aws.String("colour"), Values: []string{"red"}}}})
	wantCode(t, err, "InvalidRequestException")
	_, err = c.ListComponents(ctx, &ib.ListComponentsInput{MaxResults: aws.Int32(26)})
	wantCode(t, err, "InvalidRequestException")

	// Tokens are tamper-evident and bound to the operation and account.
	first := must[*ib.ListComponentsOutput](t)(c.ListComponents(ctx, &ib.ListComponentsInput{MaxResults: aws.Int32(2)}))
	tok := aws.ToString(first.NextToken)
	if tok == "" {
		t.Fatal("no nextToken on a partial page")
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	forged := []string{"garbage", flip(tok, len(tok)-5), flip(tok, 1), "x" + tok}
	for _, f := range forged {
		_, err = c.ListComponents(ctx, &ib.ListComponentsInput{NextToken: aws.String(f)})
		wantCode(t, err, "InvalidPaginationTokenException")
	}
	_, err = client(a, "other", "othersecret").ListComponents(ctx, &ib.ListComponentsInput{NextToken: aws.String(tok)})
	wantCode(t, err, "InvalidPaginationTokenException")
	last := must[*ib.ListComponentsOutput](t)(c.ListComponents(ctx, &ib.ListComponentsInput{MaxResults: aws.Int32(25)}))
	if last.NextToken != nil {
		t.Errorf("nextToken %q on the last page", aws.ToString(last.NextToken))
	}
	// owner=Amazon lists the managed components, never the caller's own.
	amazon := must[*ib.ListComponentsOutput](t)(c.ListComponents(ctx, &ib.ListComponentsInput{Owner: types.OwnershipAmazon}))
	managed := map[string]bool{}
	for _, v := range amazon.ComponentVersionList {
		if a, _ := arn.Parse(aws.ToString(v.Arn)); a.AccountID != "aws" {
			t.Errorf("owner Amazon listed %s", aws.ToString(v.Arn))
		}
		managed[aws.ToString(v.Name)] = true
	}
	if !managed["update-linux"] {
		t.Errorf("owner Amazon does not list update-linux: %v", managed)
	}
}

func TestComponentDocumentValidation(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	cases := []struct{ name, doc, want string }{
		{"unknown action", strings.Replace(helloDoc, "action: ExecuteBash\n        inputs:\n          commands:\n            - echo", "action: ExecuteMagic\n        inputs:\n          commands:\n            - echo", 1), "ExecuteMagic"},
		{"unknown variable", strings.Replace(helloDoc, "{{ Greeting }}", "{{ Nobody }}", 1), "Nobody"},
		{"bad input type", strings.Replace(helloDoc, "commands:\n            - echo {{ Greeting }}", "commands: 42", 1), "commands"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateComponent(context.Background(), &ib.CreateComponentInput{Name: aws.String("val"), SemanticVersion: aws.String("1.0.0"),
				Platform: types.PlatformLinux, Data: aws.String(tc.doc)})
			wantCode(t, err, "InvalidParameterValueException")
			if !strings.Contains(err.Error(), tc.want) || !regexp.MustCompile(`:\d+`).MatchString(err.Error()) {
				t.Errorf("message %q should name %q and a line", err, tc.want)
			}
		})
	}
}
