package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// ---- fixtures shared by the pipeline and image tests ----

const plRegion = "us-east-1"

// plPut stores a resource of another part directly (recipes and
// workflows as their generated output structs), so the pipeline and image
// tests do not depend on those parts' validation rules.
func plPut(t *testing.T, a *App, kind, account, name, version string, build int, body any, policy string) string {
	t.Helper()
	arn := fmt.Sprintf("arn:aws:imagebuilder:%s:%s:%s/%s", plRegion, account, kind, name)
	if version != "" {
		arn += "/" + version
	}
	if build > 0 {
		arn += fmt.Sprintf("/%d", build)
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	err = a.st.Update(context.Background(), func(tx store.Tx) error {
		return tx.Insert(context.Background(), &store.Resource{ARN: arn, Kind: kind, Account: account, Name: name,
			Version: version, Build: build, Created: now, Updated: now, Body: b, Policy: policy})
	})
	if err != nil {
		t.Fatalf("storing %s: %v", arn, err)
	}
	return arn
}

func plImageRecipe(t *testing.T, a *App, account, name, version string) string {
	t.Helper()
	return plPut(t, a, "image-recipe", account, name, version, 0, gen.ImageRecipe{
		Name: name, Version: version, Platform: gen.PlatformLinux, Owner: account, Type: gen.ImageTypeAMI,
		Description: "recipe " + name, ParentImage: "arn:aws:imagebuilder:us-east-1:aws:image/amazon-linux-2023-x86/x.x.x",
		Components: []gen.ComponentConfiguration{{ComponentArn: "arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x"}},
	}, "")
}

func plContainerRecipe(t *testing.T, a *App, account, name, version string) string {
	t.Helper()
	return plPut(t, a, "container-recipe", account, name, version, 0, gen.ContainerRecipe{
		Name: name, Version: version, Platform: gen.PlatformLinux, Owner: account, ContainerType: gen.ContainerTypeDOCKER,
		ParentImage: "amazonlinux:2023", DockerfileTemplateData: "FROM {{{ imagebuilder:parentImage }}}\n",
		TargetRepository: &gen.TargetContainerRepository{Service: gen.ContainerRepositoryServiceECR, RepositoryName: "repo"},
	}, "")
}

func plWorkflow(t *testing.T, a *App, account, typ, name string, params ...gen.WorkflowParameterDetail) string {
	t.Helper()
	arn := plPut(t, a, "workflow/"+strings.ToLower(typ), account, name, "1.0.0", 1, gen.Workflow{
		Name: name, Version: "1.0.0", Type: gen.WorkflowType(typ), Owner: account, Parameters: params,
		Data: "schemaVersion: 1.0\nsteps: []\n",
	}, "")
	return strings.TrimSuffix(arn, "/1.0.0/1") + "/x.x.x"
}

func plInfra(t *testing.T, c *ib.Client, name string) string {
	t.Helper()
	out, err := c.CreateInfrastructureConfiguration(context.Background(), &ib.CreateInfrastructureConfigurationInput{
		Name: aws.String(name), InstanceProfileName: aws.String("builder"), Description: aws.String("first"),
		InstanceTypes: []string{"t3.micro"},
	})
	if err != nil {
		t.Fatalf("CreateInfrastructureConfiguration %s: %v", name, err)
	}
	return aws.ToString(out.InfrastructureConfigurationArn)
}

func plDist(t *testing.T, c *ib.Client, name string) string {
	t.Helper()
	out, err := c.CreateDistributionConfiguration(context.Background(), &ib.CreateDistributionConfigurationInput{
		Name: aws.String(name),
		Distributions: []types.Distribution{{Region: aws.String(plRegion), AmiDistributionConfiguration: &types.AmiDistributionConfiguration{
			Name: aws.String("out-{{ imagebuilder:buildDate }}")}}},
	})
	if err != nil {
		t.Fatalf("CreateDistributionConfiguration %s: %v", name, err)
	}
	return aws.ToString(out.DistributionConfigurationArn)
}

// plInputs are the recipe and configurations most tests build from.
type plInputs struct{ recipe, container, infra, dist string }

func plNewInputs(t *testing.T, a *App, c *ib.Client) plInputs {
	t.Helper()
	return plInputs{
		recipe:    plImageRecipe(t, a, accountA, "web", "1.0.0"),
		container: plContainerRecipe(t, a, accountA, "svc", "2.0.0"),
		infra:     plInfra(t, c, "Build Infra"),
		dist:      plDist(t, c, "everywhere"),
	}
}

// ---- pipelines ----

func TestPipelineLifecycle(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *App) {
		c := client(a, "test", "test")
		ctx := context.Background()
		in := plNewInputs(t, a, c)

		out, err := c.CreateImagePipeline(ctx, &ib.CreateImagePipelineInput{
			Name: aws.String("Nightly Web"), Description: aws.String("nightly"), ImageRecipeArn: aws.String(in.recipe),
			InfrastructureConfigurationArn: aws.String(in.infra), DistributionConfigurationArn: aws.String(in.dist),
			Schedule:             &types.Schedule{ScheduleExpression: aws.String("cron(0 8 * * ? *)"), Timezone: aws.String("Europe/Berlin")},
			Tags:                 map[string]string{"team": "web"},
			ImageTags:            map[string]string{"built-by": "pipeline"},
			LoggingConfiguration: &types.PipelineLoggingConfiguration{ImageLogGroupName: aws.String("/img"), PipelineLogGroupName: aws.String("/pipe")},
		})
		if err != nil {
			t.Fatal(err)
		}
		arn := aws.ToString(out.ImagePipelineArn)
		if want := "arn:aws:imagebuilder:us-east-1:" + accountA + ":image-pipeline/nightly-web"; arn != want {
			t.Fatalf("arn = %s, want %s", arn, want)
		}
		if aws.ToString(out.ClientToken) == "" {
			t.Error("clientToken not echoed")
		}

		p := must[*ib.GetImagePipelineOutput](t)(c.GetImagePipeline(ctx, &ib.GetImagePipelineInput{ImagePipelineArn: &arn})).ImagePipeline
		if aws.ToString(p.Name) != "Nightly Web" || p.Platform != types.PlatformLinux || p.Status != types.PipelineStatusEnabled ||
			aws.ToString(p.ImageRecipeArn) != in.recipe || aws.ToString(p.InfrastructureConfigurationArn) != in.infra ||
			aws.ToString(p.DistributionConfigurationArn) != in.dist || p.Tags["team"] != "web" || p.ImageTags["built-by"] != "pipeline" {
			t.Fatalf("pipeline = %+v", p)
		}
		if p.Schedule.PipelineExecutionStartCondition != types.PipelineExecutionStartConditionExpressionMatchAndDependencyUpdatesAvailable {
			t.Errorf("start condition = %q", p.Schedule.PipelineExecutionStartCondition)
		}
		if !aws.ToBool(p.ImageTestsConfiguration.ImageTestsEnabled) || aws.ToInt32(p.ImageTestsConfiguration.TimeoutMinutes) != 720 || !aws.ToBool(p.EnhancedImageMetadataEnabled) {
			t.Errorf("defaults: tests %+v, enhanced %v", p.ImageTestsConfiguration, p.EnhancedImageMetadataEnabled)
		}
		for _, d := range []*string{p.DateCreated, p.DateUpdated, p.DateNextRun} {
			if !isoMillis.MatchString(aws.ToString(d)) {
				t.Errorf("date %q is not ISO-8601 with milliseconds", aws.ToString(d))
			}
		}
		next, _ := time.Parse(time.RFC3339, aws.ToString(p.DateNextRun))
		berlin, _ := time.LoadLocation("Europe/Berlin")
		if nb := next.In(berlin); nb.Hour() != 8 || nb.Minute() != 0 || !next.After(time.Now()) || next.After(time.Now().Add(25*time.Hour)) {
			t.Errorf("dateNextRun = %s (%s in Berlin)", next, nb)
		}
		if aws.ToString(p.DateLastRun) != "" || p.LastRunStatus != "" {
			t.Errorf("a pipeline that never ran has dateLastRun %q, lastRunStatus %q", aws.ToString(p.DateLastRun), p.LastRunStatus)
		}

		_, err = c.CreateImagePipeline(ctx, &ib.CreateImagePipelineInput{Name: aws.String("nightly web"),
			ImageRecipeArn: aws.String(in.recipe), InfrastructureConfigurationArn: aws.String(in.infra)})
		wantCode(t, err, "ResourceAlreadyExistsException")

		// A second pipeline, on the container recipe, with a rate schedule.
		arn2 := aws.ToString(must[*ib.CreateImagePipelineOutput](t)(c.CreateImagePipeline(ctx, &ib.CreateImagePipelineInput{
			Name: aws.String("svc"), ContainerRecipeArn: aws.String(in.container), InfrastructureConfigurationArn: aws.String(in.infra),
			Schedule: &types.Schedule{ScheduleExpression: aws.String("rate(6 hours)"),
				PipelineExecutionStartCondition: types.PipelineExecutionStartConditionExpressionMatchOnly},
			Status: types.PipelineStatusDisabled,
		})).ImagePipelineArn)
		p2 := must[*ib.GetImagePipelineOutput](t)(c.GetImagePipeline(ctx, &ib.GetImagePipelineInput{ImagePipelineArn: &arn2})).ImagePipeline
		if p2.DateNextRun != nil || p2.Status != types.PipelineStatusDisabled || aws.ToString(p2.ContainerRecipeArn) != in.container {
			t.Errorf("disabled pipeline: %+v", p2)
		}

		// List: filters and pagination.
		var names []string
		var token *string
		for {
			page := must[*ib.ListImagePipelinesOutput](t)(c.ListImagePipelines(ctx, &ib.ListImagePipelinesInput{MaxResults: aws.Int32(1), NextToken: token}))
			if len(page.ImagePipelineList) > 1 {
				t.Fatalf("page of %d", len(page.ImagePipelineList))
			}
			for _, p := range page.ImagePipelineList {
				names = append(names, aws.ToString(p.Name))
			}
			if token = page.NextToken; token == nil {
				break
			}
		}
		if strings.Join(names, ",") != "Nightly Web,svc" {
			t.Errorf("paged list = %v", names)
		}
		for _, f := range []struct {
			name   string
			values []string
			want   int
		}{
			{"status", []string{"DISABLED"}, 1},
			{"imageRecipeArn", []string{in.recipe}, 1},
			{"infrastructureConfigurationArn", []string{in.infra}, 2},
			{"name", []string{"Nightly Web", "svc"}, 2},
			{"description", []string{"nope"}, 0},
		} {
			l := must[*ib.ListImagePipelinesOutput](t)(c.ListImagePipelines(ctx, &ib.ListImagePipelinesInput{
				Filters: []types.Filter{{Name: aws.String(f.name), Values: f.values}}}))
			if len(l.ImagePipelineList) != f.want {
				t.Errorf("filter %s=%v: %d pipelines, want %d", f.name, f.values, len(l.ImagePipelineList), f.want)
			}
		}
		_, err = c.ListImagePipelines(ctx, &ib.ListImagePipelinesInput{Filters: []types.Filter{{Name: aws.String("platform"), Values: []string{"Linux"}}}})
		wantCode(t, err, "InvalidRequestException")

		// Update replaces the settings: disabled, rate schedule, no distribution.
		must[*ib.UpdateImagePipelineOutput](t)(c.UpdateImagePipeline(ctx, &ib.UpdateImagePipelineInput{
			ImagePipelineArn: &arn, ImageRecipeArn: aws.String(in.recipe), InfrastructureConfigurationArn: aws.String(in.infra),
			Description: aws.String("hourly"), Schedule: &types.Schedule{ScheduleExpression: aws.String("rate(1 hour)")},
		}))
		p = must[*ib.GetImagePipelineOutput](t)(c.GetImagePipeline(ctx, &ib.GetImagePipelineInput{ImagePipelineArn: &arn})).ImagePipeline
		if aws.ToString(p.Description) != "hourly" || p.DistributionConfigurationArn != nil || p.Tags["team"] != "web" || p.LoggingConfiguration != nil {
			t.Errorf("after update: %+v", p)
		}
		updated, _ := time.Parse(time.RFC3339, aws.ToString(p.DateUpdated))
		next, _ = time.Parse(time.RFC3339, aws.ToString(p.DateNextRun))
		if !next.Equal(updated.Add(time.Hour)) {
			t.Errorf("rate(1 hour): dateNextRun %s, dateUpdated %s", next, updated)
		}
		_, err = c.UpdateImagePipeline(ctx, &ib.UpdateImagePipelineInput{ImagePipelineArn: aws.String(arn + "-nope"),
			ImageRecipeArn: aws.String(in.recipe), InfrastructureConfigurationArn: aws.String(in.infra)})
		wantCode(t, err, "ResourceNotFoundException")

		// The distribution configuration is free again; the infrastructure is not.
		must[*ib.DeleteDistributionConfigurationOutput](t)(c.DeleteDistributionConfiguration(ctx, &ib.DeleteDistributionConfigurationInput{DistributionConfigurationArn: &in.dist}))
		_, err = c.DeleteInfrastructureConfiguration(ctx, &ib.DeleteInfrastructureConfigurationInput{InfrastructureConfigurationArn: &in.infra})
		wantCode(t, err, "ResourceDependencyException")
		if !strings.Contains(err.Error(), arn) {
			t.Errorf("dependency error does not name the pipeline: %v", err)
		}

		must[*ib.DeleteImagePipelineOutput](t)(c.DeleteImagePipeline(ctx, &ib.DeleteImagePipelineInput{ImagePipelineArn: &arn}))
		_, err = c.GetImagePipeline(ctx, &ib.GetImagePipelineInput{ImagePipelineArn: &arn})
		wantCode(t, err, "ResourceNotFoundException")
		_, err = c.DeleteImagePipeline(ctx, &ib.DeleteImagePipelineInput{ImagePipelineArn: &arn})
		wantCode(t, err, "ResourceNotFoundException")
		must[*ib.DeleteImagePipelineOutput](t)(c.DeleteImagePipeline(ctx, &ib.DeleteImagePipelineInput{ImagePipelineArn: &arn2}))
		must[*ib.DeleteInfrastructureConfigurationOutput](t)(c.DeleteInfrastructureConfiguration(ctx, &ib.DeleteInfrastructureConfigurationInput{InfrastructureConfigurationArn: &in.infra}))
	})
}

