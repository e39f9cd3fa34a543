package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// A component whose parameter has no default: recipes must give it.
const recipeRequiredParamDoc = `name: Needs
schemaVersion: 1.0
parameters:
  - Target:
      type: string
      description: where to go
  - Retries:
      type: integer
      default: 3
phases:
  - name: build
    steps:
      - name: Go
        action: ExecuteBash
        inputs:
          commands:
            - echo {{ Target }} {{ Retries }}
`

const (
	recipeWildcardParent = "arn:aws:imagebuilder:us-east-1:aws:image/amazon-linux-2-x86/x.x.x"
	recipeDockerTemplate = "FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:environments }}}\n{{{ imagebuilder:components }}}\n"
	recipePrefixA        = "arn:aws:imagebuilder:us-east-1:000000000000:image-recipe/"
)

func recipeComponentConfig(arn string, params ...types.ComponentParameter) types.ComponentConfiguration {
	return types.ComponentConfiguration{ComponentArn: aws.String(arn), Parameters: params}
}

func recipeParam(name string, values ...string) types.ComponentParameter {
	return types.ComponentParameter{Name: aws.String(name), Value: values}
}

func recipeImageInput(name, version, component string, mod ...func(*ib.CreateImageRecipeInput)) *ib.CreateImageRecipeInput {
	in := &ib.CreateImageRecipeInput{
		Name: aws.String(name), SemanticVersion: aws.String(version), ParentImage: aws.String(recipeWildcardParent),
		Components: []types.ComponentConfiguration{recipeComponentConfig(component)},
	}
	for _, m := range mod {
		m(in)
	}
	return in
}

func recipeContainerInput(name, version, component string, mod ...func(*ib.CreateContainerRecipeInput)) *ib.CreateContainerRecipeInput {
	in := &ib.CreateContainerRecipeInput{
		ContainerType: types.ContainerTypeDocker, Name: aws.String(name), SemanticVersion: aws.String(version),
		ParentImage: aws.String("public.ecr.aws/docker/library/debian:bookworm"),
		Components:  []types.ComponentConfiguration{recipeComponentConfig(component)},
		TargetRepository: &types.TargetContainerRepository{
			Service: types.ContainerRepositoryServiceEcr, RepositoryName: aws.String("team/app"),
		},
		DockerfileTemplateData: aws.String(recipeDockerTemplate),
	}
	for _, m := range mod {
		m(in)
	}
	return in
}

// putImage stores an image resource directly, as the image part (or a
// finished build) would: an image ARN, a gen.Image body, an optional AMI
// output and policy.
func recipePutImage(t *testing.T, a *App, account, name, version string, build int, typ gen.ImageType, platform gen.Platform, status gen.ImageStatus, ami, policy string) string {
	t.Helper()
	arn := fmt.Sprintf("arn:aws:imagebuilder:us-east-1:%s:image/%s/%s/%d", account, name, version, build)
	img := gen.Image{Arn: arn, Type: typ, Name: name, Version: version, Platform: platform, State: &gen.ImageState{Status: status}}
	if ami != "" {
		img.OutputResources = &gen.OutputResources{Amis: []gen.Ami{{Region: "us-east-1", Image: ami, AccountId: account}}}
	}
	body, err := json.Marshal(img)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	err = a.st.Update(context.Background(), func(tx store.Tx) error {
		return tx.Insert(context.Background(), &store.Resource{ARN: arn, Kind: "image", Account: account, Name: name,
			Version: version, Build: build, Created: now, Updated: now, Body: body, Policy: policy})
	})
	if err != nil {
		t.Fatal(err)
	}
	return arn
}

// setRefs records that a resource (a pipeline, an image) depends on others,
// as the pipeline and image parts do.
func recipeSetRefs(t *testing.T, a *App, from string, to ...string) {
	t.Helper()
	if err := a.st.Update(context.Background(), func(tx store.Tx) error { return tx.SetRefs(context.Background(), from, to) }); err != nil {
		t.Fatal(err)
	}
}

func TestImageRecipeLifecycle(t *testing.T) { forEachStore(t, testImageRecipeLifecycle) }

func testImageRecipeLifecycle(t *testing.T, a *App) {
	c := client(a, "test", "test")
	ctx := context.Background()
	comp := aws.ToString(createComponent(t, c, "hello", "1.0.0", helloDoc).ComponentBuildVersionArn)
	compVersion := strings.TrimSuffix(comp, "/1")
	test := aws.ToString(createComponent(t, c, "check", "2.1.0", testOnlyDoc).ComponentBuildVersionArn)

	in := recipeImageInput("My Recipe", "1.2.3", comp, func(in *ib.CreateImageRecipeInput) {
		in.Description = aws.String("the base")
		in.Components = []types.ComponentConfiguration{
			recipeComponentConfig(compVersion, recipeParam("Greeting", "howdy")),
			recipeComponentConfig(strings.Replace(test, "2.1.0/1", "2.x.x", 1)),
		}
		in.Tags = map[string]string{"team": "images"}
		in.WorkingDirectory = aws.String("/var/build")
		in.BlockDeviceMappings = []types.InstanceBlockDeviceMapping{{
			DeviceName: aws.String("/dev/xvda"),
			Ebs: &types.EbsInstanceBlockDeviceSpecification{VolumeSize: aws.Int32(30), VolumeType: types.EbsVolumeTypeGp3,
				Iops: aws.Int32(3000), Throughput: aws.Int32(250), DeleteOnTermination: aws.Bool(true)},
		}}
		in.AdditionalInstanceConfiguration = &types.AdditionalInstanceConfiguration{
			UserDataOverride:    aws.String("IyEvYmluL2Jhc2gKZWNobyBoZWxsbwo="),
			SystemsManagerAgent: &types.SystemsManagerAgent{UninstallAfterBuild: aws.Bool(true)},
		}
		in.AmiTags = map[string]string{"os": "al2"}
	})
	out := must[*ib.CreateImageRecipeOutput](t)(c.CreateImageRecipe(ctx, in))
	arn := aws.ToString(out.ImageRecipeArn)
	if arn != recipePrefixA+"my-recipe/1.2.3" {
		t.Fatalf("recipe ARN = %s", arn)
	}
	if out.ClientToken == nil || aws.ToString(out.LatestVersionReferences.LatestVersionArn) != arn ||
		aws.ToString(out.LatestVersionReferences.LatestPatchVersionArn) != arn {
		t.Errorf("create output = %+v / %+v", out, out.LatestVersionReferences)
	}

	got := must[*ib.GetImageRecipeOutput](t)(c.GetImageRecipe(ctx, &ib.GetImageRecipeInput{ImageRecipeArn: aws.String(arn)}))
	r := got.ImageRecipe
	if aws.ToString(r.Arn) != arn || aws.ToString(r.Name) != "My Recipe" || aws.ToString(r.Version) != "1.2.3" ||
		r.Type != types.ImageTypeAmi || r.Platform != types.PlatformLinux || aws.ToString(r.Owner) != accountA ||
		aws.ToString(r.ParentImage) != recipeWildcardParent || aws.ToString(r.Description) != "the base" ||
		aws.ToString(r.WorkingDirectory) != "/var/build" || r.Tags["team"] != "images" || r.AmiTags["os"] != "al2" {
		t.Errorf("recipe = %+v", r)
	}
	if !isoMillis.MatchString(aws.ToString(r.DateCreated)) {
		t.Errorf("dateCreated %q", aws.ToString(r.DateCreated))
	}
	// Components keep their ARNs as given (wildcards stay wildcards).
	if len(r.Components) != 2 || aws.ToString(r.Components[0].ComponentArn) != compVersion ||
		!strings.HasSuffix(aws.ToString(r.Components[1].ComponentArn), "/check/2.x.x") ||
		len(r.Components[0].Parameters) != 1 || r.Components[0].Parameters[0].Value[0] != "howdy" {
		t.Errorf("components = %+v", r.Components)
	}
	if len(r.BlockDeviceMappings) != 1 || aws.ToInt32(r.BlockDeviceMappings[0].Ebs.Throughput) != 250 ||
		r.AdditionalInstanceConfiguration == nil || !aws.ToBool(r.AdditionalInstanceConfiguration.SystemsManagerAgent.UninstallAfterBuild) {
		t.Errorf("instance settings = %+v / %+v", r.BlockDeviceMappings, r.AdditionalInstanceConfiguration)
	}
	// A wildcard Get resolves to the newest version.
	must[*ib.CreateImageRecipeOutput](t)(c.CreateImageRecipe(ctx, recipeImageInput("My Recipe", "1.10.0", comp)))
	got = must[*ib.GetImageRecipeOutput](t)(c.GetImageRecipe(ctx, &ib.GetImageRecipeInput{ImageRecipeArn: aws.String(recipePrefixA + "my-recipe/1.x.x")}))
	if aws.ToString(got.ImageRecipe.Version) != "1.10.0" || aws.ToString(got.LatestVersionReferences.LatestMinorVersionArn) != recipePrefixA+"my-recipe/1.10.0" {
		t.Errorf("wildcard get = %s %+v", aws.ToString(got.ImageRecipe.Version), got.LatestVersionReferences)
	}

	list := must[*ib.ListImageRecipesOutput](t)(c.ListImageRecipes(ctx, &ib.ListImageRecipesInput{}))
	if len(list.ImageRecipeSummaryList) != 2 || aws.ToString(list.ImageRecipeSummaryList[0].Arn) != arn {
		t.Fatalf("list = %+v", list.ImageRecipeSummaryList)
	}
	s := list.ImageRecipeSummaryList[0]
	if aws.ToString(s.Name) != "My Recipe" || s.Platform != types.PlatformLinux || aws.ToString(s.Owner) != accountA ||
		aws.ToString(s.ParentImage) != recipeWildcardParent || s.Tags["team"] != "images" || !isoMillis.MatchString(aws.ToString(s.DateCreated)) {
		t.Errorf("summary = %+v", s)
	}

	// The recipe holds its components.
	_, err := c.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: aws.String(comp)})
	wantCode(t, err, "ResourceDependencyException")

	del := must[*ib.DeleteImageRecipeOutput](t)(c.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: aws.String(arn)}))
	if aws.ToString(del.ImageRecipeArn) != arn {
		t.Errorf("delete echoed %s", aws.ToString(del.ImageRecipeArn))
	}
	_, err = c.GetImageRecipe(ctx, &ib.GetImageRecipeInput{ImageRecipeArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException")
	must[*ib.DeleteImageRecipeOutput](t)(c.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: aws.String(recipePrefixA + "my-recipe/1.10.0")}))
	must[*ib.DeleteComponentOutput](t)(c.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: aws.String(comp)}))
}

