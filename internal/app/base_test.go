package app

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/goldsmith/goldsmith/internal/extclient"
	"github.com/goldsmith/goldsmith/internal/store"
)

// TestBaseImageBusybox: `goldsmith base build busybox-x86-container` builds
// the image from the host's busybox-static, pushes it to the built-in
// registry and registers it as a managed image; building again is a new
// version; a container recipe can name it as its parent.
func TestBaseImageBusybox(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("no /bin/busybox (Debian busybox-static; scripts/host-packages.sh installs it)")
	}
	a := startServer(t)
	ctx := context.Background()
	ext := &extclient.Client{Endpoint: a.URL(), Region: "us-east-1", Credentials: aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}}
	first, err := ext.BuildBaseImage(ctx, "busybox-x86-container")
	if err != nil {
		t.Fatal(err)
	}
	if first.ImageBuildVersionArn != "arn:aws:imagebuilder:us-east-1:aws:image/busybox-x86-container/1.0.0/1" || len(first.ImageUris) != 2 {
		t.Fatalf("first build = %+v", first)
	}
	second, err := ext.BuildBaseImage(ctx, "busybox-x86-container")
	if err != nil || !strings.HasSuffix(second.ImageBuildVersionArn, "/busybox-x86-container/1.0.1/1") {
		t.Fatalf("second build = %+v, %v", second, err)
	}

	c := client(a, "test", "test")
	list := must[*ib.ListImagesOutput](t)(c.ListImages(ctx, &ib.ListImagesInput{Owner: types.OwnershipAmazon}))
	if len(list.ImageVersionList) != 2 {
		t.Fatalf("owner Amazon lists %+v", list.ImageVersionList)
	}
	got := must[*ib.GetImageOutput](t)(c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:image/busybox-x86-container/x.x.x")}))
	img := got.Image
	if aws.ToString(img.Arn) != second.ImageBuildVersionArn || img.State.Status != types.ImageStatusAvailable || img.Type != types.ImageTypeDocker ||
		!strings.Contains(aws.ToString(img.OsVersion), "BusyBox") || len(img.OutputResources.Containers) != 1 {
		t.Fatalf("image = %+v", img)
	}
	// The URI by digest pulls from the built-in registry.
	ref, err := name.ParseReference(img.OutputResources.Containers[0].ImageUris[0], name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	if d, _ := pulled.Digest(); !strings.HasSuffix(img.OutputResources.Containers[0].ImageUris[0], d.String()) {
		t.Errorf("pulled digest %s", d)
	}

	// A container recipe names it as its parent.
	comp := createComponent(t, c, "bb-comp", "1.0.0", helloDoc).ComponentBuildVersionArn
	_, err = c.CreateContainerRecipe(ctx, &ib.CreateContainerRecipeInput{
		Name: aws.String("on-busybox"), SemanticVersion: aws.String("1.0.0"), ContainerType: types.ContainerTypeDocker,
		ParentImage:            aws.String(second.ImageBuildVersionArn),
		Components:             []types.ComponentConfiguration{{ComponentArn: comp}},
		DockerfileTemplateData: aws.String("FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:environments }}}\n{{{ imagebuilder:components }}}\n"),
		TargetRepository:       &types.TargetContainerRepository{Service: types.ContainerRepositoryServiceEcr, RepositoryName: aws.String("on-busybox")},
		ImageOsVersionOverride: aws.String("BusyBox 1.35"),
	})
	if err != nil {
		t.Fatalf("recipe on the base image: %v", err)
	}
	// imageOsVersionOverride has no output member; it is kept for the build.
	if err := a.st.View(ctx, func(tx store.Tx) error {
		r, err := tx.Get(ctx, "arn:aws:imagebuilder:us-east-1:000000000000:container-recipe/on-busybox/1.0.0")
		if err != nil {
			return err
		}
		if !strings.Contains(string(r.Body), `"goldsmithImageOsVersionOverride":"BusyBox 1.35"`) {
			t.Errorf("stored recipe lost imageOsVersionOverride: %s", r.Body)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	_, err = ext.BuildBaseImage(ctx, "windows-2025")
	if e, ok := err.(*extclient.Error); !ok || e.Code != "InvalidParameterValueException" {
		t.Fatalf("unknown base: %v", err)
	}
	bad := &extclient.Client{Endpoint: a.URL(), Region: "us-east-1", Credentials: aws.Credentials{AccessKeyID: "test", SecretAccessKey: "wrong"}}
	if _, err := bad.BuildBaseImage(ctx, "busybox-x86-container"); err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Fatalf("bad signature: %v", err)
	}
}
