package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/engine"
	"github.com/goldsmith/goldsmith/internal/store"
)

// imgSummary renders an image build for the summary lists.
func imgSummary(r *store.Resource, img *gen.Image) gen.ImageSummary {
	return gen.ImageSummary{
		Arn: r.ARN, Name: img.Name, Type: img.Type, Version: img.Version, Platform: img.Platform,
		OsVersion: img.OsVersion, State: img.State, Owner: r.Account, DateCreated: img.DateCreated,
		OutputResources: img.OutputResources, Tags: r.Tags, BuildType: img.BuildType, ImageSource: img.ImageSource,
		DeprecationTime: img.DeprecationTime, LifecycleExecutionId: img.LifecycleExecutionId,
		LoggingConfiguration: img.LoggingConfiguration,
	}
}

// imgFilters are the filters of ListImages and ListImageBuildVersions.
func imgMatches(f filterSet, r *store.Resource, img *gen.Image) bool {
	return f.match("name", img.Name, r.Name) && f.match("osVersion", img.OsVersion) &&
		f.match("platform", string(img.Platform)) && f.match("type", string(img.Type)) &&
		f.match("version", img.Version, r.Version)
}

func imgDeprecated(img *gen.Image) bool {
	return img.State != nil && img.State.Status == gen.ImageStatusDEPRECATED
}