func TestPipelineValidation(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	in := plNewInputs(t, a, c)
	build := plWorkflow(t, a, "aws", "BUILD", "build-image")
	build2 := plWorkflow(t, a, accountA, "BUILD", "my-build")
	test := plWorkflow(t, a, accountA, "TEST", "gate", gen.WorkflowParameterDetail{Name: "topic", Type: "string"})
	dist := plWorkflow(t, a, accountA, "DISTRIBUTION", "ship")
	missing := func(kind, name string) string {
		return "arn:aws:imagebuilder:us-east-1:" + accountA + ":" + kind + "/" + name
	}
	base := func(m func(*ib.CreateImagePipelineInput)) *ib.CreateImagePipelineInput {
		p := &ib.CreateImagePipelineInput{Name: aws.String("pipe"), ImageRecipeArn: aws.String(in.recipe),
			InfrastructureConfigurationArn: aws.String(in.infra)}
		m(p)
		return p
	}
	wf := func(arns ...string) []types.WorkflowConfiguration {
		var out []types.WorkflowConfiguration
		for _, a := range arns {
			out = append(out, types.WorkflowConfiguration{WorkflowArn: aws.String(a)})
		}
		return out
	}
	tests := []struct {
		name      string
		mod       func(*ib.CreateImagePipelineInput)
		code, msg string
	}{
		{"both recipes", func(p *ib.CreateImagePipelineInput) { p.ContainerRecipeArn = aws.String(in.container) }, "InvalidRequestException", "exactly one of imageRecipeArn and containerRecipeArn"},
		{"no recipe", func(p *ib.CreateImagePipelineInput) { p.ImageRecipeArn = nil }, "InvalidRequestException", "exactly one of"},
		{"unknown recipe", func(p *ib.CreateImagePipelineInput) {
			p.ImageRecipeArn = aws.String(missing("image-recipe", "nope/1.0.0"))
		}, "InvalidParameterValueException", "imageRecipeArn"},
		{"container recipe as image recipe", func(p *ib.CreateImagePipelineInput) { p.ImageRecipeArn = aws.String(in.container) }, "InvalidRequestException", ""},
		{"unknown infrastructure", func(p *ib.CreateImagePipelineInput) {
			p.InfrastructureConfigurationArn = aws.String(missing("infrastructure-configuration", "nope"))
		}, "InvalidParameterValueException", "infrastructureConfigurationArn"},
		{"unknown distribution", func(p *ib.CreateImagePipelineInput) {
			p.DistributionConfigurationArn = aws.String(missing("distribution-configuration", "nope"))
		}, "InvalidParameterValueException", "distributionConfigurationArn"},
		{"bad cron", func(p *ib.CreateImagePipelineInput) {
			p.Schedule = &types.Schedule{ScheduleExpression: aws.String("cron(0 8 * * * *)")}
		}, "InvalidParameterValueException", "one of them must be '?'"},
		{"cron with five fields", func(p *ib.CreateImagePipelineInput) {
			p.Schedule = &types.Schedule{ScheduleExpression: aws.String("cron(0 8 * * ?)")}
		}, "InvalidParameterValueException", "exactly 6 fields"},
		{"rate plural", func(p *ib.CreateImagePipelineInput) {
			p.Schedule = &types.Schedule{ScheduleExpression: aws.String("rate(1 hours)")}
		}, "InvalidParameterValueException", "singular"},
		{"unknown timezone", func(p *ib.CreateImagePipelineInput) {
			p.Schedule = &types.Schedule{ScheduleExpression: aws.String("rate(2 hours)"), Timezone: aws.String("Mars/Olympus")}
		}, "InvalidParameterValueException", "schedule.timezone"},
		{"workflows without role", func(p *ib.CreateImagePipelineInput) { p.Workflows = wf(build) }, "InvalidRequestException", "executionRole"},
		{"two build workflows", func(p *ib.CreateImagePipelineInput) {
			p.Workflows, p.ExecutionRole = wf(build, build2), aws.String("role")
		}, "InvalidParameterValueException", "at most one BUILD"},
		{"unknown workflow", func(p *ib.CreateImagePipelineInput) {
			p.Workflows, p.ExecutionRole = wf(missing("workflow/test", "nope/x.x.x")), aws.String("role")
		}, "InvalidParameterValueException", "no such workflow"},
		{"missing workflow parameter", func(p *ib.CreateImagePipelineInput) {
			p.Workflows, p.ExecutionRole = wf(build, test), aws.String("role")
		}, "InvalidParameterValueException", `"topic" has no default`},
		{"unknown workflow parameter", func(p *ib.CreateImagePipelineInput) {
			p.Workflows, p.ExecutionRole = wf(test), aws.String("role")
			p.Workflows[0].Parameters = []types.WorkflowParameter{{Name: aws.String("topic"), Value: []string{"t"}}, {Name: aws.String("colour"), Value: []string{"red"}}}
		}, "InvalidParameterValueException", `"colour" is not declared`},
		{"ecr scanning on an AMI pipeline", func(p *ib.CreateImagePipelineInput) {
			p.ImageScanningConfiguration = &types.ImageScanningConfiguration{EcrConfiguration: &types.EcrConfiguration{RepositoryName: aws.String("r")}}
		}, "InvalidParameterValueException", "ecrConfiguration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateImagePipeline(ctx, base(tt.mod))
			wantCode(t, err, tt.code)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message does not mention %q: %v", tt.msg, err)
			}
		})
	}

	// Every workflow kind attached, with parameters and an execution role.
	out := must[*ib.CreateImagePipelineOutput](t)(c.CreateImagePipeline(ctx, base(func(p *ib.CreateImagePipelineInput) {
		p.Workflows = wf(build, test, dist)
		p.Workflows[1].Parameters = []types.WorkflowParameter{{Name: aws.String("topic"), Value: []string{"t"}}}
		p.Workflows[1].OnFailure = types.OnWorkflowFailureContinue
		p.Workflows[1].ParallelGroup = aws.String("g1")
		p.ExecutionRole = aws.String("arn:aws:iam::" + accountA + ":role/ib")
	})))
	p := must[*ib.GetImagePipelineOutput](t)(c.GetImagePipeline(ctx, &ib.GetImagePipelineInput{ImagePipelineArn: out.ImagePipelineArn})).ImagePipeline
	if len(p.Workflows) != 3 || p.Workflows[1].OnFailure != types.OnWorkflowFailureContinue || aws.ToString(p.ExecutionRole) == "" {
		t.Errorf("workflows not kept: %+v", p.Workflows)
	}
}

