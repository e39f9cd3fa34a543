package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/engine"
	"github.com/goldsmith/goldsmith/internal/engine/containerbuild"
	"github.com/goldsmith/goldsmith/internal/store"
)

// Builds runs image builds (the engine). Without one, images stay PENDING.
type Builds interface {
	Enqueue(ctx context.Context, imageARN string) error
	Cancel(ctx context.Context, imageARN string) error
}

// SetBuilds attaches the build engine. The engine reads its inputs from the
// service (Container), so it is created after the service and attached
// before the API serves requests.
func (s *Service) SetBuilds(b Builds) { s.builds = b }

// startBuild hands a committed PENDING image to the engine. A failure here
// loses nothing: the engine also picks up PENDING images when it starts.
func (s *Service) startBuild(ctx context.Context, imageARN string) {
	if s.builds == nil || imageARN == "" {
		return
	}
	if err := s.builds.Enqueue(context.WithoutCancel(ctx), imageARN); err != nil {
		s.log.Warn("enqueueing image build failed; it will start with the next engine start", "image", imageARN, "error", err)
	}
}

// CancelImageCreation stops a build that has not finished.
func (s *Service) CancelImageCreation(ctx context.Context, in *gen.CancelImageCreationRequest) (*gen.CancelImageCreationResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.st.View(ctx, func(tx store.Tx) error {
		_, err := s.ownedResource(ctx, tx, c, imgKind, in.ImageBuildVersionArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.builds == nil {
		return nil, apiError(gen.CodeServiceUnavailable, "this server runs no builds")
	}
	if err := s.builds.Cancel(ctx, in.ImageBuildVersionArn); err != nil {
		if errors.Is(err, engine.ErrNotCancellable) {
			return nil, apiError(gen.CodeResourceInUse, "image %s is not being built: %v", in.ImageBuildVersionArn, err)
		}
		return nil, err
	}
	return &gen.CancelImageCreationResponse{ImageBuildVersionArn: in.ImageBuildVersionArn}, nil
}

// Container resolves what the engine needs to build a container image:
// the recipe's components (resolved now, documents decrypted), the parent
// image's registry reference, the target repository and tags. It
// implements engine.Inputs.
func (s *Service) Container(ctx context.Context, imageARN string) (*engine.ContainerInputs, error) {
	var out engine.ContainerInputs
	err := s.st.View(ctx, func(tx store.Tx) error {
		out = engine.ContainerInputs{}
		img, owner, a, err := buildImage(ctx, tx, imageARN)
		if err != nil {
			return err
		}
		rec := img.ContainerRecipe
		if rec == nil {
			return fmt.Errorf("image %s has no container recipe", imageARN)
		}
		if out.Components, err = s.buildComponents(ctx, tx, owner, rec.Components); err != nil {
			return err
		}
		if out.ParentRef, err = parentReference(ctx, tx, owner, rec.ParentImage); err != nil {
			return err
		}
		if rec.TargetRepository != nil {
			out.Repository = rec.TargetRepository.RepositoryName
		}
		if dc := img.DistributionConfiguration; dc != nil {
			for _, d := range dc.Distributions {
				if d.Region == a.Region && d.ContainerDistributionConfiguration != nil {
					out.Tags = d.ContainerDistributionConfiguration.ContainerTags
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// buildImage reads an image to build, with its owner (account and the
// image's region) and its parsed ARN.
func buildImage(ctx context.Context, tx store.Tx, imageARN string) (*gen.Image, Caller, ARN, error) {
	r, err := tx.Get(ctx, imageARN)
	if err != nil {
		return nil, Caller{}, ARN{}, fmt.Errorf("image %s: %w", imageARN, err)
	}
	img, err := imgDecode(r)
	if err != nil {
		return nil, Caller{}, ARN{}, err
	}
	a, err := ParseARN(imageARN)
	if err != nil {
		return nil, Caller{}, ARN{}, err
	}
	return img, Caller{Account: r.Account, Region: a.Region}, a, nil
}

// buildComponents resolves a recipe's components for a build: documents in
// clear, parameters joined as toe takes them.
func (s *Service) buildComponents(ctx context.Context, tx store.Tx, owner Caller, ccs []gen.ComponentConfiguration) ([]containerbuild.Component, error) {
	var out []containerbuild.Component
	for i, cc := range ccs {
		cr, _, err := resolveBuild(ctx, tx, owner, kindComponent, cc.ComponentArn)
		if err != nil {
			return nil, fmt.Errorf("components[%d] %s: %w", i, cc.ComponentArn, err)
		}
		comp, err := s.componentOf(ctx, cr, true)
		if err != nil {
			return nil, err
		}
		params := map[string]string{}
		for _, p := range cc.Parameters {
			params[p.Name] = strings.Join(p.Value, ",")
		}
		out = append(out, containerbuild.Component{
			ARN: cr.ARN, Name: comp.Name, Type: string(comp.Type), Document: []byte(comp.Data), Parameters: params,
		})
	}
	return out, nil
}

// parentReference turns a recipe's parentImage into a registry reference:
// an image ARN (wildcards resolve to the newest readable build) becomes the
// first URI of its container output; anything else is a reference already.
func parentReference(ctx context.Context, tx store.Tx, owner Caller, parent string) (string, error) {
	if !strings.HasPrefix(parent, "arn:") {
		return parent, nil
	}
	r, _, err := resolveBuild(ctx, tx, owner, imgKind, parent)
	if err != nil {
		return "", fmt.Errorf("parentImage %s: %w", parent, err)
	}
	img, err := imgDecode(r)
	if err != nil {
		return "", err
	}
	if img.OutputResources != nil {
		for _, c := range img.OutputResources.Containers {
			if len(c.ImageUris) > 0 {
				return c.ImageUris[0], nil
			}
		}
	}
	return "", fmt.Errorf("parentImage %s has no container image to build from", parent)
}
