package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// An image is stored as a gen.Image body (Tags empty, kept in
// store.Resource.Tags) under its build-version ARN
// image/<recipe slug>/<recipe version>/<build>. The body carries the full
// snapshot of the recipe, infrastructure and distribution configurations as
// they were when the image was created, so later edits do not change it.
//
// Nothing builds here: CreateImage, StartImagePipelineExecution and the
// imports validate and persist the image in state PENDING; the build
// engine picks PENDING images up.

// imageSpec describes an image to create from recipes and configurations.
type imageSpec struct {
	res           *resolvedInputs
	pipeline      *gen.ImagePipeline // the source pipeline, or nil
	tests         *gen.ImageTestsConfiguration
	enhanced      *bool
	scanning      *gen.ImageScanningConfiguration
	workflows     []gen.WorkflowConfiguration
	executionRole string
	logging       *gen.ImageLoggingConfiguration
	tags          map[string]string
	buildType     gen.BuildType
}

// errImgBuildTaken reports that a concurrent request took the build
// number; imgUpdate retries the transaction with the next one.
var errImgBuildTaken = errors.New("image build number taken by a concurrent request")

// imgUpdate runs an Update that allocates an image build number, retrying
// when a concurrent request took the number first.
func (s *Service) imgUpdate(ctx context.Context, fn func(store.Tx) error) error {
	for range 8 {
		err := s.st.Update(ctx, fn)
		if !errors.Is(err, errImgBuildTaken) {
			return err
		}
	}
	return apiError(gen.CodeResourceInUse, "too many concurrent builds of this image version; retry")
}

// imgBusy are the states in which an image is being worked on and cannot
// be deleted.
var imgBusy = map[gen.ImageStatus]bool{
	gen.ImageStatusCREATING: true, gen.ImageStatusBUILDING: true, gen.ImageStatusTESTING: true,
	gen.ImageStatusDISTRIBUTING: true, gen.ImageStatusINTEGRATING: true,
}

// insertImage allocates the next build of the recipe version and stores
// the PENDING image.
func (s *Service) insertImage(ctx context.Context, tx store.Tx, c Caller, sp imageSpec) (string, *gen.LatestVersionReferences, error) {
	ra, err := ParseARN(sp.res.recipe.ARN)
	if err != nil {
		return "", nil, fmt.Errorf("stored recipe ARN %q: %w", sp.res.recipe.ARN, err)
	}
	img := gen.Image{
		Platform:                     sp.res.platform,
		EnhancedImageMetadataEnabled: imgBool(sp.enhanced, true),
		State:                        &gen.ImageState{Status: gen.ImageStatusPENDING},
		InfrastructureConfiguration:  sp.res.infra,
		DistributionConfiguration:    sp.res.dist,
		ImageTestsConfiguration:      imgTestsConfig(sp.tests),
		BuildType:                    sp.buildType,
		ImageSource:                  gen.ImageSourceCUSTOM,
		ImageScanningConfiguration:   sp.scanning,
		ExecutionRole:                sp.executionRole,
		Workflows:                    sp.workflows,
		LoggingConfiguration:         sp.logging,
	}
	if r := sp.res.imageRecipe; r != nil {
		img.Type, img.Name, img.Version, img.ImageRecipe = gen.ImageTypeAMI, r.Name, r.Version, r
	} else {
		r := sp.res.containerRecipe
		img.Type, img.Name, img.Version, img.ContainerRecipe = gen.ImageTypeDOCKER, r.Name, r.Version, r
	}
	if img.Version == "" {
		img.Version = sp.res.recipe.Version
	}
	if sp.pipeline != nil {
		img.SourcePipelineArn, img.SourcePipelineName = sp.pipeline.Arn, sp.pipeline.Name
	}
	a := ARN{Partition: "aws", Region: c.Region, Account: c.Account, Type: imgKind, Name: ra.Name, Version: sp.res.recipe.Version}
	return s.storeImage(ctx, tx, c, a, &img, nil, sp.tags, sp.res.refs)
}