func TestImageRecipeCreateErrors(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	comp := aws.ToString(createComponent(t, c, "hello", "1.0.0", helloDoc).ComponentBuildVersionArn)
	needs := aws.ToString(createComponent(t, c, "needs", "1.0.0", recipeRequiredParamDoc).ComponentBuildVersionArn)
	test := aws.ToString(createComponent(t, c, "check", "1.0.0", testOnlyDoc).ComponentBuildVersionArn)
	win := aws.ToString(createComponent(t, c, "win", "1.0.0", helloDoc, func(in *ib.CreateComponentInput) { in.Platform = types.PlatformWindows }).ComponentBuildVersionArn)
	missing := "arn:aws:imagebuilder:us-east-1:000000000000:component/nope/1.0.0/1"
	base := func(m func(*ib.CreateImageRecipeInput)) *ib.CreateImageRecipeInput {
		return recipeImageInput("bad", "1.0.0", comp, m)
	}
	comps := func(cfgs ...types.ComponentConfiguration) func(*ib.CreateImageRecipeInput) {
		return func(in *ib.CreateImageRecipeInput) { in.Components = cfgs }
	}
	many := make([]types.ComponentConfiguration, 21)
	for i := range many {
		many[i] = recipeComponentConfig(comp)
	}
	cases := []struct {
		name, code, msg string
		in              *ib.CreateImageRecipeInput
	}{
		{"wildcard out of order", "InvalidVersionNumberException", "semanticVersion", base(func(in *ib.CreateImageRecipeInput) { in.SemanticVersion = aws.String("1.x.0") })},
		{"huge node", "InvalidVersionNumberException", "1073741824", base(func(in *ib.CreateImageRecipeInput) { in.SemanticVersion = aws.String("1073741824.0.0") })},
		{"no components", "InvalidParameterValueException", "at least one build component", base(comps())},
		{"21 components", "InvalidParameterValueException", "at most 20", base(comps(many...))},
		{"only test components", "InvalidParameterValueException", "at least one BUILD component", base(comps(recipeComponentConfig(test)))},
		{"unknown component", "InvalidParameterValueException", "components[1].componentArn", base(comps(recipeComponentConfig(comp), recipeComponentConfig(missing)))},
		{"unknown wildcard", "InvalidParameterValueException", "component/hello/2.x.x", base(comps(recipeComponentConfig(strings.Replace(comp, "1.0.0/1", "2.x.x", 1))))},
		{"unknown parameter", "InvalidParameterValueException", `components[0].parameters[0]: component ` + comp + ` has no parameter "Greting"`, base(comps(recipeComponentConfig(comp, recipeParam("Greting", "x"))))},
		{"two values", "InvalidParameterValueException", `parameter "Greeting" of component`, base(comps(recipeComponentConfig(comp, recipeParam("Greeting", "a", "b"))))},
		{"missing required", "InvalidParameterValueException", `parameter "Target" of component ` + needs, base(comps(recipeComponentConfig(needs)))},
		{"not an integer", "InvalidParameterValueException", `"Retries"`, base(comps(recipeComponentConfig(needs, recipeParam("Target", "x"), recipeParam("Retries", "many"))))},
		{"mixed platforms", "InvalidParameterValueException", "components[1].componentArn", base(comps(recipeComponentConfig(comp), recipeComponentConfig(win)))},
		{"parent not an image", "InvalidParameterValueException", "parentImage", base(func(in *ib.CreateImageRecipeInput) { in.ParentImage = aws.String("debian:12") })},
		{"parent bad ARN", "InvalidParameterValueException", "parentImage", base(func(in *ib.CreateImageRecipeInput) {
			in.ParentImage = aws.String("arn:aws:imagebuilder:us-east-1:aws:image/al2/x.1.x")
		})},
		{"parent component ARN", "InvalidParameterValueException", "must be an image ARN", base(func(in *ib.CreateImageRecipeInput) { in.ParentImage = aws.String(comp) })},
		{"parent image missing", "InvalidParameterValueException", "no such image", base(func(in *ib.CreateImageRecipeInput) {
			in.ParentImage = aws.String("arn:aws:imagebuilder:us-east-1:aws:image/al2/1.0.0")
		})},
		{"bad image ID", "InvalidParameterValueException", "17 lower-case hex", base(func(in *ib.CreateImageRecipeInput) { in.ParentImage = aws.String("ami-12345678") })},
		{"unregistered image ID", "InvalidParameterValueException", "no registered image", base(func(in *ib.CreateImageRecipeInput) {
			in.ParentImage = aws.String("ami-0123456789abcdef0")
		})},
		{"relative working dir", "InvalidParameterValueException", "workingDirectory", base(func(in *ib.CreateImageRecipeInput) { in.WorkingDirectory = aws.String("build") })},
		{"user data not base64", "InvalidRequestException", "userDataOverride", base(func(in *ib.CreateImageRecipeInput) {
			in.AdditionalInstanceConfiguration = &types.AdditionalInstanceConfiguration{UserDataOverride: aws.String("#!/bin/bash")}
		})},
		{"user data too long", "InvalidRequestException", "userDataOverride", base(func(in *ib.CreateImageRecipeInput) {
			in.AdditionalInstanceConfiguration = &types.AdditionalInstanceConfiguration{UserDataOverride: aws.String(strings.Repeat("QUFB", 5462))}
		})},
		{"iops on gp2", "InvalidParameterValueException", "blockDeviceMappings[0].ebs.iops", base(func(in *ib.CreateImageRecipeInput) {
			in.BlockDeviceMappings = []types.InstanceBlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"),
				Ebs: &types.EbsInstanceBlockDeviceSpecification{VolumeType: types.EbsVolumeTypeGp2, VolumeSize: aws.Int32(8), Iops: aws.Int32(3000)}}}
		})},
		{"device twice", "InvalidParameterValueException", "blockDeviceMappings[1].deviceName", base(func(in *ib.CreateImageRecipeInput) {
			in.BlockDeviceMappings = []types.InstanceBlockDeviceMapping{
				{DeviceName: aws.String("/dev/sdb"), VirtualName: aws.String("ephemeral0")},
				{DeviceName: aws.String("/dev/sdb"), VirtualName: aws.String("ephemeral1")}}
		})},
		{"bad name", "InvalidRequestException", "name", base(func(in *ib.CreateImageRecipeInput) { in.Name = aws.String("bad/name") })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateImageRecipe(ctx, tc.in)
			wantCode(t, err, tc.code)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q does not mention %q", err, tc.msg)
			}
		})
	}
	list := must[*ib.ListImageRecipesOutput](t)(c.ListImageRecipes(ctx, &ib.ListImageRecipesInput{}))
	if len(list.ImageRecipeSummaryList) != 0 {
		t.Errorf("failed creates left recipes behind: %+v", list.ImageRecipeSummaryList)
	}

	// Versions are immutable.
	must[*ib.CreateImageRecipeOutput](t)(c.CreateImageRecipe(ctx, recipeImageInput("dup", "1.0.0", comp)))
	_, err := c.CreateImageRecipe(ctx, recipeImageInput("dup", "1.0.0", comp, func(in *ib.CreateImageRecipeInput) { in.Description = aws.String("changed") }))
	wantCode(t, err, "ResourceAlreadyExistsException")
	_, err = c.CreateImageRecipe(ctx, recipeImageInput("DUP", "1.0.0", comp)) // same ARN slug
	wantCode(t, err, "ResourceAlreadyExistsException")
	// The required parameter given makes the recipe valid.
	must[*ib.CreateImageRecipeOutput](t)(c.CreateImageRecipe(ctx, recipeImageInput("needs", "1.0.0", needs, func(in *ib.CreateImageRecipeInput) {
		in.Components = []types.ComponentConfiguration{recipeComponentConfig(needs, recipeParam("Target", "x"), recipeParam("Retries", "5"))}
	})))
}