func TestPipelineOwnerIsolation(t *testing.T) {
	a := startServer(t)
	ca, cb := client(a, "test", "test"), client(a, "other", "othersecret")
	ctx := context.Background()
	in := plNewInputs(t, a, ca)
	arn := must[*ib.CreateImagePipelineOutput](t)(ca.CreateImagePipeline(ctx, &ib.CreateImagePipelineInput{Name: aws.String("mine"),
		ImageRecipeArn: aws.String(in.recipe), InfrastructureConfigurationArn: aws.String(in.infra)})).ImagePipelineArn

	_, err := cb.GetImagePipeline(ctx, &ib.GetImagePipelineInput{ImagePipelineArn: arn})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = cb.DeleteImagePipeline(ctx, &ib.DeleteImagePipelineInput{ImagePipelineArn: arn})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = cb.StartImagePipelineExecution(ctx, &ib.StartImagePipelineExecutionInput{ImagePipelineArn: arn})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = cb.ListImagePipelineImages(ctx, &ib.ListImagePipelineImagesInput{ImagePipelineArn: arn})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = cb.UpdateImagePipeline(ctx, &ib.UpdateImagePipelineInput{ImagePipelineArn: arn,
		ImageRecipeArn: aws.String(in.recipe), InfrastructureConfigurationArn: aws.String(in.infra)})
	wantCode(t, err, "ResourceNotFoundException")
	if l := must[*ib.ListImagePipelinesOutput](t)(cb.ListImagePipelines(ctx, &ib.ListImagePipelinesInput{})); len(l.ImagePipelineList) != 0 {
		t.Errorf("B lists A's pipelines: %+v", l.ImagePipelineList)
	}
	// B cannot build from A's recipe or infrastructure.
	infraB := plInfra(t, cb, "b-infra")
	_, err = cb.CreateImagePipeline(ctx, &ib.CreateImagePipelineInput{Name: aws.String("theirs"),
		ImageRecipeArn: aws.String(in.recipe), InfrastructureConfigurationArn: aws.String(infraB)})
	wantCode(t, err, "InvalidParameterValueException")
	recipeB := plImageRecipe(t, a, accountB, "b", "1.0.0")
	_, err = cb.CreateImagePipeline(ctx, &ib.CreateImagePipelineInput{Name: aws.String("theirs"),
		ImageRecipeArn: aws.String(recipeB), InfrastructureConfigurationArn: aws.String(in.infra)})
	wantCode(t, err, "InvalidParameterValueException")
	// Unless A shares the recipe.
	shared := plPut(t, a, "image-recipe", accountA, "shared", "1.0.0", 0, gen.ImageRecipe{Name: "shared", Version: "1.0.0", Platform: gen.PlatformLinux},
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["`+accountB+`"]},"Action":["imagebuilder:GetImageRecipe"]}]}`)
	must[*ib.CreateImagePipelineOutput](t)(cb.CreateImagePipeline(ctx, &ib.CreateImagePipelineInput{Name: aws.String("theirs"),
		ImageRecipeArn: aws.String(shared), InfrastructureConfigurationArn: aws.String(infraB)}))
}

func TestPipelineExecution(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	in := plNewInputs(t, a, c)
	arn := must[*ib.CreateImagePipelineOutput](t)(c.CreateImagePipeline(ctx, &ib.CreateImagePipelineInput{Name: aws.String("pipe"),
		ImageRecipeArn: aws.String(in.recipe), InfrastructureConfigurationArn: aws.String(in.infra),
		DistributionConfigurationArn: aws.String(in.dist), Status: types.PipelineStatusDisabled,
		ImageTags:            map[string]string{"from": "pipeline", "k": "pipeline"},
		LoggingConfiguration: &types.PipelineLoggingConfiguration{ImageLogGroupName: aws.String("/images")},
	})).ImagePipelineArn

	var builds []string
	for i := 0; i < 3; i++ {
		out := must[*ib.StartImagePipelineExecutionOutput](t)(c.StartImagePipelineExecution(ctx, &ib.StartImagePipelineExecutionInput{
			ImagePipelineArn: arn, Tags: map[string]string{"k": "run"}}))
		builds = append(builds, aws.ToString(out.ImageBuildVersionArn))
	}
	want := "arn:aws:imagebuilder:us-east-1:" + accountA + ":image/web/1.0.0/3"
	if builds[2] != want {
		t.Fatalf("third run = %s, want %s", builds[2], want)
	}
	img := must[*ib.GetImageOutput](t)(c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: &builds[0]})).Image
	if img.State.Status != types.ImageStatusPending || aws.ToString(img.SourcePipelineArn) != aws.ToString(arn) ||
		aws.ToString(img.SourcePipelineName) != "pipe" || img.Tags["from"] != "pipeline" || img.Tags["k"] != "run" ||
		aws.ToString(img.LoggingConfiguration.LogGroupName) != "/images" || img.DistributionConfiguration == nil {
		t.Errorf("image of the pipeline: %+v", img)
	}
	p := must[*ib.GetImagePipelineOutput](t)(c.GetImagePipeline(ctx, &ib.GetImagePipelineInput{ImagePipelineArn: arn})).ImagePipeline
	if p.LastRunStatus != types.ImageStatusPending || !isoMillis.MatchString(aws.ToString(p.DateLastRun)) {
		t.Errorf("pipeline after a run: lastRunStatus %q, dateLastRun %q", p.LastRunStatus, aws.ToString(p.DateLastRun))
	}

	// An image built outside the pipeline is not listed with it.
	must[*ib.CreateImageOutput](t)(c.CreateImage(ctx, &ib.CreateImageInput{ImageRecipeArn: aws.String(in.recipe), InfrastructureConfigurationArn: aws.String(in.infra)}))
	var got []string
	var token *string
	for {
		page := must[*ib.ListImagePipelineImagesOutput](t)(c.ListImagePipelineImages(ctx, &ib.ListImagePipelineImagesInput{ImagePipelineArn: arn, MaxResults: aws.Int32(1), NextToken: token}))
		for _, s := range page.ImageSummaryList {
			got = append(got, aws.ToString(s.Arn))
			if s.State.Status != types.ImageStatusPending || s.Type != types.ImageTypeAmi {
				t.Errorf("summary %+v", s)
			}
		}
		if token = page.NextToken; token == nil {
			break
		}
	}
	if strings.Join(got, " ") != strings.Join(builds, " ") {
		t.Errorf("pipeline images = %v, want %v", got, builds)
	}
	l := must[*ib.ListImagePipelineImagesOutput](t)(c.ListImagePipelineImages(ctx, &ib.ListImagePipelineImagesInput{ImagePipelineArn: arn,
		Filters: []types.Filter{{Name: aws.String("version"), Values: []string{"9.9.9"}}}}))
	if len(l.ImageSummaryList) != 0 {
		t.Errorf("version filter: %d images", len(l.ImageSummaryList))
	}
	_, err := c.ListImagePipelineImages(ctx, &ib.ListImagePipelineImagesInput{ImagePipelineArn: aws.String(aws.ToString(arn) + "-nope")})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.StartImagePipelineExecution(ctx, &ib.StartImagePipelineExecutionInput{ImagePipelineArn: aws.String(aws.ToString(arn) + "-nope")})
	wantCode(t, err, "ResourceNotFoundException")

	// The pipeline can go; its images stay.
	must[*ib.DeleteImagePipelineOutput](t)(c.DeleteImagePipeline(ctx, &ib.DeleteImagePipelineInput{ImagePipelineArn: arn}))
	must[*ib.GetImageOutput](t)(c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: &builds[1]}))
}

func TestPipelineCLI(t *testing.T) {
	awsBin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not on PATH")
	}
	a := startServer(t)
	c := client(a, "test", "test")
	in := plNewInputs(t, a, c)
	run := awsCLI(t, a, awsBin)

	out, stderr, err := run("create-image-pipeline", "--name", "cli-pipe", "--image-recipe-arn", in.recipe,
		"--infrastructure-configuration-arn", in.infra, "--schedule", "scheduleExpression=cron(0 4 ? * MON-FRI *),timezone=America/New_York")
	if err != nil {
		t.Fatalf("create-image-pipeline: %v\n%s", err, stderr)
	}
	arn, _ := out["imagePipelineArn"].(string)
	out, stderr, err = run("get-image-pipeline", "--image-pipeline-arn", arn)
	if err != nil {
		t.Fatalf("get-image-pipeline: %v\n%s", err, stderr)
	}
	p, _ := out["imagePipeline"].(map[string]any)
	if p["name"] != "cli-pipe" || p["dateNextRun"] == nil || p["status"] != "ENABLED" {
		t.Errorf("get-image-pipeline: %v", out)
	}
	out, stderr, err = run("list-image-pipelines")
	if err != nil {
		t.Fatalf("list-image-pipelines: %v\n%s", err, stderr)
	}
	if l, _ := out["imagePipelineList"].([]any); len(l) != 1 {
		t.Errorf("list-image-pipelines: %v", out)
	}
	if _, stderr, err = run("start-image-pipeline-execution", "--image-pipeline-arn", arn); err != nil {
		t.Fatalf("start-image-pipeline-execution: %v\n%s", err, stderr)
	}
	out, stderr, err = run("list-image-pipeline-images", "--image-pipeline-arn", arn)
	if err != nil {
		t.Fatalf("list-image-pipeline-images: %v\n%s", err, stderr)
	}
	if l, _ := out["imageSummaryList"].([]any); len(l) != 1 {
		t.Errorf("list-image-pipeline-images: %v", out)
	}
	if _, stderr, err = run("delete-image-pipeline", "--image-pipeline-arn", arn); err != nil {
		t.Fatalf("delete-image-pipeline: %v\n%s", err, stderr)
	}
	if _, stderr, err = run("get-image-pipeline", "--image-pipeline-arn", arn); err == nil || !strings.Contains(stderr, "ResourceNotFoundException") {
		t.Errorf("get after delete: %v %s", err, stderr)
	}
}

const plGateWorkflow = `name: gate
schemaVersion: 1.0
parameters:
  - name: topic
    type: string