// storeImage gives img the next build number of a.Name/a.Version and
// inserts it with its dependencies.
func (s *Service) storeImage(ctx context.Context, tx store.Tx, c Caller, a ARN, img *gen.Image, imp *imgImport, tags map[string]string, refs []string) (string, *gen.LatestVersionReferences, error) {
	build, err := tx.MaxBuild(ctx, imgKind, c.Account, a.Name, a.Version)
	if err != nil {
		return "", nil, err
	}
	a.Build = build + 1
	arn := a.String()
	now := s.now().UTC()
	img.Arn = arn
	img.DateCreated = timestamp(now)
	img.Tags = nil
	body, err := json.Marshal(imgBody{Image: img, Import: imp})
	if err != nil {
		return "", nil, fmt.Errorf("encoding image: %w", err)
	}
	r := &store.Resource{ARN: arn, Kind: imgKind, Account: c.Account, Name: a.Name, Version: a.Version,
		Build: a.Build, Created: now, Updated: now, Body: body, Tags: tags}
	if err := tx.Insert(ctx, r); err != nil {
		if errors.Is(err, store.ErrExists) {
			return "", nil, errImgBuildTaken
		}
		return "", nil, err
	}
	if len(refs) > 0 {
		if err := tx.SetRefs(ctx, arn, refs); err != nil {
			return "", nil, err
		}
	}
	all, err := tx.List(ctx, store.ListQuery{Kind: imgKind, Accounts: []string{c.Account}, Name: a.Name})
	if err != nil {
		return "", nil, err
	}
	v, _ := ParseVersion(a.Version, false)
	return arn, latestRefs(inRegion(all, a.Region), v), nil
}