func TestRecipeWildcardVersions(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	comp := aws.ToString(createComponent(t, c, "hello", "1.0.0", helloDoc).ComponentBuildVersionArn)
	for i, want := range []string{"1.0.0", "1.0.1", "1.0.2"} {
		out := must[*ib.CreateImageRecipeOutput](t)(c.CreateImageRecipe(ctx, recipeImageInput("auto", "1.0.x", comp)))
		if got := aws.ToString(out.ImageRecipeArn); got != recipePrefixA+"auto/"+want {
			t.Fatalf("create %d with 1.0.x = %s, want version %s", i, got, want)
		}
	}
	out := must[*ib.CreateImageRecipeOutput](t)(c.CreateImageRecipe(ctx, recipeImageInput("auto", "1.x.x", comp)))
	if got := aws.ToString(out.ImageRecipeArn); got != recipePrefixA+"auto/1.1.0" {
		t.Errorf("1.x.x after 1.0.2 = %s", got)
	}
	refs := out.LatestVersionReferences
	if aws.ToString(refs.LatestVersionArn) != recipePrefixA+"auto/1.1.0" || aws.ToString(refs.LatestMinorVersionArn) != recipePrefixA+"auto/1.1.0" {
		t.Errorf("latest refs = %+v", refs)
	}
	out = must[*ib.CreateImageRecipeOutput](t)(c.CreateImageRecipe(ctx, recipeImageInput("auto", "x.x.x", comp)))
	if got := aws.ToString(out.ImageRecipeArn); got != recipePrefixA+"auto/2.0.0" {
		t.Errorf("x.x.x after 1.1.0 = %s", got)
	}
	outC := must[*ib.CreateContainerRecipeOutput](t)(c.CreateContainerRecipe(ctx, recipeContainerInput("auto", "3.2.x", comp)))
	if got := aws.ToString(outC.ContainerRecipeArn); !strings.HasSuffix(got, ":container-recipe/auto/3.2.0") {
		t.Errorf("container 3.2.x = %s", got)
	}
}