steps:
  - name: LaunchTestInstance
    action: LaunchInstance
    onFailure: Abort
    inputs:
      waitFor: ssmAgent
  - name: TerminateTestInstance
    action: TerminateInstance
    onFailure: Continue
    inputs:
      instanceId.$: $.stepOutputs.LaunchTestInstance.instanceId
`

// TestPipelineWithCreatedWorkflows attaches the Amazon-managed build
// workflow and a workflow created through the API.
func TestPipelineWithCreatedWorkflows(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	in := plNewInputs(t, a, c)
	gate := aws.ToString(must[*ib.CreateWorkflowOutput](t)(c.CreateWorkflow(ctx, &ib.CreateWorkflowInput{
		Name: aws.String("gate"), SemanticVersion: aws.String("1.0.0"), Type: types.WorkflowTypeTest, Data: aws.String(plGateWorkflow),
	})).WorkflowBuildVersionArn)
	managed := "arn:aws:imagebuilder:us-east-1:aws:workflow/build/build-image/x.x.x"
	create := func(name string, params ...types.WorkflowParameter) (*ib.CreateImagePipelineOutput, error) {
		return c.CreateImagePipeline(ctx, &ib.CreateImagePipelineInput{Name: aws.String(name),
			ImageRecipeArn: aws.String(in.recipe), InfrastructureConfigurationArn: aws.String(in.infra),
			ExecutionRole: aws.String("arn:aws:iam::" + accountA + ":role/EC2ImageBuilderExecution"),
			Workflows: []types.WorkflowConfiguration{{WorkflowArn: aws.String(managed)},
				{WorkflowArn: aws.String(strings.TrimSuffix(gate, "/1")), Parameters: params}},
		})
	}
	_, err := create("no-topic")
	wantCode(t, err, "InvalidParameterValueException")
	if !strings.Contains(err.Error(), `"topic"`) {
		t.Errorf("error does not name the parameter: %v", err)
	}
	pipe := must[*ib.CreateImagePipelineOutput](t)(create("gated", types.WorkflowParameter{Name: aws.String("topic"), Value: []string{"arn:aws:sns:us-east-1:000000000000:t"}})).ImagePipelineArn
	img := must[*ib.StartImagePipelineExecutionOutput](t)(c.StartImagePipelineExecution(ctx, &ib.StartImagePipelineExecutionInput{ImagePipelineArn: pipe})).ImageBuildVersionArn
	got := must[*ib.GetImageOutput](t)(c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: img})).Image
	if len(got.Workflows) != 2 || aws.ToString(got.Workflows[0].WorkflowArn) != managed {
		t.Errorf("image workflows = %+v", got.Workflows)
	}
	_, err = c.DeleteWorkflow(ctx, &ib.DeleteWorkflowInput{WorkflowBuildVersionArn: aws.String(gate)})
	wantCode(t, err, "ResourceDependencyException")
}
