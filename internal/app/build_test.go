package app

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/goldsmith/goldsmith/internal/config"
	"github.com/goldsmith/goldsmith/internal/extclient"
	"github.com/goldsmith/goldsmith/internal/testsupport"
)

const markerComponent = `name: Marker
schemaVersion: 1.0
parameters:
  - Text:
      type: string
      default: built-by-goldsmith
phases:
  - name: build
    steps:
      - name: WriteMarker
        action: CreateFile
        inputs:
          - path: /etc/marker
            content: "{{ Text }}"
      - name: RemoveVi
        action: ExecuteBash
        inputs:
          commands:
            - rm -f /bin/vi
  - name: test
    steps:
      - name: CheckMarker
        action: ExecuteBash
        inputs:
          commands:
            - grep -q built-by-goldsmith /etc/marker
`

// TestContainerBuildEndToEnd: busybox base → component → container recipe
// → CreateImage → AVAILABLE, through the SDK; the pushed image has the
// marker and a whiteout for the removed file; the executions are reported.
func TestContainerBuildEndToEnd(t *testing.T) {
	testsupport.RequireRealBuilds(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	f := newBuildFixture(ctx, t)
	c := f.c
	recipe, infra := f.recipe(ctx, t, "e2e", markerComponent)
	created, err := c.CreateImage(ctx, &ib.CreateImageInput{ContainerRecipeArn: aws.String(recipe), InfrastructureConfigurationArn: aws.String(infra)})
	if err != nil {
		t.Fatal(err)
	}
	img := waitForImage(ctx, t, c, aws.ToString(created.ImageBuildVersionArn))
	if img.State.Status != types.ImageStatusAvailable {
		t.Fatalf("image ended %s: %s", img.State.Status, aws.ToString(img.State.Reason))
	}
	if img.OutputResources == nil || len(img.OutputResources.Containers) == 0 || len(img.OutputResources.Containers[0].ImageUris) == 0 {
		t.Fatalf("no container output: %+v", img.OutputResources)
	}
	uri := img.OutputResources.Containers[0].ImageUris[0]
	ref, err := name.ParseReference(uri, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("pull %s: %v", uri, err)
	}
	layers, _ := pulled.Layers()
	var marker string
	whiteout := false
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			switch strings.TrimPrefix(h.Name, "./") {
			case "etc/marker":
				b, _ := io.ReadAll(tr)
				marker = string(b)
			case "bin/.wh.vi":
				whiteout = true
			}
		}
		rc.Close()
	}
	if !strings.Contains(marker, "built-by-goldsmith") || !whiteout {
		t.Errorf("image content: marker %q, whiteout of /bin/vi %v", marker, whiteout)
	}

	// busybox has no package database: an empty list, not an error.
	must[*ib.ListImagePackagesOutput](t)(c.ListImagePackages(ctx, &ib.ListImagePackagesInput{ImageBuildVersionArn: created.ImageBuildVersionArn}))

	exs := must[*ib.ListWorkflowExecutionsOutput](t)(c.ListWorkflowExecutions(ctx, &ib.ListWorkflowExecutionsInput{ImageBuildVersionArn: created.ImageBuildVersionArn}))
	if len(exs.WorkflowExecutions) != 3 {
		t.Fatalf("executions = %+v", exs.WorkflowExecutions)
	}
	for _, ex := range exs.WorkflowExecutions {
		if ex.Status != types.WorkflowExecutionStatusCompleted {
			t.Errorf("execution %s %s: %s", aws.ToString(ex.WorkflowExecutionId), ex.Type, ex.Status)
		}
	}
	steps := must[*ib.ListWorkflowStepExecutionsOutput](t)(c.ListWorkflowStepExecutions(ctx, &ib.ListWorkflowStepExecutionsInput{WorkflowExecutionId: exs.WorkflowExecutions[0].WorkflowExecutionId}))
	if len(steps.Steps) == 0 {
		t.Fatal("no steps recorded")
	}
	step := must[*ib.GetWorkflowStepExecutionOutput](t)(c.GetWorkflowStepExecution(ctx, &ib.GetWorkflowStepExecutionInput{StepExecutionId: steps.Steps[0].StepExecutionId}))
	if step.Status != types.WorkflowStepExecutionStatusCompleted || aws.ToString(step.StartTime) == "" {
		t.Errorf("step = %+v", step)
	}
}

