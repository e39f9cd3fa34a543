package service

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/goldsmith/goldsmith/internal/artifact/amistore"
	"github.com/goldsmith/goldsmith/internal/engine"
	"github.com/goldsmith/goldsmith/internal/store"
)

// Default build instance size when the infrastructure configuration names
// no instance type.
const (
	defaultVCPUs  = 2
	defaultMemMiB = 1024
)

// VM resolves the inputs of a VM image build: components, the parent's
// stored image (which the image's owner must be allowed to launch), the
// instance size and the recipe's instance settings.
func (s *Service) VM(ctx context.Context, imageARN string) (*engine.VMInputs, error) {
	var out engine.VMInputs
	err := s.st.View(ctx, func(tx store.Tx) error {
		out = engine.VMInputs{}
		img, owner, _, err := buildImage(ctx, tx, imageARN)
		if err != nil {
			return err
		}
		rec := img.ImageRecipe
		if rec == nil {
			return fmt.Errorf("image %s has no image recipe", imageARN)
		}
		if out.Components, err = s.buildComponents(ctx, tx, owner, rec.Components); err != nil {
			return err
		}
		if out.ParentRegion, out.ParentID, err = s.parentAMI(ctx, tx, owner, rec.ParentImage); err != nil {
			return err
		}
		out.CPUs, out.MemoryMiB = defaultVCPUs, defaultMemMiB
		if ic := img.InfrastructureConfiguration; ic != nil && len(ic.InstanceTypes) > 0 {
			if c, m, ok := InstanceType(ic.InstanceTypes[0]); ok {
				out.CPUs, out.MemoryMiB = c, m
			}
		}
		for _, bd := range rec.BlockDeviceMappings {
			if bd.Ebs != nil && bd.Ebs.VolumeSize != nil && int64(*bd.Ebs.VolumeSize)<<30 > out.VolumeSize {
				out.VolumeSize = int64(*bd.Ebs.VolumeSize) << 30
			}
		}
		out.WorkingDir = rec.WorkingDirectory
		if aic := rec.AdditionalInstanceConfiguration; aic != nil && aic.SystemsManagerAgent != nil &&
			aic.SystemsManagerAgent.UninstallAfterBuild != nil {
			out.KeepAgent = !*aic.SystemsManagerAgent.UninstallAfterBuild
		}
		if aic := rec.AdditionalInstanceConfiguration; aic != nil && aic.UserDataOverride != "" {
			ud, err := base64.StdEncoding.DecodeString(aic.UserDataOverride)
			if err != nil {
				return fmt.Errorf("additionalInstanceConfiguration.userDataOverride is not base64: %w", err)
			}
			out.UserData = ud
		}
		for _, c := range out.Components {
			if needsNetwork(c.Document) {
				out.Network = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// parentAMI resolves an image recipe's parentImage to a stored image: an
// image ID the owner may launch, or an Image Builder image ARN (wildcards
// resolve to the newest readable build) whose output image in the build's
// region (else its first) is used.
func (s *Service) parentAMI(ctx context.Context, tx store.Tx, owner Caller, parent string) (string, string, error) {
	if s.amis == nil {
		return "", "", errors.New("this server keeps no machine images")
	}
	if amistore.ValidID(parent) {
		a, err := s.amis.Find(owner.Region, parent)
		if err != nil {
			return "", "", fmt.Errorf("parentImage %s: %w", parent, err)
		}
		if !a.CanLaunch(owner.Account) {
			return "", "", fmt.Errorf("parentImage %s: account %s has no launch permission for this image", parent, owner.Account)
		}
		return a.Region, a.ID, nil
	}
	if !strings.HasPrefix(parent, "arn:") {
		return "", "", fmt.Errorf("parentImage %q is neither an image ID nor an image ARN", parent)
	}
	r, _, err := resolveBuild(ctx, tx, owner, imgKind, parent)
	if err != nil {
		return "", "", fmt.Errorf("parentImage %s: %w", parent, err)
	}
	img, err := imgDecode(r)
	if err != nil {
		return "", "", err
	}
	if img.OutputResources == nil || len(img.OutputResources.Amis) == 0 {
		return "", "", fmt.Errorf("parentImage %s (%s) has no machine image to build from", parent, r.ARN)
	}
	pick := img.OutputResources.Amis[0]
	for _, a := range img.OutputResources.Amis {
		if a.Region == owner.Region && (a.AccountId == "" || a.AccountId == owner.Account || a.AccountId == r.Account) {
			pick = a
			break
		}
	}
	region := pick.Region
	if region == "" {
		region = owner.Region
	}
	return region, pick.Image, nil
}

// networkModules are the toe actions that need the network.
var networkModules = regexp.MustCompile(`(?m)action:\s*["']?(UpdateOS|WebDownload|S3Download|S3Upload|InstallMSI)\b`)

// networkCommands are commands in scripts that usually fetch something.
var networkCommands = regexp.MustCompile(`\b(apt-get|apt|yum|dnf|zypper|apk|curl|wget|pip3?|npm|git|snap)\s`)

// needsNetwork reports whether a component document looks like it needs
// the network: a network action module, or a script calling a package
// manager or a download tool. Build instances get user-mode networking
// only then.
func needsNetwork(doc []byte) bool {
	return networkModules.Match(doc) || networkCommands.Match(doc)
}
