package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// imSetStatus moves a stored image to another state, as the build engine
// will.
func imSetStatus(t *testing.T, a *App, arn string, status gen.ImageStatus) {
	t.Helper()
	ctx := context.Background()
	err := a.st.Update(ctx, func(tx store.Tx) error {
		r, err := tx.Get(ctx, arn)
		if err != nil {
			return err
		}
		var body map[string]any
		if err := json.Unmarshal(r.Body, &body); err != nil {
			return err
		}
		body["state"] = map[string]any{"status": string(status)}
		if r.Body, err = json.Marshal(body); err != nil {
			return err
		}
		return tx.Replace(ctx, r)
	})
	if err != nil {
		t.Fatalf("setting %s to %s: %v", arn, status, err)
	}
}

func TestImageLifecycle(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *App) {
		c := client(a, "test", "test")
		ctx := context.Background()
		in := plNewInputs(t, a, c)

		out, err := c.CreateImage(ctx, &ib.CreateImageInput{
			ImageRecipeArn: aws.String(in.recipe), InfrastructureConfigurationArn: aws.String(in.infra),
			DistributionConfigurationArn: aws.String(in.dist), Tags: map[string]string{"stage": "dev"},
			ImageTestsConfiguration:      &types.ImageTestsConfiguration{ImageTestsEnabled: aws.Bool(false)},
			EnhancedImageMetadataEnabled: aws.Bool(false),
		})
		if err != nil {
			t.Fatal(err)
		}
		arn1 := aws.ToString(out.ImageBuildVersionArn)
		if want := "arn:aws:imagebuilder:us-east-1:" + accountA + ":image/web/1.0.0/1"; arn1 != want {
			t.Fatalf("arn = %s, want %s", arn1, want)
		}
		if aws.ToString(out.LatestVersionReferences.LatestVersionArn) != arn1 || aws.ToString(out.ClientToken) == "" {
			t.Errorf("create output: %+v", out)
		}

		// Later edits of the infrastructure do not reach the image.
		must[*ib.UpdateInfrastructureConfigurationOutput](t)(c.UpdateInfrastructureConfiguration(ctx, &ib.UpdateInfrastructureConfigurationInput{
			InfrastructureConfigurationArn: aws.String(in.infra), InstanceProfileName: aws.String("builder"), Description: aws.String("second"),
		}))
		arn2 := aws.ToString(must[*ib.CreateImageOutput](t)(c.CreateImage(ctx, &ib.CreateImageInput{
			ImageRecipeArn: aws.String(in.recipe), InfrastructureConfigurationArn: aws.String(in.infra)})).ImageBuildVersionArn)
		if !strings.HasSuffix(arn2, "/1.0.0/2") {
			t.Fatalf("second build = %s", arn2)
		}

		img := must[*ib.GetImageOutput](t)(c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: &arn1})).Image
		switch {
		case aws.ToString(img.Arn) != arn1, aws.ToString(img.Name) != "web", aws.ToString(img.Version) != "1.0.0",
			img.Type != types.ImageTypeAmi, img.Platform != types.PlatformLinux, img.State.Status != types.ImageStatusPending,
			img.BuildType != types.BuildTypeUserInitiated, img.ImageSource != types.ImageSourceCustom, img.Tags["stage"] != "dev",
			!isoMillis.MatchString(aws.ToString(img.DateCreated)), img.OutputResources != nil,
			aws.ToBool(img.ImageTestsConfiguration.ImageTestsEnabled), aws.ToInt32(img.ImageTestsConfiguration.TimeoutMinutes) != 720,
			aws.ToBool(img.EnhancedImageMetadataEnabled):
			t.Errorf("image = %+v", img)
		}
		if img.ImageRecipe == nil || aws.ToString(img.ImageRecipe.Arn) != in.recipe || aws.ToString(img.ImageRecipe.Description) != "recipe web" ||
			len(img.ImageRecipe.Components) != 1 {
			t.Errorf("recipe snapshot = %+v", img.ImageRecipe)
		}
		if img.InfrastructureConfiguration == nil || aws.ToString(img.InfrastructureConfiguration.Description) != "first" ||
			aws.ToString(img.InfrastructureConfiguration.Name) != "Build Infra" {
			t.Errorf("infrastructure snapshot = %+v", img.InfrastructureConfiguration)
		}
		if d := img.DistributionConfiguration; d == nil || aws.ToString(d.Arn) != in.dist || len(d.Distributions) != 1 {
			t.Errorf("distribution snapshot = %+v", d)
		}
		img2 := must[*ib.GetImageOutput](t)(c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: &arn2})).Image
		if aws.ToString(img2.InfrastructureConfiguration.Description) != "second" || img2.DistributionConfiguration != nil {
			t.Errorf("second snapshot = %+v", img2.InfrastructureConfiguration)
		}

		// Version and wildcard ARNs resolve to the newest build.
		for _, sel := range []string{"1.0.0", "1.x.x", "x.x.x"} {
			g := must[*ib.GetImageOutput](t)(c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: aws.String(strings.TrimSuffix(arn1, "1.0.0/1") + sel)}))
			if aws.ToString(g.Image.Arn) != arn2 || aws.ToString(g.LatestVersionReferences.LatestPatchVersionArn) != arn2 {
				t.Errorf("GetImage %s = %s", sel, aws.ToString(g.Image.Arn))
			}
		}
		_, err = c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: aws.String(strings.TrimSuffix(arn1, "1.0.0/1") + "2.x.x")})
		wantCode(t, err, "ResourceNotFoundException")

		// ListImages: one entry per version.
		l := must[*ib.ListImagesOutput](t)(c.ListImages(ctx, &ib.ListImagesInput{}))
		if len(l.ImageVersionList) != 1 || aws.ToString(l.ImageVersionList[0].Arn) != strings.TrimSuffix(arn1, "/1") ||
			l.ImageVersionList[0].Type != types.ImageTypeAmi || aws.ToString(l.ImageVersionList[0].Owner) != accountA {
			t.Errorf("ListImages = %+v", l.ImageVersionList)
		}

		// ListImageBuildVersions pages through both builds.
		var got []string
		var token *string
		for {
			page := must[*ib.ListImageBuildVersionsOutput](t)(c.ListImageBuildVersions(ctx, &ib.ListImageBuildVersionsInput{
				ImageVersionArn: aws.String(strings.TrimSuffix(arn1, "/1")), MaxResults: aws.Int32(1), NextToken: token}))
			for _, s := range page.ImageSummaryList {
				got = append(got, aws.ToString(s.Arn))
			}
			if token = page.NextToken; token == nil {
				break
			}
		}
		if strings.Join(got, " ") != arn1+" "+arn2 {
			t.Errorf("build versions = %v", got)
		}

		// Packages: none recorded yet.
		p := must[*ib.ListImagePackagesOutput](t)(c.ListImagePackages(ctx, &ib.ListImagePackagesInput{ImageBuildVersionArn: &arn1}))
		if len(p.ImagePackageList) != 0 || p.NextToken != nil {
			t.Errorf("packages = %+v", p)
		}
		_, err = c.ListImagePackages(ctx, &ib.ListImagePackagesInput{ImageBuildVersionArn: aws.String(strings.TrimSuffix(arn1, "/1") + "/9")})
		wantCode(t, err, "ResourceNotFoundException")

		// The inputs cannot be deleted under the images.
		_, err = c.DeleteInfrastructureConfiguration(ctx, &ib.DeleteInfrastructureConfigurationInput{InfrastructureConfigurationArn: &in.infra})
		wantCode(t, err, "ResourceDependencyException")
		_, err = c.DeleteDistributionConfiguration(ctx, &ib.DeleteDistributionConfigurationInput{DistributionConfigurationArn: &in.dist})
		wantCode(t, err, "ResourceDependencyException")
		if !strings.Contains(err.Error(), arn1) {
			t.Errorf("dependency error does not name the image: %v", err)
		}

		// Delete: refused while the image is being worked on.
		for _, st := range []gen.ImageStatus{gen.ImageStatusBUILDING, gen.ImageStatusTESTING, gen.ImageStatusDISTRIBUTING, gen.ImageStatusINTEGRATING} {
			imSetStatus(t, a, arn1, st)
			_, err = c.DeleteImage(ctx, &ib.DeleteImageInput{ImageBuildVersionArn: &arn1})
			wantCode(t, err, "ResourceInUseException")
		}
		for _, st := range []gen.ImageStatus{gen.ImageStatusFAILED, gen.ImageStatusCANCELLED, gen.ImageStatusAVAILABLE} {
			imSetStatus(t, a, arn1, st)
		}
		must[*ib.DeleteImageOutput](t)(c.DeleteImage(ctx, &ib.DeleteImageInput{ImageBuildVersionArn: &arn1}))
		_, err = c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: &arn1})
		wantCode(t, err, "ResourceNotFoundException")
		_, err = c.DeleteImage(ctx, &ib.DeleteImageInput{ImageBuildVersionArn: &arn1})
		wantCode(t, err, "ResourceNotFoundException")
		must[*ib.DeleteImageOutput](t)(c.DeleteImage(ctx, &ib.DeleteImageInput{ImageBuildVersionArn: &arn2}))
		must[*ib.DeleteDistributionConfigurationOutput](t)(c.DeleteDistributionConfiguration(ctx, &ib.DeleteDistributionConfigurationInput{DistributionConfigurationArn: &in.dist}))
		must[*ib.DeleteInfrastructureConfigurationOutput](t)(c.DeleteInfrastructureConfiguration(ctx, &ib.DeleteInfrastructureConfigurationInput{InfrastructureConfigurationArn: &in.infra}))
	})
}