func TestRecipeParentImages(t *testing.T) {
	a := startServer(t)
	ca, cb := client(a, "test", "test"), client(a, "other", "othersecret")
	ctx := context.Background()
	comp := aws.ToString(createComponent(t, ca, "hello", "1.0.0", helloDoc).ComponentBuildVersionArn)
	winComp := aws.ToString(createComponent(t, ca, "win", "1.0.0", helloDoc, func(in *ib.CreateComponentInput) { in.Platform = types.PlatformWindows }).ComponentBuildVersionArn)

	own := recipePutImage(t, a, accountA, "base", "1.0.0", 1, gen.ImageTypeAMI, gen.PlatformLinux, gen.ImageStatusAVAILABLE, "ami-0aaaaaaaaaaaaaaa1", "")
	winImg := recipePutImage(t, a, accountA, "winbase", "1.0.0", 1, gen.ImageTypeAMI, gen.PlatformWindows, gen.ImageStatusAVAILABLE, "", "")
	failed := recipePutImage(t, a, accountA, "broken", "1.0.0", 1, gen.ImageTypeAMI, gen.PlatformLinux, gen.ImageStatusFAILED, "", "")
	docker := recipePutImage(t, a, accountA, "ctr", "1.0.0", 1, gen.ImageTypeDOCKER, gen.PlatformLinux, gen.ImageStatusAVAILABLE, "", "")
	sharePolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["000000000000"]},"Action":["imagebuilder:GetImage"],"Resource":"*"}]}`
	shared := recipePutImage(t, a, accountB, "theirs", "2.0.0", 3, gen.ImageTypeAMI, gen.PlatformLinux, gen.ImageStatusAVAILABLE, "ami-0bbbbbbbbbbbbbbb2", sharePolicy)
	private := recipePutImage(t, a, accountB, "secret", "1.0.0", 1, gen.ImageTypeAMI, gen.PlatformLinux, gen.ImageStatusAVAILABLE, "ami-0ccccccccccccccc3", "")

	accept := []struct{ name, parent string }{
		{"own build ARN", own},
		{"own version ARN", strings.TrimSuffix(own, "/1")},
		{"own image ID", "ami-0aaaaaaaaaaaaaaa1"},
		{"shared ARN", shared},
		{"shared image ID", "ami-0bbbbbbbbbbbbbbb2"},
		{"wildcard not yet built", "arn:aws:imagebuilder:us-east-1:aws:image/debian-12-x86/1.x.x"},
	}
	for i, tc := range accept {
		t.Run(tc.name, func(t *testing.T) {
			in := recipeImageInput("okay", fmt.Sprintf("1.0.%d", i), comp, func(in *ib.CreateImageRecipeInput) { in.ParentImage = aws.String(tc.parent) })
			out := must[*ib.CreateImageRecipeOutput](t)(ca.CreateImageRecipe(ctx, in))
			got := must[*ib.GetImageRecipeOutput](t)(ca.GetImageRecipe(ctx, &ib.GetImageRecipeInput{ImageRecipeArn: out.ImageRecipeArn}))
			if aws.ToString(got.ImageRecipe.ParentImage) != tc.parent {
				t.Errorf("parentImage = %s", aws.ToString(got.ImageRecipe.ParentImage))
			}
		})
	}
	// The platform comes from the parent image; components must fit it.
	out := must[*ib.CreateImageRecipeOutput](t)(ca.CreateImageRecipe(ctx, recipeImageInput("win", "1.0.0", winComp, func(in *ib.CreateImageRecipeInput) {
		in.ParentImage = aws.String(winImg)
		in.WorkingDirectory = aws.String(`C:\build`)
	})))
	got := must[*ib.GetImageRecipeOutput](t)(ca.GetImageRecipe(ctx, &ib.GetImageRecipeInput{ImageRecipeArn: out.ImageRecipeArn}))
	if got.ImageRecipe.Platform != types.PlatformWindows {
		t.Errorf("platform = %s", got.ImageRecipe.Platform)
	}
	refuse := []struct{ name, parent, comp, msg string }{
		{"unshared ARN", private, comp, "no such image"},
		{"unshared image ID", "ami-0ccccccccccccccc3", comp, "no registered image"},
		{"failed image", failed, comp, "FAILED"},
		{"container image", docker, comp, "container image"},
		{"platform mismatch", winImg, comp, "platform is Windows"},
	}
	for _, tc := range refuse {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ca.CreateImageRecipe(ctx, recipeImageInput("bad", "1.0.0", tc.comp, func(in *ib.CreateImageRecipeInput) { in.ParentImage = aws.String(tc.parent) }))
			wantCode(t, err, "InvalidParameterValueException")
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q does not mention %q", err, tc.msg)
			}
		})
	}
	// B cannot use A's image or A's unshared component.
	bComp := aws.ToString(createComponent(t, cb, "hello", "1.0.0", helloDoc).ComponentBuildVersionArn)
	_, err := cb.CreateImageRecipe(ctx, recipeImageInput("bee", "1.0.0", bComp, func(in *ib.CreateImageRecipeInput) { in.ParentImage = aws.String(own) }))
	wantCode(t, err, "InvalidParameterValueException")
	// Container recipes: container images and registry references.
	must[*ib.CreateContainerRecipeOutput](t)(ca.CreateContainerRecipe(ctx, recipeContainerInput("ctr-one", "1.0.0", comp, func(in *ib.CreateContainerRecipeInput) {
		in.ParentImage = aws.String(docker)
		in.InstanceConfiguration = &types.InstanceConfiguration{Image: aws.String("ami-0aaaaaaaaaaaaaaa1")}
	})))
	_, err = ca.CreateContainerRecipe(ctx, recipeContainerInput("ctr-two", "1.0.0", comp, func(in *ib.CreateContainerRecipeInput) { in.ParentImage = aws.String(own) }))
	wantCode(t, err, "InvalidParameterValueException")
}

func TestRecipeDependencies(t *testing.T) { forEachStore(t, testRecipeDependencies) }

func testRecipeDependencies(t *testing.T, a *App) {
	c := client(a, "test", "test")
	ctx := context.Background()
	comp := aws.ToString(createComponent(t, c, "hello", "1.0.0", helloDoc).ComponentBuildVersionArn)
	r1 := aws.ToString(must[*ib.CreateImageRecipeOutput](t)(c.CreateImageRecipe(ctx, recipeImageInput("dep", "1.0.0", comp))).ImageRecipeArn)
	pipeline := "arn:aws:imagebuilder:us-east-1:000000000000:image-pipeline/nightly"
	recipeSetRefs(t, a, pipeline, r1)
	_, err := c.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: aws.String(r1)})
	wantCode(t, err, "ResourceDependencyException")
	if !strings.Contains(err.Error(), pipeline) {
		t.Errorf("message %q does not name the pipeline", err)
	}
	// A wildcard reference holds the last version matching it.
	recipeSetRefs(t, a, pipeline, recipePrefixA+"dep/1.x.x")
	_, err = c.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: aws.String(r1)})
	wantCode(t, err, "ResourceDependencyException")
	r2 := aws.ToString(must[*ib.CreateImageRecipeOutput](t)(c.CreateImageRecipe(ctx, recipeImageInput("dep", "1.1.0", comp))).ImageRecipeArn)
	must[*ib.DeleteImageRecipeOutput](t)(c.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: aws.String(r1)}))
	_, err = c.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: aws.String(r2)})
	wantCode(t, err, "ResourceDependencyException")
	recipeSetRefs(t, a, pipeline)
	must[*ib.DeleteImageRecipeOutput](t)(c.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: aws.String(r2)}))

	cr := aws.ToString(must[*ib.CreateContainerRecipeOutput](t)(c.CreateContainerRecipe(ctx, recipeContainerInput("ctr", "1.0.0", comp))).ContainerRecipeArn)
	image := "arn:aws:imagebuilder:us-east-1:000000000000:image/ctr/1.0.0/1"
	recipeSetRefs(t, a, image, cr)
	_, err = c.DeleteContainerRecipe(ctx, &ib.DeleteContainerRecipeInput{ContainerRecipeArn: aws.String(cr)})
	wantCode(t, err, "ResourceDependencyException")
	if !strings.Contains(err.Error(), image) {
		t.Errorf("message %q does not name the image", err)
	}
	recipeSetRefs(t, a, image)
	must[*ib.DeleteContainerRecipeOutput](t)(c.DeleteContainerRecipe(ctx, &ib.DeleteContainerRecipeInput{ContainerRecipeArn: aws.String(cr)}))
	// With the recipes gone the component is free.
	must[*ib.DeleteComponentOutput](t)(c.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: aws.String(comp)}))
}

func TestRecipeOwnershipAndSharing(t *testing.T) { forEachStore(t, testRecipeOwnershipAndSharing) }

func testRecipeOwnershipAndSharing(t *testing.T, a *App) {
	ca, cb := client(a, "test", "test"), client(a, "other", "othersecret")
	ctx := context.Background()
	comp := aws.ToString(createComponent(t, ca, "hello", "1.0.0", helloDoc).ComponentBuildVersionArn)
	ir := aws.ToString(must[*ib.CreateImageRecipeOutput](t)(ca.CreateImageRecipe(ctx, recipeImageInput("mine", "1.0.0", comp))).ImageRecipeArn)
	cr := aws.ToString(must[*ib.CreateContainerRecipeOutput](t)(ca.CreateContainerRecipe(ctx, recipeContainerInput("mine", "1.0.0", comp))).ContainerRecipeArn)

	// B sees none of A's recipes and cannot use A's component.
	_, err := cb.GetImageRecipe(ctx, &ib.GetImageRecipeInput{ImageRecipeArn: aws.String(ir)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = cb.GetContainerRecipe(ctx, &ib.GetContainerRecipeInput{ContainerRecipeArn: aws.String(cr)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = cb.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: aws.String(ir)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = cb.PutImageRecipePolicy(ctx, &ib.PutImageRecipePolicyInput{ImageRecipeArn: aws.String(ir), Policy: aws.String(`{"Statement":[]}`)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = cb.CreateImageRecipe(ctx, recipeImageInput("bee", "1.0.0", comp))
	wantCode(t, err, "InvalidParameterValueException")
	if l := must[*ib.ListImageRecipesOutput](t)(cb.ListImageRecipes(ctx, &ib.ListImageRecipesInput{})); len(l.ImageRecipeSummaryList) != 0 {
		t.Errorf("B lists %+v", l.ImageRecipeSummaryList)
	}
	if l := must[*ib.ListImageRecipesOutput](t)(cb.ListImageRecipes(ctx, &ib.ListImageRecipesInput{Owner: types.OwnershipShared})); len(l.ImageRecipeSummaryList) != 0 {
		t.Errorf("nothing is shared yet, B sees %+v", l.ImageRecipeSummaryList)
	}

	// Policies.
	_, err = ca.GetImageRecipePolicy(ctx, &ib.GetImageRecipePolicyInput{ImageRecipeArn: aws.String(ir)})
	wantCode(t, err, "ResourceNotFoundException")
	policy := func(action string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["111111111111"]},"Action":["imagebuilder:` + action + `"],"Resource":"*"}]}`
	}
	put := must[*ib.PutImageRecipePolicyOutput](t)(ca.PutImageRecipePolicy(ctx, &ib.PutImageRecipePolicyInput{ImageRecipeArn: aws.String(ir), Policy: aws.String(policy("GetImageRecipe"))}))
	if aws.ToString(put.ImageRecipeArn) != ir {
		t.Errorf("put echoed %s", aws.ToString(put.ImageRecipeArn))
	}
	if p := must[*ib.GetImageRecipePolicyOutput](t)(ca.GetImageRecipePolicy(ctx, &ib.GetImageRecipePolicyInput{ImageRecipeArn: aws.String(ir)})); aws.ToString(p.Policy) != policy("GetImageRecipe") {
		t.Errorf("policy = %s", aws.ToString(p.Policy))
	}
	_, err = ca.PutImageRecipePolicy(ctx, &ib.PutImageRecipePolicyInput{ImageRecipeArn: aws.String(ir), Policy: aws.String(`{"Version":"2012-10-17"}`)})
	wantCode(t, err, "InvalidParameterValueException")
	_, err = ca.PutImageRecipePolicy(ctx, &ib.PutImageRecipePolicyInput{ImageRecipeArn: aws.String(recipePrefixA + "nope/1.0.0"), Policy: aws.String(policy("GetImageRecipe"))})
	wantCode(t, err, "ResourceNotFoundException")
	must[*ib.PutContainerRecipePolicyOutput](t)(ca.PutContainerRecipePolicy(ctx, &ib.PutContainerRecipePolicyInput{ContainerRecipeArn: aws.String(cr), Policy: aws.String(policy("GetContainerRecipe"))}))
	if p := must[*ib.GetContainerRecipePolicyOutput](t)(ca.GetContainerRecipePolicy(ctx, &ib.GetContainerRecipePolicyInput{ContainerRecipeArn: aws.String(cr)})); aws.ToString(p.Policy) != policy("GetContainerRecipe") {
		t.Errorf("container policy = %s", aws.ToString(p.Policy))
	}

	// Shared: B reads and lists under owner=Shared, cannot change.
	got := must[*ib.GetImageRecipeOutput](t)(cb.GetImageRecipe(ctx, &ib.GetImageRecipeInput{ImageRecipeArn: aws.String(ir)}))
	if aws.ToString(got.ImageRecipe.Owner) != accountA {
		t.Errorf("shared recipe owner = %s", aws.ToString(got.ImageRecipe.Owner))
	}
	must[*ib.GetContainerRecipeOutput](t)(cb.GetContainerRecipe(ctx, &ib.GetContainerRecipeInput{ContainerRecipeArn: aws.String(cr)}))
	if l := must[*ib.ListImageRecipesOutput](t)(cb.ListImageRecipes(ctx, &ib.ListImageRecipesInput{Owner: types.OwnershipShared})); len(l.ImageRecipeSummaryList) != 1 || aws.ToString(l.ImageRecipeSummaryList[0].Owner) != accountA {
		t.Errorf("B's shared list = %+v", l.ImageRecipeSummaryList)
	}
	if l := must[*ib.ListContainerRecipesOutput](t)(cb.ListContainerRecipes(ctx, &ib.ListContainerRecipesInput{Owner: types.OwnershipShared})); len(l.ContainerRecipeSummaryList) != 1 {
		t.Errorf("B's shared container list = %+v", l.ContainerRecipeSummaryList)
	}
	_, err = cb.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: aws.String(ir)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = cb.GetImageRecipePolicy(ctx, &ib.GetImageRecipePolicyInput{ImageRecipeArn: aws.String(ir)})
	wantCode(t, err, "ResourceNotFoundException")

	// A component shared with B is usable in B's recipes.
	compPolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"imagebuilder:GetComponent","Resource":"*"}]}`
	must[*ib.PutComponentPolicyOutput](t)(ca.PutComponentPolicy(ctx, &ib.PutComponentPolicyInput{ComponentArn: aws.String(comp), Policy: aws.String(compPolicy)}))
	out := must[*ib.CreateImageRecipeOutput](t)(cb.CreateImageRecipe(ctx, recipeImageInput("bee", "1.0.0", comp)))
	if !strings.Contains(aws.ToString(out.ImageRecipeArn), ":111111111111:image-recipe/bee/1.0.0") {
		t.Errorf("B's recipe ARN = %s", aws.ToString(out.ImageRecipeArn))
	}
	// B's recipe holds A's component.
	_, err = ca.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: aws.String(comp)})
	wantCode(t, err, "ResourceDependencyException")
}

func TestRecipeListing(t *testing.T) { forEachStore(t, testRecipeListing) }

func testRecipeListing(t *testing.T, a *App) {
	c := client(a, "test", "test")
	ctx := context.Background()
	comp := aws.ToString(createComponent(t, c, "hello", "1.0.0", helloDoc).ComponentBuildVersionArn)
	win := aws.ToString(createComponent(t, c, "win", "1.0.0", helloDoc, func(in *ib.CreateComponentInput) { in.Platform = types.PlatformWindows }).ComponentBuildVersionArn)
	other := "arn:aws:imagebuilder:us-east-1:aws:image/debian-12/x.x.x"
	for _, in := range []*ib.CreateImageRecipeInput{
		recipeImageInput("alpha", "1.0.0", comp), recipeImageInput("alpha", "1.1.0", comp),
		recipeImageInput("beta", "1.0.0", comp, func(in *ib.CreateImageRecipeInput) { in.ParentImage = aws.String(other) }),
		recipeImageInput("gamma", "1.0.0", win),
	} {
		must[*ib.CreateImageRecipeOutput](t)(c.CreateImageRecipe(ctx, in))
	}
	// Pagination with one item per page.
	var arns []string
	var tokens int
	p := ib.NewListImageRecipesPaginator(c, &ib.ListImageRecipesInput{MaxResults: aws.Int32(1)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.ImageRecipeSummaryList) > 1 {
			t.Fatalf("page of %d", len(page.ImageRecipeSummaryList))
		}
		for _, s := range page.ImageRecipeSummaryList {
			arns = append(arns, strings.TrimPrefix(aws.ToString(s.Arn), recipePrefixA))
		}
		if page.NextToken != nil {
			tokens++
		}
	}
	if strings.Join(arns, " ") != "alpha/1.0.0 alpha/1.1.0 beta/1.0.0 gamma/1.0.0" || tokens != 3 {
		t.Errorf("paged list = %v (%d tokens)", arns, tokens)
	}
	_, err := c.ListImageRecipes(ctx, &ib.ListImageRecipesInput{NextToken: aws.String("garbage")})
	wantCode(t, err, "InvalidPaginationTokenException")

	filter := func(name string, values ...string) []types.Filter {
		return []types.Filter{{Name: aws.String(name), Values: values}}
	}
	for _, tc := range []struct {
		filters []types.Filter
		want    int
	}{
		{filter("name", "alpha"), 2},
		{filter("name", "beta", "gamma"), 2},
		{filter("platform", "Windows"), 1},
		{filter("platform", "Linux"), 3},
		{filter("parentImage", other), 1},
	} {
		l := must[*ib.ListImageRecipesOutput](t)(c.ListImageRecipes(ctx, &ib.ListImageRecipesInput{Filters: tc.filters}))
		if len(l.ImageRecipeSummaryList) != tc.want {
			t.Errorf("filter %s=%v: %d recipes, want %d", aws.ToString(tc.filters[0].Name), tc.filters[0].Values, len(l.ImageRecipeSummaryList), tc.want)
		}
	}
	_, err = c.ListImageRecipes(ctx, &ib.ListImageRecipesInput{Filters: filter("containerType", "DOCKER")})
	wantCode(t, err, "InvalidRequestException")
	if l := must[*ib.ListImageRecipesOutput](t)(c.ListImageRecipes(ctx, &ib.ListImageRecipesInput{Owner: types.OwnershipAmazon})); len(l.ImageRecipeSummaryList) != 0 {
		t.Errorf("owner=Amazon lists %+v", l.ImageRecipeSummaryList)
	}

	// Container recipes.
	for _, name := range []string{"c-one", "c-two", "c-three"} {
		must[*ib.CreateContainerRecipeOutput](t)(c.CreateContainerRecipe(ctx, recipeContainerInput(name, "1.0.0", comp)))
	}
	var names []string
	cp := ib.NewListContainerRecipesPaginator(c, &ib.ListContainerRecipesInput{MaxResults: aws.Int32(1)})
	for cp.HasMorePages() {
		page, err := cp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.ContainerRecipeSummaryList {
			names = append(names, aws.ToString(s.Name))
			if s.ContainerType != types.ContainerTypeDocker || s.Platform != types.PlatformLinux {
				t.Errorf("summary = %+v", s)
			}
		}
	}
	if strings.Join(names, " ") != "c-one c-three c-two" {
		t.Errorf("container recipes = %v", names)
	}
	for _, tc := range []struct {
		filters []types.Filter
		want    int
	}{
		{filter("containerType", "DOCKER"), 3},
		{filter("name", "c-two"), 1},
		{filter("parentImage", "public.ecr.aws/docker/library/debian:bookworm"), 3},
		{filter("platform", "Windows"), 0},
	} {
		l := must[*ib.ListContainerRecipesOutput](t)(c.ListContainerRecipes(ctx, &ib.ListContainerRecipesInput{Filters: tc.filters}))
		if len(l.ContainerRecipeSummaryList) != tc.want {
			t.Errorf("container filter %s: %d, want %d", aws.ToString(tc.filters[0].Name), len(l.ContainerRecipeSummaryList), tc.want)
		}
	}
}

func TestContainerRecipeLifecycle(t *testing.T) { forEachStore(t, testContainerRecipeLifecycle) }

func testContainerRecipeLifecycle(t *testing.T, a *App) {
	c := client(a, "test", "test")
	ctx := context.Background()
	comp := aws.ToString(createComponent(t, c, "hello", "1.0.0", helloDoc).ComponentBuildVersionArn)
	out := must[*ib.CreateContainerRecipeOutput](t)(c.CreateContainerRecipe(ctx, recipeContainerInput("Web App", "1.0.0", comp, func(in *ib.CreateContainerRecipeInput) {
		in.Description = aws.String("web")
		in.Tags = map[string]string{"team": "web"}
		in.WorkingDirectory = aws.String("/build")
		in.KmsKeyId = aws.String("alias/containers")
		in.PlatformOverride = types.PlatformLinux
		in.ImageOsVersionOverride = aws.String("Debian 12")
		in.InstanceConfiguration = &types.InstanceConfiguration{BlockDeviceMappings: []types.InstanceBlockDeviceMapping{{
			DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsInstanceBlockDeviceSpecification{VolumeSize: aws.Int32(50)},
		}}}
	})))
	arn := aws.ToString(out.ContainerRecipeArn)
	if arn != "arn:aws:imagebuilder:us-east-1:000000000000:container-recipe/web-app/1.0.0" {
		t.Fatalf("ARN = %s", arn)
	}
	got := must[*ib.GetContainerRecipeOutput](t)(c.GetContainerRecipe(ctx, &ib.GetContainerRecipeInput{ContainerRecipeArn: aws.String(arn)}))
	r := got.ContainerRecipe
	if aws.ToString(r.Name) != "Web App" || r.ContainerType != types.ContainerTypeDocker || r.Platform != types.PlatformLinux ||
		aws.ToString(r.DockerfileTemplateData) != recipeDockerTemplate || aws.ToString(r.KmsKeyId) != "alias/containers" ||
		aws.ToString(r.TargetRepository.RepositoryName) != "team/app" || r.TargetRepository.Service != types.ContainerRepositoryServiceEcr ||
		aws.ToString(r.WorkingDirectory) != "/build" || r.Tags["team"] != "web" || aws.ToString(r.Owner) != accountA ||
		len(r.InstanceConfiguration.BlockDeviceMappings) != 1 || !isoMillis.MatchString(aws.ToString(r.DateCreated)) {
		t.Errorf("container recipe = %+v", r)
	}
	if aws.ToString(got.LatestVersionReferences.LatestVersionArn) != arn {
		t.Errorf("latest refs = %+v", got.LatestVersionReferences)
	}
	_, err := c.CreateContainerRecipe(ctx, recipeContainerInput("Web App", "1.0.0", comp))
	wantCode(t, err, "ResourceAlreadyExistsException")

	// The template can come from a uri.
	path := filepath.Join(t.TempDir(), "Dockerfile")
	if err := os.WriteFile(path, []byte(recipeDockerTemplate+"RUN echo done\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = must[*ib.CreateContainerRecipeOutput](t)(c.CreateContainerRecipe(ctx, recipeContainerInput("from-uri", "1.0.0", comp, func(in *ib.CreateContainerRecipeInput) {
		in.DockerfileTemplateData = nil
		in.DockerfileTemplateUri = aws.String("file://" + path)
	})))
	got = must[*ib.GetContainerRecipeOutput](t)(c.GetContainerRecipe(ctx, &ib.GetContainerRecipeInput{ContainerRecipeArn: out.ContainerRecipeArn}))
	if aws.ToString(got.ContainerRecipe.DockerfileTemplateData) != recipeDockerTemplate+"RUN echo done\n" {
		t.Errorf("template from uri = %q", aws.ToString(got.ContainerRecipe.DockerfileTemplateData))
	}

	del := must[*ib.DeleteContainerRecipeOutput](t)(c.DeleteContainerRecipe(ctx, &ib.DeleteContainerRecipeInput{ContainerRecipeArn: aws.String(arn)}))
	if aws.ToString(del.ContainerRecipeArn) != arn {
		t.Errorf("delete echoed %s", aws.ToString(del.ContainerRecipeArn))
	}
	_, err = c.GetContainerRecipe(ctx, &ib.GetContainerRecipeInput{ContainerRecipeArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.DeleteContainerRecipe(ctx, &ib.DeleteContainerRecipeInput{ContainerRecipeArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.GetContainerRecipePolicy(ctx, &ib.GetContainerRecipePolicyInput{ContainerRecipeArn: out.ContainerRecipeArn})
	wantCode(t, err, "ResourceNotFoundException")
}

func TestContainerRecipeCreateErrors(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	comp := aws.ToString(createComponent(t, c, "hello", "1.0.0", helloDoc).ComponentBuildVersionArn)
	base := func(m func(*ib.CreateContainerRecipeInput)) *ib.CreateContainerRecipeInput {
		return recipeContainerInput("bad", "1.0.0", comp, m)
	}
	cases := []struct {
		name, code, msg string
		in              *ib.CreateContainerRecipeInput
	}{
		{"data and uri", "InvalidParameterCombinationException", "dockerfileTemplateUri", base(func(in *ib.CreateContainerRecipeInput) { in.DockerfileTemplateUri = aws.String("s3://b/k") })},
		{"neither", "InvalidRequestException", "dockerfileTemplateData", base(func(in *ib.CreateContainerRecipeInput) { in.DockerfileTemplateData = nil })},
		{"missing uri", "InvalidParameterValueException", "/nonexistent", base(func(in *ib.CreateContainerRecipeInput) {
			in.DockerfileTemplateData = nil
			in.DockerfileTemplateUri = aws.String("file:///nonexistent/Dockerfile")
		})},
		{"no FROM", "InvalidParameterValueException", "FROM", base(func(in *ib.CreateContainerRecipeInput) { in.DockerfileTemplateData = aws.String("RUN true\n") })},
		{"unknown placeholder", "InvalidParameterValueException", "line 2", base(func(in *ib.CreateContainerRecipeInput) {
			in.DockerfileTemplateData = aws.String("FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:component }}}\n")
		})},
		{"bad registry reference", "InvalidParameterValueException", "parentImage", base(func(in *ib.CreateContainerRecipeInput) { in.ParentImage = aws.String("Debian:12") })},
		{"AMI parent", "InvalidParameterValueException", "not on an AMI", base(func(in *ib.CreateContainerRecipeInput) { in.ParentImage = aws.String("ami-0123456789abcdef0") })},
		{"bad repository", "InvalidParameterValueException", "targetRepository.repositoryName", base(func(in *ib.CreateContainerRecipeInput) {
			in.TargetRepository.RepositoryName = aws.String("Team/App")
		})},
		{"macOS", "InvalidParameterValueException", "platformOverride", base(func(in *ib.CreateContainerRecipeInput) { in.PlatformOverride = types.PlatformMacos })},
		{"platform mismatch", "InvalidParameterValueException", "platformOverride", base(func(in *ib.CreateContainerRecipeInput) { in.PlatformOverride = types.PlatformWindows })},
		{"unregistered instance image", "InvalidParameterValueException", "instanceConfiguration.image", base(func(in *ib.CreateContainerRecipeInput) {
			in.InstanceConfiguration = &types.InstanceConfiguration{Image: aws.String("ami-0123456789abcdef0")}
		})},
		{"instance device", "InvalidParameterCombinationException", "instanceConfiguration.blockDeviceMappings[0]", base(func(in *ib.CreateContainerRecipeInput) {
			in.InstanceConfiguration = &types.InstanceConfiguration{BlockDeviceMappings: []types.InstanceBlockDeviceMapping{{DeviceName: aws.String("/dev/xvda")}}}
		})},
		{"no components", "InvalidParameterValueException", "components", base(func(in *ib.CreateContainerRecipeInput) { in.Components = nil })},
		{"unknown parameter", "InvalidParameterValueException", `no parameter "Nope"`, base(func(in *ib.CreateContainerRecipeInput) {
			in.Components = []types.ComponentConfiguration{recipeComponentConfig(comp, recipeParam("Nope", "x"))}
		})},
		{"wildcard out of order", "InvalidVersionNumberException", "semanticVersion", base(func(in *ib.CreateContainerRecipeInput) { in.SemanticVersion = aws.String("x.0.0") })},
		{"bad container type", "InvalidRequestException", "containerType", base(func(in *ib.CreateContainerRecipeInput) { in.ContainerType = "PODMAN" })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateContainerRecipe(ctx, tc.in)
			wantCode(t, err, tc.code)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q does not mention %q", err, tc.msg)
			}
		})
	}
	if l := must[*ib.ListContainerRecipesOutput](t)(c.ListContainerRecipes(ctx, &ib.ListContainerRecipesInput{})); len(l.ContainerRecipeSummaryList) != 0 {
		t.Errorf("failed creates left recipes behind: %+v", l.ContainerRecipeSummaryList)
	}
}

func TestRecipeBadARNs(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	for _, arn := range []string{
		recipePrefixA + "nope/1.0.0",
		recipePrefixA + "nope/x.x.x",
		"arn:aws:imagebuilder:us-east-1:000000000000:container-recipe/nope/1.0.0",
		"arn:aws:imagebuilder:us-east-1:000000000000:component/nope/1.0.0/1",
	} {
		_, err := c.GetImageRecipe(ctx, &ib.GetImageRecipeInput{ImageRecipeArn: aws.String(arn)})
		if code := errorCode(err); code != "ResourceNotFoundException" && code != "InvalidRequestException" {
			t.Errorf("GetImageRecipe %s: %v", arn, err)
		}
		_, err = c.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: aws.String(arn)})
		if code := errorCode(err); code != "ResourceNotFoundException" && code != "InvalidRequestException" {
			t.Errorf("DeleteImageRecipe %s: %v", arn, err)
		}
		_, err = c.GetContainerRecipe(ctx, &ib.GetContainerRecipeInput{ContainerRecipeArn: aws.String(arn)})
		if code := errorCode(err); code != "ResourceNotFoundException" && code != "InvalidRequestException" {
			t.Errorf("GetContainerRecipe %s: %v", arn, err)
		}
	}
	_, err := c.GetImageRecipe(ctx, &ib.GetImageRecipeInput{ImageRecipeArn: aws.String("not-an-arn")})
	wantCode(t, err, "InvalidRequestException")
}

// TestManagedComponentInRecipe uses an Amazon-managed component by its
// wildcard ARN, unchanged from a real recipe.
func TestManagedComponentInRecipe(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	managed := "arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x"
	if _, err := c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: aws.String(managed)}); err != nil {
		t.Skipf("managed component update-linux is not seeded in this build: %v", err)
	}
	out := must[*ib.CreateImageRecipeOutput](t)(c.CreateImageRecipe(ctx, recipeImageInput("managed", "1.0.0", managed)))
	got := must[*ib.GetImageRecipeOutput](t)(c.GetImageRecipe(ctx, &ib.GetImageRecipeInput{ImageRecipeArn: out.ImageRecipeArn}))
	if aws.ToString(got.ImageRecipe.Components[0].ComponentArn) != managed || got.ImageRecipe.Platform != types.PlatformLinux {
		t.Errorf("recipe = %+v", got.ImageRecipe)
	}
}

// TestRecipesWithAWSCLI runs create → get → list → delete for both recipe
// types with the AWS CLI on PATH.
func TestRecipesWithAWSCLI(t *testing.T) {
	awsBin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("no aws CLI on PATH")
	}
	a := startServer(t)
	c := client(a, "test", "test")
	comp := aws.ToString(createComponent(t, c, "hello", "1.0.0", helloDoc).ComponentBuildVersionArn)
	run := awsCLI(t, a, awsBin)
	ok, fails := cliChecks(t, run)
	components := `[{"componentArn":"` + comp + `","parameters":[{"name":"Greeting","value":["hi"]}]}]`

	out := ok("create-image-recipe", "--name", "cli-recipe", "--semantic-version", "1.0.x", "--parent-image", recipeWildcardParent,
		"--components", components, "--tags", "team=cli",
		"--block-device-mappings", `[{"deviceName":"/dev/xvda","ebs":{"volumeSize":20,"volumeType":"gp3"}}]`)
	arn, _ := out["imageRecipeArn"].(string)
	if arn != recipePrefixA+"cli-recipe/1.0.0" {
		t.Fatalf("create-image-recipe ARN %q", arn)
	}
	got := ok("get-image-recipe", "--image-recipe-arn", arn)
	if r, _ := got["imageRecipe"].(map[string]any); r["parentImage"] != recipeWildcardParent || r["platform"] != "Linux" {
		t.Errorf("get-image-recipe = %v", got)
	}
	list := ok("list-image-recipes", "--filters", "name=name,values=cli-recipe")
	if l, _ := list["imageRecipeSummaryList"].([]any); len(l) != 1 {
		t.Errorf("list-image-recipes = %v", list)
	}
	ok("put-image-recipe-policy", "--image-recipe-arn", arn, "--policy",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["111111111111"]},"Action":["imagebuilder:GetImageRecipe"],"Resource":"*"}]}`)
	ok("get-image-recipe-policy", "--image-recipe-arn", arn)
	fails("ResourceAlreadyExistsException", "create-image-recipe", "--name", "cli-recipe", "--semantic-version", "1.0.0",
		"--parent-image", recipeWildcardParent, "--components", components)
	ok("delete-image-recipe", "--image-recipe-arn", arn)
	fails("ResourceNotFoundException", "get-image-recipe", "--image-recipe-arn", arn)

	tpl := filepath.Join(t.TempDir(), "Dockerfile")
	if err := os.WriteFile(tpl, []byte(recipeDockerTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	out = ok("create-container-recipe", "--container-type", "DOCKER", "--name", "cli-ctr", "--semantic-version", "2.0.0",
		"--parent-image", "amazonlinux:2023", "--components", components, "--dockerfile-template-data", "file://"+tpl,
		"--target-repository", "service=ECR,repositoryName=cli/app")
	carn, _ := out["containerRecipeArn"].(string)
	if !strings.HasSuffix(carn, ":container-recipe/cli-ctr/2.0.0") {
		t.Fatalf("create-container-recipe ARN %q", carn)
	}
	got = ok("get-container-recipe", "--container-recipe-arn", carn)
	if r, _ := got["containerRecipe"].(map[string]any); r["dockerfileTemplateData"] != recipeDockerTemplate {
		t.Errorf("get-container-recipe = %v", got)
	}
	list = ok("list-container-recipes")
	if l, _ := list["containerRecipeSummaryList"].([]any); len(l) != 1 {
		t.Errorf("list-container-recipes = %v", list)
	}
	fails("InvalidParameterCombinationException", "create-container-recipe", "--container-type", "DOCKER", "--name", "x-ctr",
		"--semantic-version", "1.0.0", "--parent-image", "amazonlinux:2023", "--components", components,
		"--dockerfile-template-data", "file://"+tpl, "--dockerfile-template-uri", "s3://bucket/Dockerfile",
		"--target-repository", "service=ECR,repositoryName=cli/app")
	ok("delete-container-recipe", "--container-recipe-arn", carn)
	fails("ResourceNotFoundException", "get-container-recipe", "--container-recipe-arn", carn)
}

// TestRecipeIdempotencyAndConcurrency replays a clientToken (no second
// version is allocated) and races wildcard creates (each gets its own
// version).
func TestRecipeIdempotencyAndConcurrency(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *App) {
		c := client(a, "test", "test")
		ctx := context.Background()
		comp := aws.ToString(createComponent(t, c, "hello", "1.0.0", helloDoc).ComponentBuildVersionArn)
		in := recipeImageInput("idem", "1.0.x", comp, func(in *ib.CreateImageRecipeInput) { in.ClientToken = aws.String("token-1") })
		first := must[*ib.CreateImageRecipeOutput](t)(c.CreateImageRecipe(ctx, in))
		again := must[*ib.CreateImageRecipeOutput](t)(c.CreateImageRecipe(ctx, in))
		if aws.ToString(first.ImageRecipeArn) != recipePrefixA+"idem/1.0.0" || aws.ToString(again.ImageRecipeArn) != aws.ToString(first.ImageRecipeArn) ||
			aws.ToString(again.ClientToken) != "token-1" {
			t.Errorf("replay = %s / %s", aws.ToString(first.ImageRecipeArn), aws.ToString(again.ImageRecipeArn))
		}
		in.Description = aws.String("different")
		_, err := c.CreateImageRecipe(ctx, in)
		wantCode(t, err, "IdempotentParameterMismatchException")

		const n = 8
		arns := make(chan string, n)
		errs := make(chan error, n)
		for range n {
			go func() {
				out, err := c.CreateContainerRecipe(ctx, recipeContainerInput("race", "1.0.x", comp))
				if err != nil {
					errs <- err
					return
				}
				arns <- aws.ToString(out.ContainerRecipeArn)
			}()
		}
		seen := map[string]bool{}
		for range n {
			select {
			case err := <-errs:
				t.Errorf("concurrent create: %v", err)
			case arn := <-arns:
				if seen[arn] {
					t.Errorf("version allocated twice: %s", arn)
				}
				seen[arn] = true
			}
		}
		for i := range len(seen) {
			if !seen[fmt.Sprintf("arn:aws:imagebuilder:us-east-1:000000000000:container-recipe/race/1.0.%d", i)] {
				t.Errorf("versions are not 1.0.0..1.0.%d: %v", len(seen)-1, seen)
				break
			}
		}
	})
}