// ListImages lists image versions (the newest build of each), or with
// byName the newest version of each image name. Deprecated images are left
// out unless includeDeprecated is set.
func (s *Service) ListImages(ctx context.Context, in *gen.ListImagesRequest) (*gen.ListImagesResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	filters, err := newFilterSet(in.Filters, "name", "osVersion", "platform", "type", "version")
	if err != nil {
		return nil, err
	}
	byName := in.ByName != nil && *in.ByName
	withDeprecated := in.IncludeDeprecated != nil && *in.IncludeDeprecated
	var out gen.ListImagesResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		out = gen.ListImagesResponse{}
		all, err := listByOwner(ctx, tx, c, imgKind, in.Owner)
		if err != nil {
			return err
		}
		latest := map[string]*store.Resource{}
		bodies := map[string]*gen.Image{}
		var order []string
		for _, r := range all { // ordered by version then build: later wins
			img, err := imgDecode(r)
			if err != nil {
				return err
			}
			if (!withDeprecated && imgDeprecated(img)) || !imgMatches(filters, r, img) {
				continue
			}
			key := r.Account + "/" + r.Name
			if !byName {
				key += "/" + r.Version
			}
			if _, ok := latest[key]; !ok {
				order = append(order, key)
			}
			latest[key] = r
			bodies[r.ARN] = img
		}
		picked := make([]*store.Resource, 0, len(order))
		for _, k := range order {
			picked = append(picked, latest[k])
		}
		page, next := paginate(picked, in.NextToken, in.MaxResults)
		for _, r := range page {
			img := bodies[r.ARN]
			a, err := ParseARN(r.ARN)
			if err != nil {
				return fmt.Errorf("stored ARN %q: %w", r.ARN, err)
			}
			out.ImageVersionList = append(out.ImageVersionList, gen.ImageVersion{
				Arn: a.VersionARN().String(), Name: img.Name, Type: img.Type, Version: img.Version,
				Platform: img.Platform, OsVersion: img.OsVersion, Owner: r.Account, DateCreated: img.DateCreated,
				BuildType: img.BuildType, ImageSource: img.ImageSource,
			})
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListImageBuildVersions lists the builds of an image version (every
// build of the caller's images when no version ARN is given).
func (s *Service) ListImageBuildVersions(ctx context.Context, in *gen.ListImageBuildVersionsRequest) (*gen.ListImageBuildVersionsResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	filters, err := newFilterSet(in.Filters, "name", "osVersion", "platform", "type", "version")
	if err != nil {
		return nil, err
	}
	var a ARN
	sel := Version{Wildcard, Wildcard, Wildcard}
	if in.ImageVersionArn != "" {
		a, err = ParseARN(in.ImageVersionArn)
		if err != nil || a.Type != imgKind || a.Version == "" || a.Build != 0 {
			return nil, apiError(gen.CodeInvalidRequest, "imageVersionArn %q must be an image version ARN (…:image/<name>/<version>)", in.ImageVersionArn)
		}
		sel, _ = ParseVersion(a.Version, true)
	}
	var out gen.ListImageBuildVersionsResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		out = gen.ListImageBuildVersionsResponse{}
		var all []*store.Resource
		if in.ImageVersionArn == "" {
			all, err = listByOwner(ctx, tx, c, imgKind, gen.OwnershipSelf)
		} else {
			all, err = tx.List(ctx, store.ListQuery{Kind: imgKind, Accounts: []string{a.Account}, Name: a.Name})
			all = inRegion(all, a.Region)
		}
		if err != nil {
			return err
		}
		var picked []*store.Resource
		bodies := map[string]*gen.Image{}
		for _, r := range all {
			v, err := ParseVersion(r.Version, false)
			if err != nil || !sel.Matches(v) || !readable(c, r) {
				continue
			}
			img, err := imgDecode(r)
			if err != nil {
				return err
			}
			if !imgMatches(filters, r, img) {
				continue
			}
			bodies[r.ARN] = img
			picked = append(picked, r)
		}
		page, next := paginate(picked, in.NextToken, in.MaxResults)
		for _, r := range page {
			out.ImageSummaryList = append(out.ImageSummaryList, imgSummary(r, bodies[r.ARN]))
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListImagePackages lists the packages installed in an image. Builds do
// not record packages yet, so an existing image has an empty list.
func (s *Service) ListImagePackages(ctx context.Context, in *gen.ListImagePackagesRequest) (*gen.ListImagePackagesResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	a, err := ParseARN(in.ImageBuildVersionArn)
	if err != nil || a.Type != imgKind || a.Build == 0 {
		return nil, notFound("image %q does not exist", in.ImageBuildVersionArn)
	}
	var out gen.ListImagePackagesResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		out = gen.ListImagePackagesResponse{}
		r, _, err := resolveBuild(ctx, tx, c, imgKind, in.ImageBuildVersionArn)
		if err != nil {
			return err
		}
		pkgs, err := engine.Packages(r)
		if err != nil {
			return err
		}
		start, end, next, err := pageIndex(len(pkgs), in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		out.ImagePackageList, out.NextToken = pkgs[start:end], next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListImagePipelineImages lists the images a pipeline created.
func (s *Service) ListImagePipelineImages(ctx context.Context, in *gen.ListImagePipelineImagesRequest) (*gen.ListImagePipelineImagesResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	filters, err := newFilterSet(in.Filters, "name", "version")
	if err != nil {
		return nil, err
	}
	var out gen.ListImagePipelineImagesResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		out = gen.ListImagePipelineImagesResponse{}
		pr, err := pipeReadable(ctx, tx, c, in.ImagePipelineArn)
		if err != nil {
			return err
		}
		all, err := tx.List(ctx, store.ListQuery{Kind: imgKind, Accounts: []string{pr.Account}})
		if err != nil {
			return err
		}
		var picked []*store.Resource
		bodies := map[string]*gen.Image{}
		for _, r := range all {
			if !strings.Contains(string(r.Body), pr.ARN) {
				continue
			}
			img, err := imgDecode(r)
			if err != nil {
				return err
			}
			if img.SourcePipelineArn != pr.ARN || !filters.match("name", img.Name, r.Name) || !filters.match("version", img.Version) {
				continue
			}
			bodies[r.ARN] = img
			picked = append(picked, r)
		}
		page, next := paginate(picked, in.NextToken, in.MaxResults)
		for _, r := range page {
			out.ImageSummaryList = append(out.ImageSummaryList, imgSummary(r, bodies[r.ARN]))
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