// CreateImage validates a build request and records the image PENDING.
func (s *Service) CreateImage(ctx context.Context, in *gen.CreateImageRequest) (*gen.CreateImageResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	inputs := buildInputs{
		imageRecipeArn: in.ImageRecipeArn, containerRecipeArn: in.ContainerRecipeArn,
		infraArn: in.InfrastructureConfigurationArn, distArn: in.DistributionConfigurationArn,
		workflows: in.Workflows, executionRole: in.ExecutionRole,
	}
	if err := inputs.check(); err != nil {
		return nil, err
	}
	if err := imgCheckScanning(in.ImageScanningConfiguration, in.ContainerRecipeArn != ""); err != nil {
		return nil, err
	}
	var out gen.CreateImageResponse
	err = s.imgUpdate(ctx, func(tx store.Tx) error {
		res, err := inputs.resolve(ctx, tx, c)
		if err != nil {
			return err
		}
		out.ImageBuildVersionArn, out.LatestVersionReferences, err = s.insertImage(ctx, tx, c, imageSpec{
			res: res, tests: in.ImageTestsConfiguration, enhanced: in.EnhancedImageMetadataEnabled,
			scanning: in.ImageScanningConfiguration, workflows: in.Workflows, executionRole: in.ExecutionRole,
			logging: in.LoggingConfiguration, tags: in.Tags, buildType: gen.BuildTypeUSERINITIATED,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.startBuild(ctx, out.ImageBuildVersionArn)
	return &out, nil
}

// StartImagePipelineExecution records a manual run of a pipeline: a new
// PENDING image from the pipeline's current recipe and configurations.
// A manual start always builds, whatever the start condition and status.
func (s *Service) StartImagePipelineExecution(ctx context.Context, in *gen.StartImagePipelineExecutionRequest) (*gen.StartImagePipelineExecutionResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out gen.StartImagePipelineExecutionResponse
	err = s.imgUpdate(ctx, func(tx store.Tx) error {
		pr, err := s.ownedResource(ctx, tx, c, pipeKind, in.ImagePipelineArn)
		if err != nil {
			return err
		}
		p, err := pipeDecode(pr)
		if err != nil {
			return err
		}
		p.Arn = pr.ARN
		inputs := buildInputs{
			imageRecipeArn: p.ImageRecipeArn, containerRecipeArn: p.ContainerRecipeArn,
			infraArn: p.InfrastructureConfigurationArn, distArn: p.DistributionConfigurationArn,
			workflows: p.Workflows, executionRole: p.ExecutionRole,
		}
		res, err := inputs.resolve(ctx, tx, c)
		if err != nil {
			return err
		}
		tags := maps.Clone(p.ImageTags)
		if len(in.Tags) > 0 {
			if tags == nil {
				tags = map[string]string{}
			}
			maps.Copy(tags, in.Tags)
		}
		var logging *gen.ImageLoggingConfiguration
		if p.LoggingConfiguration != nil && p.LoggingConfiguration.ImageLogGroupName != "" {
			logging = &gen.ImageLoggingConfiguration{LogGroupName: p.LoggingConfiguration.ImageLogGroupName}
		}
		out.ImageBuildVersionArn, _, err = s.insertImage(ctx, tx, c, imageSpec{
			res: res, pipeline: p, tests: p.ImageTestsConfiguration, enhanced: p.EnhancedImageMetadataEnabled,
			scanning: p.ImageScanningConfiguration, workflows: p.Workflows, executionRole: p.ExecutionRole,
			logging: logging, tags: tags, buildType: gen.BuildTypeUSERINITIATED,
		})
		if err != nil {
			return err
		}
		now := s.now().UTC()
		p.DateLastRun = timestamp(now)
		p.LastRunStatus = gen.ImageStatusPENDING
		p.Tags = nil
		if pr.Body, err = json.Marshal(p); err != nil {
			return fmt.Errorf("encoding image pipeline: %w", err)
		}
		return tx.Replace(ctx, pr)
	})
	if err != nil {
		return nil, err
	}
	s.startBuild(ctx, out.ImageBuildVersionArn)
	return &out, nil
}

// imgDecode returns the stored image body with its tags.
func imgDecode(r *store.Resource) (*gen.Image, error) {
	var img gen.Image
	if err := json.Unmarshal(r.Body, &img); err != nil {
		return nil, fmt.Errorf("decoding image %s: %w", r.ARN, err)
	}
	img.Arn = r.ARN
	img.Tags = r.Tags
	return &img, nil
}

// GetImage returns an image build, the newest matching a version ARN with
// wildcards, with the snapshot of what it was built from.
func (s *Service) GetImage(ctx context.Context, in *gen.GetImageRequest) (*gen.GetImageResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out gen.GetImageResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		out = gen.GetImageResponse{}
		r, all, err := resolveBuild(ctx, tx, c, imgKind, in.ImageBuildVersionArn)
		if err != nil {
			return err
		}
		if out.Image, err = imgDecode(r); err != nil {
			return err
		}
		v, _ := ParseVersion(r.Version, false)
		var mine []*store.Resource
		for _, o := range all {
			if readable(c, o) {
				mine = append(mine, o)
			}
		}
		out.LatestVersionReferences = latestRefs(mine, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteImage deletes an image build unless it is being built or
// something still depends on it. Only goldsmith's record is removed:
// distributed AMIs and container images are not touched.
func (s *Service) DeleteImage(ctx context.Context, in *gen.DeleteImageRequest) (*gen.DeleteImageResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	arn := in.ImageBuildVersionArn
	err = s.st.Update(ctx, func(tx store.Tx) error {
		r, err := s.ownedResource(ctx, tx, c, imgKind, arn)
		if err != nil {
			return err
		}
		img, err := imgDecode(r)
		if err != nil {
			return err
		}
		if img.State != nil && imgBusy[img.State.Status] {
			return apiError(gen.CodeResourceInUse, "image %s is %s; it can be deleted once it is AVAILABLE, FAILED or CANCELLED (cancel it first)", arn, img.State.Status)
		}
		a, _ := ParseARN(r.ARN)
		for _, target := range []string{r.ARN, a.VersionARN().String()} {
			if err := imgRefuseIfUsed(ctx, tx, "image", target); err != nil {
				return err
			}
		}
		return tx.Delete(ctx, r.ARN)
	})
	if err != nil {
		return nil, err
	}
	return &gen.DeleteImageResponse{ImageBuildVersionArn: arn}, nil
}

// imgRefuseIfUsed returns ResourceDependencyException naming the resources
// that still reference arn.
func imgRefuseIfUsed(ctx context.Context, tx store.Tx, what, arn string) error {
	users, err := tx.RefsTo(ctx, arn)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return apiError(gen.CodeResourceDependency, "%s %s is still used by %s", what, arn, strings.Join(users, ", "))
	}
	return nil
}

// PutImagePolicy sets the resource policy of an image build.
func (s *Service) PutImagePolicy(ctx context.Context, in *gen.PutImagePolicyRequest) (*gen.PutImagePolicyResponse, error) {
	if err := s.putPolicy(ctx, imgKind, in.ImageArn, in.Policy); err != nil {
		return nil, err
	}
	return &gen.PutImagePolicyResponse{ImageArn: in.ImageArn}, nil
}

// GetImagePolicy returns the resource policy of an image build.
func (s *Service) GetImagePolicy(ctx context.Context, in *gen.GetImagePolicyRequest) (*gen.GetImagePolicyResponse, error) {
	p, err := s.getPolicy(ctx, imgKind, in.ImageArn)
	if err != nil {
		return nil, err
	}
	return &gen.GetImagePolicyResponse{Policy: p}, nil
}