// TestImageRecipeAmiWatermarks sends amiWatermarks on the wire (the Go SDK
// in go.mod predates the member).
func TestImageRecipeAmiWatermarks(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	comp := aws.ToString(createComponent(t, c, "hello", "1.0.0", helloDoc).ComponentBuildVersionArn)
	body := func(name string, marks ...string) string {
		b, err := json.Marshal(map[string]any{
			"name": name, "semanticVersion": "1.0.0", "parentImage": recipeWildcardParent, "clientToken": name,
			"components": []map[string]any{{"componentArn": comp}}, "amiWatermarks": marks,
		})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	resp, out := signedRequest(t, a, "PUT", "/CreateImageRecipe", body("marked", "Golden (2026)", "team-a"))
	if resp.StatusCode != 200 {
		t.Fatalf("create: %d %v", resp.StatusCode, out)
	}
	arn, _ := out["imageRecipeArn"].(string)
	resp, out = signedRequest(t, a, "GET", "/GetImageRecipe?imageRecipeArn="+url.QueryEscape(arn), "")
	r, _ := out["imageRecipe"].(map[string]any)
	if marks, _ := r["amiWatermarks"].([]any); resp.StatusCode != 200 || len(marks) != 2 || marks[0] != "Golden (2026)" {
		t.Errorf("get: %d %v", resp.StatusCode, out)
	}
	resp, out = signedRequest(t, a, "PUT", "/CreateImageRecipe", body("twice", "team-a", "team-a"))
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "InvalidParameterValueException" || !strings.Contains(fmt.Sprint(out["message"]), "amiWatermarks[1]") {
		t.Errorf("duplicate watermark: %d %s %v", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), out)
	}
	resp, _ = signedRequest(t, a, "PUT", "/CreateImageRecipe", body("toomany", "a-1", "b-2", "c-3", "d-4", "e-5", "f-6"))
	if resp.StatusCode != 400 {
		t.Errorf("six watermarks: %d", resp.StatusCode)
	}
}

