package service

import (
	"context"
	"errors"
	"slices"
	"sort"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/artifact/amistore"
	"github.com/goldsmith/goldsmith/internal/store"
)

// BaseImage is a base image built and pushed by a BaseImageBuilder.
type BaseImage struct {
	// URIs are the registry references of the pushed image (by digest
	// first, then by tag) of a container base.
	URIs      []string
	OSVersion string
	// Disk is the standalone qcow2 of a VM base (the service moves it into
	// the image store), with its virtual size.
	Disk        string
	VirtualSize int64
}

// BaseImageBuilder builds the named base image, tags it with version and
// pushes it to the built-in registry.
type BaseImageBuilder interface {
	Build(ctx context.Context, name, version string) (*BaseImage, error)
}

// BaseImageNames are the managed base images goldsmith can build.
func BaseImageNames() []string {
	return []string{"busybox-x86-container", "debian-12-x86-container", "debian-12-x86"}
}

// baseAliases are the short names `goldsmith base build` accepts.
var baseAliases = map[string]string{
	"busybox-container": "busybox-x86-container", "debian-12-container": "debian-12-x86-container",
	"debian-12": "debian-12-x86",
}

// BuildBaseImageInput and BuildBaseImageOutput are the goldsmith extension
// call that builds a managed base image (`goldsmith base build`).
type BuildBaseImageInput struct {
	Name string `json:"name"`
}

// BuildBaseImageOutput names the registered image.
type BuildBaseImageOutput struct {
	ImageBuildVersionArn string   `json:"imageBuildVersionArn"`
	ImageUris            []string `json:"imageUris,omitempty"`
	ImageID              string   `json:"imageId,omitempty"` // the image ID of a VM base
}

// BuildBaseImage builds a managed base image and registers it, owned by
// Amazon ("aws"), in the caller's region: the next 1.0.N version each time,
// AVAILABLE, with its registry URIs as output resources.
func (s *Service) BuildBaseImage(ctx context.Context, in *BuildBaseImageInput) (*BuildBaseImageOutput, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if full, ok := baseAliases[in.Name]; ok {
		in.Name = full
	}
	if !slices.Contains(BaseImageNames(), in.Name) {
		return nil, invalidValue("name %q is not a base image goldsmith builds; use one of %v", in.Name, BaseImageNames())
	}
	if s.bases == nil {
		return nil, apiError(gen.CodeServiceUnavailable, "this server has no base image builder configured")
	}
	managed := Caller{Account: "aws", Region: c.Region}
	var version string
	err = s.st.View(ctx, func(tx store.Tx) error {
		rs, err := tx.List(ctx, store.ListQuery{Kind: imgKind, Accounts: []string{"aws"}, Name: in.Name})
		if err != nil {
			return err
		}
		version = nextPatch(inRegion(rs, c.Region))
		return nil
	})
	if err != nil {
		return nil, err
	}
	built, err := s.bases.Build(ctx, in.Name, version)
	if err != nil {
		return nil, apiError(gen.CodeService, "building base image %s: %v", in.Name, err)
	}
	img := &gen.Image{
		Type: gen.ImageTypeDOCKER, Name: in.Name, Version: version, Platform: gen.PlatformLinux,
		OsVersion: built.OSVersion, State: &gen.ImageState{Status: gen.ImageStatusAVAILABLE},
		ImageSource: gen.ImageSourceAMAZONMANAGED, BuildType: gen.BuildTypeUSERINITIATED,
		OutputResources: &gen.OutputResources{Containers: []gen.Container{{Region: c.Region, ImageUris: built.URIs}}},
	}
	a := ARN{Partition: "aws", Region: c.Region, Account: "aws", Type: imgKind, Name: in.Name, Version: version}
	var amiID string
	if built.Disk != "" {
		if amiID, err = s.storeBaseDisk(ctx, c.Region, a, built); err != nil {
			return nil, err
		}
		img.Type = gen.ImageTypeAMI
		img.OutputResources = &gen.OutputResources{Amis: []gen.Ami{{Region: c.Region, Image: amiID,
			Name: in.Name + " " + version, AccountId: "aws", State: &gen.ImageState{Status: gen.ImageStatusAVAILABLE}}}}
	}
	var arn string
	err = s.st.Update(ctx, func(tx store.Tx) error {
		arn, _, err = s.storeImage(ctx, tx, managed, a, img, nil, nil, nil)
		return err
	})
	if err != nil && amiID != "" {
		_ = s.amis.Delete(c.Region, amiID)
	}
	if errors.Is(err, errImgBuildTaken) {
		return nil, apiError(gen.CodeResourceInUse, "base image %s %s is being registered by another request; retry", in.Name, version)
	}
	if err != nil {
		return nil, err
	}
	return &BuildBaseImageOutput{ImageBuildVersionArn: arn, ImageUris: built.URIs, ImageID: amiID}, nil
}

// nextPatch returns 1.0.0, or the highest stored version with its patch
// incremented.
func nextPatch(rs []*store.Resource) string {
	var vs []Version
	for _, r := range rs {
		if v, err := ParseVersion(r.Version, false); err == nil {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return "1.0.0"
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Compare(vs[j]) < 0 })
	top := vs[len(vs)-1]
	top.Patch++
	return top.String()
}

// storeBaseDisk moves a built VM base disk into the image store under a
// new image ID, owned by Amazon ("aws"), launchable by everyone.
func (s *Service) storeBaseDisk(ctx context.Context, region string, a ARN, built *BaseImage) (string, error) {
	if s.amis == nil {
		return "", apiError(gen.CodeServiceUnavailable, "this server keeps no machine images")
	}
	id, err := amistore.NewID()
	if err != nil {
		return "", err
	}
	ami := &amistore.AMI{ID: id, Region: region, Owner: "aws", Name: a.Name + " " + a.Version,
		VirtualSize: built.VirtualSize, OSVersion: built.OSVersion, SourceImage: a.String()}
	if err := s.amis.Put(ctx, ami, built.Disk, true); err != nil {
		return "", apiError(gen.CodeService, "storing base image %s: %v", a.Name, err)
	}
	return id, nil
}