func TestImageValidation(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	in := plNewInputs(t, a, c)
	build := plWorkflow(t, a, "aws", "BUILD", "build-image")
	tests := []struct {
		name      string
		in        ib.CreateImageInput
		code, msg string
	}{
		{"both recipes", ib.CreateImageInput{ImageRecipeArn: &in.recipe, ContainerRecipeArn: &in.container, InfrastructureConfigurationArn: &in.infra},
			"InvalidRequestException", "exactly one of"},
		{"no recipe", ib.CreateImageInput{InfrastructureConfigurationArn: &in.infra}, "InvalidRequestException", "exactly one of"},
		{"unknown recipe", ib.CreateImageInput{ImageRecipeArn: aws.String(strings.Replace(in.recipe, "1.0.0", "3.0.0", 1)), InfrastructureConfigurationArn: &in.infra},
			"InvalidParameterValueException", "imageRecipeArn"},
		{"unknown infrastructure", ib.CreateImageInput{ImageRecipeArn: &in.recipe, InfrastructureConfigurationArn: aws.String(in.infra + "x")},
			"InvalidParameterValueException", "infrastructureConfigurationArn"},
		{"workflow without role", ib.CreateImageInput{ImageRecipeArn: &in.recipe, InfrastructureConfigurationArn: &in.infra,
			Workflows: []types.WorkflowConfiguration{{WorkflowArn: &build}}}, "InvalidRequestException", "executionRole"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateImage(ctx, &tt.in)
			wantCode(t, err, tt.code)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message does not mention %q: %v", tt.msg, err)
			}
		})
	}

	// A container build with a workflow, and a wildcard recipe version.
	newer := plContainerRecipe(t, a, accountA, "svc", "2.1.0")
	out := must[*ib.CreateImageOutput](t)(c.CreateImage(ctx, &ib.CreateImageInput{
		ContainerRecipeArn: aws.String(strings.Replace(in.container, "2.0.0", "2.x.x", 1)), InfrastructureConfigurationArn: &in.infra,
		Workflows: []types.WorkflowConfiguration{{WorkflowArn: &build}}, ExecutionRole: aws.String("ib-role"),
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ImageScanningEnabled: aws.Bool(true),
			EcrConfiguration: &types.EcrConfiguration{RepositoryName: aws.String("scans")}},
	}))
	img := must[*ib.GetImageOutput](t)(c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: out.ImageBuildVersionArn})).Image
	if img.Type != types.ImageTypeDocker || aws.ToString(img.ContainerRecipe.Arn) != newer || aws.ToString(img.Version) != "2.1.0" ||
		!strings.HasSuffix(aws.ToString(img.Arn), ":image/svc/2.1.0/1") || len(img.Workflows) != 1 || aws.ToString(img.ExecutionRole) != "ib-role" ||
		aws.ToString(img.ImageScanningConfiguration.EcrConfiguration.RepositoryName) != "scans" {
		t.Errorf("container image = %+v", img)
	}
}