// TestRecipeTagsAndExactARNs tags recipes through the tag calls and checks
// that changes need the exact version ARN.
func TestRecipeTagsAndExactARNs(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	comp := aws.ToString(createComponent(t, c, "hello", "1.0.0", helloDoc).ComponentBuildVersionArn)
	ir := aws.ToString(must[*ib.CreateImageRecipeOutput](t)(c.CreateImageRecipe(ctx, recipeImageInput("tagged", "1.0.0", comp))).ImageRecipeArn)
	cr := aws.ToString(must[*ib.CreateContainerRecipeOutput](t)(c.CreateContainerRecipe(ctx, recipeContainerInput("tagged", "1.0.0", comp))).ContainerRecipeArn)
	for _, arn := range []string{ir, cr} {
		must[*ib.TagResourceOutput](t)(c.TagResource(ctx, &ib.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"stage": "prod"}}))
		tags := must[*ib.ListTagsForResourceOutput](t)(c.ListTagsForResource(ctx, &ib.ListTagsForResourceInput{ResourceArn: aws.String(arn)}))
		if tags.Tags["stage"] != "prod" {
			t.Errorf("%s tags = %v", arn, tags.Tags)
		}
	}
	got := must[*ib.GetImageRecipeOutput](t)(c.GetImageRecipe(ctx, &ib.GetImageRecipeInput{ImageRecipeArn: aws.String(ir)}))
	if got.ImageRecipe.Tags["stage"] != "prod" {
		t.Errorf("image recipe tags = %v", got.ImageRecipe.Tags)
	}
	gotC := must[*ib.GetContainerRecipeOutput](t)(c.GetContainerRecipe(ctx, &ib.GetContainerRecipeInput{ContainerRecipeArn: aws.String(cr)}))
	if gotC.ContainerRecipe.Tags["stage"] != "prod" {
		t.Errorf("container recipe tags = %v", gotC.ContainerRecipe.Tags)
	}
	wild := strings.Replace(ir, "/1.0.0", "/1.x.x", 1)
	must[*ib.GetImageRecipeOutput](t)(c.GetImageRecipe(ctx, &ib.GetImageRecipeInput{ImageRecipeArn: aws.String(wild)}))
	_, err := c.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: aws.String(wild)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.PutImageRecipePolicy(ctx, &ib.PutImageRecipePolicyInput{ImageRecipeArn: aws.String(wild), Policy: aws.String(`{"Statement":[]}`)})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.DeleteContainerRecipe(ctx, &ib.DeleteContainerRecipeInput{ContainerRecipeArn: aws.String(strings.Replace(cr, "/1.0.0", "/x.x.x", 1))})
	wantCode(t, err, "ResourceNotFoundException")
	// An image recipe ARN is not a container recipe ARN.
	_, err = c.GetContainerRecipe(ctx, &ib.GetContainerRecipeInput{ContainerRecipeArn: aws.String(ir)})
	if code := errorCode(err); code != "ResourceNotFoundException" && code != "InvalidRequestException" {
		t.Errorf("image recipe ARN as container recipe: %v", err)
	}
}
