package service

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// Imports (ImportVmImage, ImportDiskImage) are validated and recorded as
// PENDING images with buildType IMPORT / IMPORT_ISO and imageSource
// IMPORTED; the engine runs the import (disk images) or fails it (VM
// Import/Export tasks, which need EC2).
//
// Decision: no AMI ID is reserved in outputResources. An image's
// outputResources tell clients (and recipes naming a parent by image ID)
// that the AMI exists; the import execution assigns the ID when it
// registers the disk, and only then fills outputResources.
//
// gen.Image has no members for what the import execution needs (the VM
// import task, the disk URI, register options, Windows edition, the
// description), so the body of an imported image carries one extra key,
// "goldsmithImport", next to the gen.Image members. Decoders of gen.Image
// ignore it.

// imgImport is what an import request asks for beyond gen.Image.
type imgImport struct {
	Description          string                    `json:"description,omitempty"`
	VMImportTaskID       string                    `json:"vmImportTaskId,omitempty"`
	URI                  string                    `json:"uri,omitempty"`
	RegisterImageOptions *gen.RegisterImageOptions `json:"registerImageOptions,omitempty"`
	WindowsConfiguration *gen.WindowsConfiguration `json:"windowsConfiguration,omitempty"`
}

// imgBody is the stored body of an image: gen.Image, plus the import
// request of imported images.
type imgBody struct {
	*gen.Image
	Import *imgImport `json:"goldsmithImport,omitempty"`
}

var (
	imgVMImportTaskID = regexp.MustCompile(`^import-ami-[0-9a-f]{8}(?:[0-9a-f]{9})?$`)
	imgSlugPattern    = regexp.MustCompile(`^[a-z0-9-_]+$`)
	imgS3DiskURI      = regexp.MustCompile(`^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.*[^/]$`)
	imgFileDiskURI    = regexp.MustCompile(`^file:///[^\x00]*[^/]$`)
)

// imgClientError re-labels a validation error as ClientException, the error
// the import operations model for bad input.
func imgClientError(err error) error {
	var ge *gen.Error
	if errors.As(err, &ge) && (ge.Code == gen.CodeInvalidParameterValue || ge.Code == gen.CodeInvalidRequest) {
		return apiError(gen.CodeClient, "%s", ge.Message)
	}
	return err
}

// imgImportTarget checks the name and version of an import and returns the
// image version ARN the import will create a build of.
func imgImportTarget(c Caller, name, version string) (ARN, error) {
	slug := Slug(strings.TrimSpace(name))
	if !imgSlugPattern.MatchString(slug) {
		return ARN{}, apiError(gen.CodeClient, "name %q: an image name may hold letters, digits, '-', '_' and inner spaces only", name)
	}
	v, err := ParseVersion(version, false)
	if err != nil {
		return ARN{}, apiError(gen.CodeClient, "semanticVersion: %v", err)
	}
	return ARN{Partition: "aws", Region: c.Region, Account: c.Account, Type: imgKind, Name: slug, Version: v.String()}, nil
}

// ImportVmImage records the import of a VM Import/Export AMI task as a
// PENDING image (buildType IMPORT).
func (s *Service) ImportVmImage(ctx context.Context, in *gen.ImportVmImageRequest) (*gen.ImportVmImageResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	a, err := imgImportTarget(c, in.Name, in.SemanticVersion)
	if err != nil {
		return nil, err
	}
	if !imgVMImportTaskID.MatchString(in.VmImportTaskId) {
		return nil, apiError(gen.CodeClient, "vmImportTaskId %q is not a VM import task ID (import-ami- followed by 8 or 17 hex digits)", in.VmImportTaskId)
	}
	switch in.Platform {
	case gen.PlatformLinux, gen.PlatformWindows, gen.PlatformMacOS:
	default:
		return nil, apiError(gen.CodeClient, "platform %q must be Linux, Windows or macOS", in.Platform)
	}
	img := &gen.Image{
		Type: gen.ImageTypeAMI, Name: in.Name, Version: a.Version, Platform: in.Platform, OsVersion: in.OsVersion,
		State: &gen.ImageState{Status: gen.ImageStatusPENDING}, BuildType: gen.BuildTypeIMPORT,
		ImageSource: gen.ImageSourceIMPORTED, LoggingConfiguration: in.LoggingConfiguration,
	}
	imp := &imgImport{Description: in.Description, VMImportTaskID: in.VmImportTaskId}
	var arn string
	err = s.imgUpdate(ctx, func(tx store.Tx) error {
		var err error
		arn, _, err = s.storeImage(ctx, tx, c, a, img, imp, in.Tags, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &gen.ImportVmImageResponse{ImageArn: arn}, nil
}

// ImportDiskImage records the import of a disk image file (qcow2, raw,
// VMDK or VHD, from s3:// or the server's file://) as a PENDING image
// (buildType IMPORT_ISO, as Image Builder reports this operation's images);
// the engine fetches, checks and stores it (an ISO fails the import).
func (s *Service) ImportDiskImage(ctx context.Context, in *gen.ImportDiskImageRequest) (*gen.ImportDiskImageResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	a, err := imgImportTarget(c, in.Name, in.SemanticVersion)
	if err != nil {
		return nil, err
	}
	platform := gen.Platform(in.Platform)
	switch platform {
	case gen.PlatformLinux, gen.PlatformWindows, gen.PlatformMacOS:
	default:
		return nil, apiError(gen.CodeClient, "platform %q must be Linux, Windows or macOS", in.Platform)
	}
	if !imgS3DiskURI.MatchString(in.Uri) && !imgFileDiskURI.MatchString(in.Uri) {
		return nil, apiError(gen.CodeClient, "uri %q must name the disk image as s3://<bucket>/<key> or file:///<absolute path on the server>", in.Uri)
	}
	if in.WindowsConfiguration != nil && platform != gen.PlatformWindows {
		return nil, apiError(gen.CodeClient, "windowsConfiguration applies to the Windows platform only, not %s", platform)
	}
	if in.WindowsConfiguration != nil && (in.WindowsConfiguration.ImageIndex == nil || *in.WindowsConfiguration.ImageIndex < 1) {
		return nil, apiError(gen.CodeClient, "windowsConfiguration.imageIndex must be a positive index of the edition in the ISO")
	}
	img := &gen.Image{
		Type: gen.ImageTypeAMI, Name: in.Name, Version: a.Version, Platform: platform, OsVersion: in.OsVersion,
		State: &gen.ImageState{Status: gen.ImageStatusPENDING}, BuildType: gen.BuildTypeIMPORTISO,
		ImageSource: gen.ImageSourceIMPORTED, ExecutionRole: in.ExecutionRole, LoggingConfiguration: in.LoggingConfiguration,
	}
	imp := &imgImport{Description: in.Description, URI: in.Uri, RegisterImageOptions: in.RegisterImageOptions,
		WindowsConfiguration: in.WindowsConfiguration}
	var arn string
	err = s.imgUpdate(ctx, func(tx store.Tx) error {
		r, err := imgConfig(ctx, tx, c, "infrastructureConfigurationArn", imgKindInfra, in.InfrastructureConfigurationArn)
		if err != nil {
			return imgClientError(err)
		}
		infra, err := imgInfraSnapshot(r)
		if err != nil {
			return err
		}
		img.InfrastructureConfiguration = infra
		arn, _, err = s.storeImage(ctx, tx, c, a, img, imp, in.Tags, []string{r.ARN})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.startBuild(ctx, arn)
	return &gen.ImportDiskImageResponse{ImageBuildVersionArn: arn}, nil
}
