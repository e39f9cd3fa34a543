package app

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"

	"github.com/goldsmith/goldsmith/internal/config"
	"github.com/goldsmith/goldsmith/internal/testsupport"
)

// TestImportedImageLaunchPermission: a disk imported by one account is an
// image ID that account can build from; another account without launch
// permission cannot name it as a parent.
func TestImportedImageLaunchPermission(t *testing.T) {
	testsupport.RequireRealBuilds(t)
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("imports need qemu-img (make test installs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := testsupport.GoldsmithBinary(t)
	a := startServer(t, func(c *config.Config) { c.Build = config.Build{GoldsmithBinary: bin} })
	owner, other := client(a, "test", "test"), client(a, "other", "othersecret")

	disk := filepath.Join(t.TempDir(), "small.vhd")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "vpc", disk, "16M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v: %s", err, out)
	}
	infra := must[*ib.CreateInfrastructureConfigurationOutput](t)(owner.CreateInfrastructureConfiguration(ctx, &ib.CreateInfrastructureConfigurationInput{
		Name: aws.String("imports"), InstanceProfileName: aws.String("local")}))
	imp := must[*ib.ImportDiskImageOutput](t)(owner.ImportDiskImage(ctx, &ib.ImportDiskImageInput{Name: aws.String("small"), SemanticVersion: aws.String("1.0.0"),
		Platform: aws.String("Linux"), OsVersion: aws.String("none"), InfrastructureConfigurationArn: infra.InfrastructureConfigurationArn,
		Uri: aws.String("file://" + disk)}))
	img := waitForImage(ctx, t, owner, aws.ToString(imp.ImageBuildVersionArn))
	if img.State.Status != types.ImageStatusAvailable || img.OutputResources == nil || len(img.OutputResources.Amis) != 1 {
		t.Fatalf("import ended %s (%q): %+v", img.State.Status, aws.ToString(img.State.Reason), img.OutputResources)
	}
	if img.BuildType != types.BuildTypeImportIso || img.ImageSource != types.ImageSourceImported {
		t.Errorf("buildType %s, imageSource %s", img.BuildType, img.ImageSource)
	}
	id := aws.ToString(img.OutputResources.Amis[0].Image)
	if !strings.HasPrefix(id, "ami-") || len(id) != 21 {
		t.Fatalf("image ID %q", id)
	}

	recipe := func(c *ib.Client) error {
		comp := createComponent(t, c, "note", "1.0.0", vmNoteComponent).ComponentBuildVersionArn
		_, err := c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{Name: aws.String("on-small"), SemanticVersion: aws.String("1.0.0"),
			ParentImage: aws.String(id), Components: []types.ComponentConfiguration{{ComponentArn: comp}}})
		return err
	}
	if err := recipe(owner); err != nil {
		t.Fatalf("the owner cannot build from its import: %v", err)
	}
	err := recipe(other)
	wantCode(t, err, "InvalidParameterValueException")
	if err != nil && !strings.Contains(err.Error(), id) {
		t.Errorf("the refusal does not name the image ID: %v", err)
	}
}
