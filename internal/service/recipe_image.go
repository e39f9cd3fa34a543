package service

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// CreateImageRecipe creates an immutable image recipe version.
func (s *Service) CreateImageRecipe(ctx context.Context, in *gen.CreateImageRecipeRequest) (*gen.CreateImageRecipeResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	parent, err := parseParentImage("parentImage", in.ParentImage, false)
	if err != nil {
		return nil, err
	}
	if err := checkBlockDeviceMappings("blockDeviceMappings", in.BlockDeviceMappings); err != nil {
		return nil, err
	}
	if in.AdditionalInstanceConfiguration != nil {
		if err := checkUserData(in.AdditionalInstanceConfiguration.UserDataOverride); err != nil {
			return nil, err
		}
	}
	for i, w := range in.AmiWatermarks {
		if slices.Contains(in.AmiWatermarks[:i], w) {
			return nil, invalidValue("amiWatermarks[%d] %q is listed more than once", i, w)
		}
	}
	arn, refs, err := s.createRecipe(ctx, c, recipeDraft{
		kind: kindImageRecipe, name: in.Name, version: in.SemanticVersion, tags: in.Tags, components: in.Components,
		body: func(tx store.Tx, arn, version string, created time.Time) ([]byte, error) {
			info, err := s.resolveParentImage(ctx, tx, c, "parentImage", in.ParentImage, parent, false)
			if err != nil {
				return nil, err
			}
			comps, err := s.resolveRecipeComponents(ctx, tx, c, in.Components)
			if err != nil {
				return nil, err
			}
			platform, err := recipePlatform(info.platform, "parentImage", comps)
			if err != nil {
				return nil, err
			}
			if err := checkWorkingDirectory(in.WorkingDirectory, platform); err != nil {
				return nil, err
			}
			return json.Marshal(gen.ImageRecipe{
				Arn: arn, Type: gen.ImageTypeAMI, Name: in.Name, Description: in.Description,
				Platform: platform, Owner: c.Account, Version: version, Components: in.Components,
				ParentImage: in.ParentImage, BlockDeviceMappings: in.BlockDeviceMappings,
				DateCreated: timestamp(created), WorkingDirectory: in.WorkingDirectory,
				AmiTags: in.AmiTags, AmiWatermarks: in.AmiWatermarks,
				AdditionalInstanceConfiguration: in.AdditionalInstanceConfiguration,
			})
		},
	})
	if err != nil {
		return nil, err
	}
	return &gen.CreateImageRecipeResponse{ImageRecipeArn: arn, LatestVersionReferences: refs}, nil
}

// GetImageRecipe returns an image recipe version (`x` wildcards resolve
// to the newest matching version the caller can read).
func (s *Service) GetImageRecipe(ctx context.Context, in *gen.GetImageRecipeRequest) (*gen.GetImageRecipeResponse, error) {
	rec, r, refs, err := viewRecipe[gen.ImageRecipe](ctx, s, kindImageRecipe, in.ImageRecipeArn)
	if err != nil {
		return nil, err
	}
	rec.Tags = r.Tags
	return &gen.GetImageRecipeResponse{ImageRecipe: rec, LatestVersionReferences: refs}, nil
}

// ListImageRecipes lists image recipe versions by owner, with the name,
// parentImage and platform filters.
func (s *Service) ListImageRecipes(ctx context.Context, in *gen.ListImageRecipesRequest) (*gen.ListImageRecipesResponse, error) {
	filters, err := newFilterSet(in.Filters, "name", "parentImage", "platform")
	if err != nil {
		return nil, err
	}
	items, next, err := listPage(ctx, s, kindImageRecipe, in.Owner, func(rec *gen.ImageRecipe, r *store.Resource) bool {
		return filters.match("name", rec.Name, r.Name) && filters.match("parentImage", rec.ParentImage) &&
			filters.match("platform", string(rec.Platform))
	}, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := &gen.ListImageRecipesResponse{NextToken: next}
	for _, it := range items {
		rec, r := it.Body, it.R
		out.ImageRecipeSummaryList = append(out.ImageRecipeSummaryList, gen.ImageRecipeSummary{
			Arn: r.ARN, Name: rec.Name, Platform: rec.Platform, Owner: r.Account,
			ParentImage: rec.ParentImage, DateCreated: timestamp(r.Created), Tags: r.Tags,
		})
	}
	return out, nil
}

// DeleteImageRecipe deletes an image recipe version nothing depends on.
func (s *Service) DeleteImageRecipe(ctx context.Context, in *gen.DeleteImageRecipeRequest) (*gen.DeleteImageRecipeResponse, error) {
	if err := s.deleteRecipe(ctx, kindImageRecipe, in.ImageRecipeArn); err != nil {
		return nil, err
	}
	return &gen.DeleteImageRecipeResponse{ImageRecipeArn: in.ImageRecipeArn}, nil
}

// PutImageRecipePolicy sets the resource policy of an image recipe.
func (s *Service) PutImageRecipePolicy(ctx context.Context, in *gen.PutImageRecipePolicyRequest) (*gen.PutImageRecipePolicyResponse, error) {
	if err := s.putPolicy(ctx, kindImageRecipe, in.ImageRecipeArn, in.Policy); err != nil {
		return nil, err
	}
	return &gen.PutImageRecipePolicyResponse{ImageRecipeArn: in.ImageRecipeArn}, nil
}

// GetImageRecipePolicy returns the resource policy of an image recipe.
func (s *Service) GetImageRecipePolicy(ctx context.Context, in *gen.GetImageRecipePolicyRequest) (*gen.GetImageRecipePolicyResponse, error) {
	p, err := s.getPolicy(ctx, kindImageRecipe, in.ImageRecipeArn)
	if err != nil {
		return nil, err
	}
	return &gen.GetImageRecipePolicyResponse{Policy: p}, nil
}