// waitForImage polls GetImage until the image reaches a final state.
func waitForImage(ctx context.Context, t *testing.T, c *ib.Client, arn string) *types.Image {
	t.Helper()
	for {
		out, err := c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		switch out.Image.State.Status {
		case types.ImageStatusAvailable, types.ImageStatusFailed, types.ImageStatusCancelled:
			return out.Image
		}
		select {
		case <-ctx.Done():
			t.Fatalf("image %s still %s: %v", arn, out.Image.State.Status, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// buildFixture is a server with the build engine on and the busybox base.
type buildFixture struct {
	a *App
	c *ib.Client
}

func newBuildFixture(ctx context.Context, t *testing.T, mutate ...func(*config.Config)) *buildFixture {
	t.Helper()
	bin := testsupport.GoldsmithBinary(t)
	a := startServer(t, append([]func(*config.Config){func(c *config.Config) { c.Build = config.Build{GoldsmithBinary: bin} }}, mutate...)...)
	ext := &extclient.Client{Endpoint: a.URL(), Region: "us-east-1", Credentials: aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}}
	if _, err := ext.BuildBaseImage(ctx, "busybox-x86-container"); err != nil {
		t.Fatal(err)
	}
	return &buildFixture{a: a, c: client(a, "test", "test")}
}

// recipe creates a component from doc, a container recipe on busybox using
// it, and an infrastructure configuration; it returns their ARNs.
func (f *buildFixture) recipe(ctx context.Context, t *testing.T, name, doc string) (string, string) {
	t.Helper()
	comp := createComponent(t, f.c, name, "1.0.0", doc).ComponentBuildVersionArn
	recipe, err := f.c.CreateContainerRecipe(ctx, &ib.CreateContainerRecipeInput{
		Name: aws.String(name), SemanticVersion: aws.String("1.0.0"), ContainerType: types.ContainerTypeDocker,
		ParentImage:            aws.String("arn:aws:imagebuilder:us-east-1:aws:image/busybox-x86-container/x.x.x"),
		Components:             []types.ComponentConfiguration{{ComponentArn: comp}},
		DockerfileTemplateData: aws.String("FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:environments }}}\n{{{ imagebuilder:components }}}\n"),
		TargetRepository:       &types.TargetContainerRepository{Service: types.ContainerRepositoryServiceEcr, RepositoryName: aws.String(name)},
	})
	if err != nil {
		t.Fatal(err)
	}
	infra, err := f.c.CreateInfrastructureConfiguration(ctx, &ib.CreateInfrastructureConfigurationInput{
		Name: aws.String(name), InstanceProfileName: aws.String("local"), InstanceTypes: []string{"local.small"}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(recipe.ContainerRecipeArn), aws.ToString(infra.InfrastructureConfigurationArn)
}

// TestContainerBuildFailureAndCancel: a failing component fails the image
// with the step named; CancelImageCreation stops a running build.
func TestContainerBuildFailureAndCancel(t *testing.T) {
	testsupport.RequireRealBuilds(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	f := newBuildFixture(ctx, t)
	c := f.c

	failing := strings.Replace(markerComponent, "rm -f /bin/vi", "exit 3", 1)
	recipe, infra := f.recipe(ctx, t, "broken", failing)
	created := must[*ib.CreateImageOutput](t)(c.CreateImage(ctx, &ib.CreateImageInput{ContainerRecipeArn: aws.String(recipe), InfrastructureConfigurationArn: aws.String(infra)}))
	img := waitForImage(ctx, t, c, aws.ToString(created.ImageBuildVersionArn))
	if img.State.Status != types.ImageStatusFailed || !strings.Contains(aws.ToString(img.State.Reason), "RemoveVi") {
		t.Fatalf("failing build ended %s: %q", img.State.Status, aws.ToString(img.State.Reason))
	}

	slow := strings.Replace(markerComponent, "rm -f /bin/vi", "sleep 60", 1)
	recipe, infra = f.recipe(ctx, t, "slow", slow)
	created = must[*ib.CreateImageOutput](t)(c.CreateImage(ctx, &ib.CreateImageInput{ContainerRecipeArn: aws.String(recipe), InfrastructureConfigurationArn: aws.String(infra)}))
	arn := created.ImageBuildVersionArn
	for {
		out := must[*ib.GetImageOutput](t)(c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: arn}))
		if out.Image.State.Status == types.ImageStatusBuilding {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // let the component start its sleep
	must[*ib.CancelImageCreationOutput](t)(c.CancelImageCreation(ctx, &ib.CancelImageCreationInput{ImageBuildVersionArn: arn}))
	img = waitForImage(ctx, t, c, aws.ToString(arn))
	if img.State.Status != types.ImageStatusCancelled {
		t.Fatalf("cancelled build ended %s: %q", img.State.Status, aws.ToString(img.State.Reason))
	}
	_, err := c.CancelImageCreation(ctx, &ib.CancelImageCreationInput{ImageBuildVersionArn: arn})
	wantCode(t, err, "ResourceInUseException")
}

func TestMain(m *testing.M) {
	code := m.Run()
	testsupport.Cleanup()
	os.Exit(code)
}