func TestImageListing(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	in := plNewInputs(t, a, c)
	r2 := plImageRecipe(t, a, accountA, "web", "1.1.0")
	var arns []string
	for _, r := range []string{in.recipe, in.recipe, r2, in.container} {
		ci := &ib.CreateImageInput{InfrastructureConfigurationArn: &in.infra}
		if strings.Contains(r, "container-recipe") {
			ci.ContainerRecipeArn = aws.String(r)
		} else {
			ci.ImageRecipeArn = aws.String(r)
		}
		arns = append(arns, aws.ToString(must[*ib.CreateImageOutput](t)(c.CreateImage(ctx, ci)).ImageBuildVersionArn))
	}
	list := func(in *ib.ListImagesInput) []string {
		var out []string
		for {
			page := must[*ib.ListImagesOutput](t)(c.ListImages(ctx, in))
			for _, v := range page.ImageVersionList {
				out = append(out, aws.ToString(v.Name)+"/"+aws.ToString(v.Version))
			}
			if page.NextToken == nil {
				return out
			}
			in.NextToken = page.NextToken
		}
	}
	f := func(name string, v ...string) []types.Filter {
		return []types.Filter{{Name: aws.String(name), Values: v}}
	}
	tests := []struct {
		name string
		in   *ib.ListImagesInput
		want string
	}{
		{"all versions", &ib.ListImagesInput{}, "svc/2.0.0 web/1.0.0 web/1.1.0"},
		{"paged", &ib.ListImagesInput{MaxResults: aws.Int32(1)}, "svc/2.0.0 web/1.0.0 web/1.1.0"},
		{"by name", &ib.ListImagesInput{ByName: true}, "svc/2.0.0 web/1.1.0"},
		{"type", &ib.ListImagesInput{Filters: f("type", "DOCKER")}, "svc/2.0.0"},
		{"name", &ib.ListImagesInput{Filters: f("name", "web")}, "web/1.0.0 web/1.1.0"},
		{"version", &ib.ListImagesInput{Filters: f("version", "1.1.0", "2.0.0")}, "svc/2.0.0 web/1.1.0"},
		{"platform", &ib.ListImagesInput{Filters: f("platform", "Windows")}, ""},
		{"amazon", &ib.ListImagesInput{Owner: types.OwnershipAmazon}, ""},
	}
	for _, tt := range tests {
		if got := strings.Join(list(tt.in), " "); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	_, err := c.ListImages(ctx, &ib.ListImagesInput{Filters: f("description", "x")})
	wantCode(t, err, "InvalidRequestException")

	// Deprecated images are hidden unless asked for.
	imSetStatus(t, a, arns[3], gen.ImageStatusDEPRECATED)
	if got := strings.Join(list(&ib.ListImagesInput{}), " "); got != "web/1.0.0 web/1.1.0" {
		t.Errorf("without deprecated: %q", got)
	}
	if got := strings.Join(list(&ib.ListImagesInput{IncludeDeprecated: aws.Bool(true)}), " "); got != "svc/2.0.0 web/1.0.0 web/1.1.0" {
		t.Errorf("with deprecated: %q", got)
	}

	// ListImageBuildVersions without a version lists every build.
	b := must[*ib.ListImageBuildVersionsOutput](t)(c.ListImageBuildVersions(ctx, &ib.ListImageBuildVersionsInput{Filters: f("name", "web")}))
	if len(b.ImageSummaryList) != 3 {
		t.Errorf("web builds: %d", len(b.ImageSummaryList))
	}
	_, err = c.ListImageBuildVersions(ctx, &ib.ListImageBuildVersionsInput{ImageVersionArn: aws.String(arns[0])})
	wantCode(t, err, "InvalidRequestException")
}

func TestImageSharing(t *testing.T) {
	a := startServer(t)
	ca, cb := client(a, "test", "test"), client(a, "other", "othersecret")
	ctx := context.Background()
	in := plNewInputs(t, a, ca)
	arn := must[*ib.CreateImageOutput](t)(ca.CreateImage(ctx, &ib.CreateImageInput{ImageRecipeArn: &in.recipe, InfrastructureConfigurationArn: &in.infra})).ImageBuildVersionArn

	_, err := cb.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: arn})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = cb.DeleteImage(ctx, &ib.DeleteImageInput{ImageBuildVersionArn: arn})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = cb.ListImagePackages(ctx, &ib.ListImagePackagesInput{ImageBuildVersionArn: arn})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = ca.GetImagePolicy(ctx, &ib.GetImagePolicyInput{ImageArn: arn})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = ca.PutImagePolicy(ctx, &ib.PutImagePolicyInput{ImageArn: arn, Policy: aws.String(`{"no": "statement"}`)})
	wantCode(t, err, "InvalidParameterValueException")
	_, err = cb.PutImagePolicy(ctx, &ib.PutImagePolicyInput{ImageArn: arn, Policy: aws.String(`{"Statement": []}`)})
	wantCode(t, err, "ResourceNotFoundException")

	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["` + accountB + `"]},"Action":["imagebuilder:GetImage","imagebuilder:ListImages"]}]}`
	must[*ib.PutImagePolicyOutput](t)(ca.PutImagePolicy(ctx, &ib.PutImagePolicyInput{ImageArn: arn, Policy: &policy}))
	if got := must[*ib.GetImagePolicyOutput](t)(ca.GetImagePolicy(ctx, &ib.GetImagePolicyInput{ImageArn: arn})); aws.ToString(got.Policy) != policy {
		t.Errorf("policy = %s", aws.ToString(got.Policy))
	}
	img := must[*ib.GetImageOutput](t)(cb.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: arn})).Image
	if aws.ToString(img.Arn) != aws.ToString(arn) {
		t.Errorf("B reads %s", aws.ToString(img.Arn))
	}
	shared := must[*ib.ListImagesOutput](t)(cb.ListImages(ctx, &ib.ListImagesInput{Owner: types.OwnershipShared}))
	if len(shared.ImageVersionList) != 1 || aws.ToString(shared.ImageVersionList[0].Owner) != accountA {
		t.Errorf("B's shared images: %+v", shared.ImageVersionList)
	}
	if own := must[*ib.ListImagesOutput](t)(cb.ListImages(ctx, &ib.ListImagesInput{})); len(own.ImageVersionList) != 0 {
		t.Errorf("B's own images: %+v", own.ImageVersionList)
	}
	// Shared is read-only.
	_, err = cb.DeleteImage(ctx, &ib.DeleteImageInput{ImageBuildVersionArn: arn})
	if err == nil {
		t.Fatal("B deleted A's shared image")
	}
}

func TestImageImports(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	infra := plInfra(t, c, "import-infra")

	vm := must[*ib.ImportVmImageOutput](t)(c.ImportVmImage(ctx, &ib.ImportVmImageInput{
		Name: aws.String("Legacy App"), SemanticVersion: aws.String("1.2.3"), Platform: types.PlatformLinux,
		OsVersion: aws.String("Ubuntu 22"), VmImportTaskId: aws.String("import-ami-0123456789abcdef0"),
		Description: aws.String("from the old DC"), Tags: map[string]string{"origin": "vmware"},
	}))
	if want := "arn:aws:imagebuilder:us-east-1:" + accountA + ":image/legacy-app/1.2.3/1"; aws.ToString(vm.ImageArn) != want {
		t.Fatalf("ImportVmImage arn = %s, want %s", aws.ToString(vm.ImageArn), want)
	}
	img := must[*ib.GetImageOutput](t)(c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: vm.ImageArn})).Image
	if img.BuildType != types.BuildTypeImport || img.ImageSource != types.ImageSourceImported || img.State.Status != types.ImageStatusPending ||
		img.OutputResources != nil || aws.ToString(img.OsVersion) != "Ubuntu 22" || img.Tags["origin"] != "vmware" || aws.ToString(img.Name) != "Legacy App" {
		t.Errorf("imported VM image = %+v", img)
	}

	disk := must[*ib.ImportDiskImageOutput](t)(c.ImportDiskImage(ctx, &ib.ImportDiskImageInput{
		Name: aws.String("win11"), SemanticVersion: aws.String("1.0.0"), Platform: aws.String("Windows"),
		OsVersion: aws.String("Microsoft Windows 11"), InfrastructureConfigurationArn: &infra,
		Uri: aws.String("s3://isos/win11.iso"), WindowsConfiguration: &types.WindowsConfiguration{ImageIndex: aws.Int64(3)},
	}))
	img = must[*ib.GetImageOutput](t)(c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: disk.ImageBuildVersionArn})).Image
	if img.BuildType != types.BuildTypeImportIso || img.Platform != types.PlatformWindows || img.State.Status != types.ImageStatusPending ||
		aws.ToString(img.InfrastructureConfiguration.Arn) != infra {
		t.Errorf("imported disk image = %+v", img)
	}
	_, err := c.DeleteInfrastructureConfiguration(ctx, &ib.DeleteInfrastructureConfigurationInput{InfrastructureConfigurationArn: &infra})
	wantCode(t, err, "ResourceDependencyException")

	vmTests := []struct {
		name string
		in   ib.ImportVmImageInput
		msg  string
	}{
		{"bad task", ib.ImportVmImageInput{Name: aws.String("x-y"), SemanticVersion: aws.String("1.0.0"), Platform: types.PlatformLinux,
			VmImportTaskId: aws.String("ami-0123456789abcdef0")}, "vmImportTaskId"},
		{"bad version", ib.ImportVmImageInput{Name: aws.String("x-y"), SemanticVersion: aws.String("1.0"), Platform: types.PlatformLinux,
			VmImportTaskId: aws.String("import-ami-0123456789abcdef0")}, "semanticVersion"},
		{"bad name", ib.ImportVmImageInput{Name: aws.String("a.b"), SemanticVersion: aws.String("1.0.0"), Platform: types.PlatformLinux,
			VmImportTaskId: aws.String("import-ami-0123456789abcdef0")}, "name"},
	}
	for _, tt := range vmTests {
		_, err := c.ImportVmImage(ctx, &tt.in)
		wantCode(t, err, "ClientException")
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	diskTests := []struct {
		name string
		mod  func(*ib.ImportDiskImageInput)
		msg  string
	}{
		{"bad uri", func(in *ib.ImportDiskImageInput) { in.Uri = aws.String("https://example.com/x.iso") }, "uri"},
		{"bad platform", func(in *ib.ImportDiskImageInput) { in.Platform = aws.String("Plan9") }, "platform"},
		{"windows config on linux", func(in *ib.ImportDiskImageInput) {
			in.Platform = aws.String("Linux")
			in.WindowsConfiguration = &types.WindowsConfiguration{ImageIndex: aws.Int64(1)}
		}, "windowsConfiguration"},
		{"unknown infrastructure", func(in *ib.ImportDiskImageInput) { in.InfrastructureConfigurationArn = aws.String(infra + "-x") }, "infrastructureConfigurationArn"},
	}
	for _, tt := range diskTests {
		in := &ib.ImportDiskImageInput{Name: aws.String("disk"), SemanticVersion: aws.String("1.0.0"), Platform: aws.String("Windows"),
			OsVersion: aws.String("Microsoft Windows 11"), InfrastructureConfigurationArn: &infra, Uri: aws.String("s3://isos/win11.iso")}
		tt.mod(in)
		_, err := c.ImportDiskImage(ctx, in)
		wantCode(t, err, "ClientException")
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestImageCLI(t *testing.T) {
	awsBin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not on PATH")
	}
	a := startServer(t)
	c := client(a, "test", "test")
	in := plNewInputs(t, a, c)
	run := awsCLI(t, a, awsBin)

	out, stderr, err := run("create-image", "--image-recipe-arn", in.recipe, "--infrastructure-configuration-arn", in.infra,
		"--distribution-configuration-arn", in.dist, "--tags", "k=v")
	if err != nil {
		t.Fatalf("create-image: %v\n%s", err, stderr)
	}
	arn, _ := out["imageBuildVersionArn"].(string)
	out, stderr, err = run("get-image", "--image-build-version-arn", arn)
	if err != nil {
		t.Fatalf("get-image: %v\n%s", err, stderr)
	}
	img, _ := out["image"].(map[string]any)
	state, _ := img["state"].(map[string]any)
	if img["arn"] != arn || state["status"] != "PENDING" || img["imageRecipe"] == nil {
		t.Errorf("get-image: %v", out)
	}
	out, stderr, err = run("list-images")
	if err != nil {
		t.Fatalf("list-images: %v\n%s", err, stderr)
	}
	if l, _ := out["imageVersionList"].([]any); len(l) != 1 {
		t.Errorf("list-images: %v", out)
	}
	out, stderr, err = run("list-image-build-versions", "--image-version-arn", strings.TrimSuffix(arn, "/1"))
	if err != nil {
		t.Fatalf("list-image-build-versions: %v\n%s", err, stderr)
	}
	if l, _ := out["imageSummaryList"].([]any); len(l) != 1 {
		t.Errorf("list-image-build-versions: %v", out)
	}
	if _, stderr, err = run("delete-image", "--image-build-version-arn", arn); err != nil {
		t.Fatalf("delete-image: %v\n%s", err, stderr)
	}
	if _, stderr, err = run("get-image", "--image-build-version-arn", arn); err == nil || !strings.Contains(stderr, "ResourceNotFoundException") {
		t.Errorf("get-image after delete: %v %s", err, stderr)
	}
}

// TestImageFromCreatedRecipes builds from recipes made through the API (not
// fixtures): the snapshot is the recipe as GetImageRecipe shows it, and the
// recipes cannot be deleted while a pipeline or an image uses them.
func TestImageFromCreatedRecipes(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	comp := aws.ToString(createComponent(t, c, "hello", "1.0.0", helloDoc).ComponentBuildVersionArn)
	parent := "arn:aws:imagebuilder:us-east-1:aws:image/amazon-linux-2023-x86/x.x.x"
	recipe := aws.ToString(must[*ib.CreateImageRecipeOutput](t)(c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{
		Name: aws.String("Real Recipe"), SemanticVersion: aws.String("1.0.0"), ParentImage: aws.String(parent),
		Description: aws.String("made by the API"), Components: []types.ComponentConfiguration{{ComponentArn: aws.String(comp),
			Parameters: []types.ComponentParameter{{Name: aws.String("Greeting"), Value: []string{"hi"}}}}},
		Tags: map[string]string{"r": "1"},
	})).ImageRecipeArn)
	container := aws.ToString(must[*ib.CreateContainerRecipeOutput](t)(c.CreateContainerRecipe(ctx, &ib.CreateContainerRecipeInput{
		Name: aws.String("real-container"), SemanticVersion: aws.String("1.0.0"), ContainerType: types.ContainerTypeDocker,
		ParentImage: aws.String("amazonlinux:2023"), Components: []types.ComponentConfiguration{{ComponentArn: aws.String(comp)}},
		DockerfileTemplateData: aws.String("FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:environments }}}\n{{{ imagebuilder:components }}}\n"),
		TargetRepository:       &types.TargetContainerRepository{Service: types.ContainerRepositoryServiceEcr, RepositoryName: aws.String("real")},
	})).ContainerRecipeArn)
	infra := plInfra(t, c, "real-infra")

	pipe := must[*ib.CreateImagePipelineOutput](t)(c.CreateImagePipeline(ctx, &ib.CreateImagePipelineInput{Name: aws.String("real-pipe"),
		ImageRecipeArn: aws.String(recipe), InfrastructureConfigurationArn: aws.String(infra)})).ImagePipelineArn
	imgArn := must[*ib.StartImagePipelineExecutionOutput](t)(c.StartImagePipelineExecution(ctx, &ib.StartImagePipelineExecutionInput{ImagePipelineArn: pipe})).ImageBuildVersionArn
	if want := "arn:aws:imagebuilder:us-east-1:" + accountA + ":image/real-recipe/1.0.0/1"; aws.ToString(imgArn) != want {
		t.Fatalf("image = %s, want %s", aws.ToString(imgArn), want)
	}
	cimg := must[*ib.CreateImageOutput](t)(c.CreateImage(ctx, &ib.CreateImageInput{ContainerRecipeArn: aws.String(container),
		InfrastructureConfigurationArn: aws.String(infra)})).ImageBuildVersionArn

	got := must[*ib.GetImageOutput](t)(c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: imgArn})).Image.ImageRecipe
	want := must[*ib.GetImageRecipeOutput](t)(c.GetImageRecipe(ctx, &ib.GetImageRecipeInput{ImageRecipeArn: aws.String(recipe)})).ImageRecipe
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("snapshot differs from GetImageRecipe:\n got %s\nwant %s", gj, wj)
	}
	cs := must[*ib.GetImageOutput](t)(c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: cimg})).Image
	if cs.ContainerRecipe == nil || aws.ToString(cs.ContainerRecipe.Arn) != container || cs.Type != types.ImageTypeDocker {
		t.Errorf("container snapshot = %+v", cs.ContainerRecipe)
	}

	_, err := c.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: aws.String(recipe)})
	wantCode(t, err, "ResourceDependencyException")
	must[*ib.DeleteImagePipelineOutput](t)(c.DeleteImagePipeline(ctx, &ib.DeleteImagePipelineInput{ImagePipelineArn: pipe}))
	_, err = c.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: aws.String(recipe)})
	wantCode(t, err, "ResourceDependencyException") // the image still uses it
	must[*ib.DeleteImageOutput](t)(c.DeleteImage(ctx, &ib.DeleteImageInput{ImageBuildVersionArn: imgArn}))
	must[*ib.DeleteImageRecipeOutput](t)(c.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: aws.String(recipe)}))
	_, err = c.DeleteContainerRecipe(ctx, &ib.DeleteContainerRecipeInput{ContainerRecipeArn: aws.String(container)})
	wantCode(t, err, "ResourceDependencyException")
	must[*ib.DeleteImageOutput](t)(c.DeleteImage(ctx, &ib.DeleteImageInput{ImageBuildVersionArn: cimg}))
	must[*ib.DeleteContainerRecipeOutput](t)(c.DeleteContainerRecipe(ctx, &ib.DeleteContainerRecipeInput{ContainerRecipeArn: aws.String(container)}))
}

// TestImageIdempotency: a repeated clientToken returns the first build
// instead of queueing another one.
func TestImageIdempotency(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	in := plNewInputs(t, a, c)
	create := &ib.CreateImageInput{ImageRecipeArn: &in.recipe, InfrastructureConfigurationArn: &in.infra, ClientToken: aws.String("token-1")}
	first := must[*ib.CreateImageOutput](t)(c.CreateImage(ctx, create))
	again := must[*ib.CreateImageOutput](t)(c.CreateImage(ctx, create))
	if aws.ToString(first.ImageBuildVersionArn) != aws.ToString(again.ImageBuildVersionArn) || aws.ToString(again.ClientToken) != "token-1" {
		t.Errorf("repeat = %s, first %s", aws.ToString(again.ImageBuildVersionArn), aws.ToString(first.ImageBuildVersionArn))
	}
	create.DistributionConfigurationArn = &in.dist
	_, err := c.CreateImage(ctx, create)
	wantCode(t, err, "IdempotentParameterMismatchException")

	pipe := must[*ib.CreateImagePipelineOutput](t)(c.CreateImagePipeline(ctx, &ib.CreateImagePipelineInput{Name: aws.String("idem"),
		ImageRecipeArn: &in.recipe, InfrastructureConfigurationArn: &in.infra})).ImagePipelineArn
	start := &ib.StartImagePipelineExecutionInput{ImagePipelineArn: pipe, ClientToken: aws.String("run-1")}
	r1 := must[*ib.StartImagePipelineExecutionOutput](t)(c.StartImagePipelineExecution(ctx, start))
	r2 := must[*ib.StartImagePipelineExecutionOutput](t)(c.StartImagePipelineExecution(ctx, start))
	if aws.ToString(r1.ImageBuildVersionArn) != aws.ToString(r2.ImageBuildVersionArn) {
		t.Errorf("repeated start queued %s and %s", aws.ToString(r1.ImageBuildVersionArn), aws.ToString(r2.ImageBuildVersionArn))
	}
	l := must[*ib.ListImageBuildVersionsOutput](t)(c.ListImageBuildVersions(ctx, &ib.ListImageBuildVersionsInput{}))
	if len(l.ImageSummaryList) != 2 {
		t.Errorf("%d builds, want 2", len(l.ImageSummaryList))
	}
}

// TestImageConcurrentBuilds: simultaneous builds of one recipe version get
// distinct, consecutive build numbers.
func TestImageConcurrentBuilds(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *App) {
		c := client(a, "test", "test")
		ctx := context.Background()
		in := plNewInputs(t, a, c)
		const n = 8
		arns := make(chan string, n)
		errs := make(chan error, n)
		for range n {
			go func() {
				out, err := c.CreateImage(ctx, &ib.CreateImageInput{ImageRecipeArn: &in.recipe, InfrastructureConfigurationArn: &in.infra})
				if err != nil {
					errs <- err
					return
				}
				arns <- aws.ToString(out.ImageBuildVersionArn)
			}()
		}
		seen := map[string]bool{}
		for range n {
			select {
			case err := <-errs:
				t.Fatal(err)
			case arn := <-arns:
				seen[arn] = true
			}
		}
		for i := 1; i <= n; i++ {
			if arn := strings.TrimSuffix(in.recipe, "image-recipe/web/1.0.0") + "image/web/1.0.0/" + fmt.Sprint(i); !seen[arn] {
				t.Errorf("build %d missing: %v", i, seen)
			}
		}
	})
}
