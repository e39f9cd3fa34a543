package service

import (
	"context"
	"fmt"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// ListComponents lists component versions (the newest build of each), or
// with byName the newest version of each component name.
func (s *Service) ListComponents(ctx context.Context, in *gen.ListComponentsRequest) (*gen.ListComponentsResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	filters, err := newFilterSet(in.Filters, "description", "name", "platform", "supportedOsVersion", "type", "version")
	if err != nil {
		return nil, err
	}
	byName := in.ByName != nil && *in.ByName
	var out gen.ListComponentsResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		out = gen.ListComponentsResponse{}
		all, err := listByOwner(ctx, tx, c, kindComponent, in.Owner)
		if err != nil {
			return err
		}
		var picked []*store.Resource
		recs := map[string]*componentRecord{}
		for _, r := range newestPerVersion(all, byName) {
			rec, err := s.decodeComponent(r)
			if err != nil {
				return err
			}
			if !filters.match("name", rec.DisplayName, r.Name) || !filters.match("platform", string(rec.Platform)) ||
				!filters.match("type", string(rec.Type)) || !filters.match("version", r.Version) ||
				!filters.match("description", rec.Description) || !filters.match("supportedOsVersion", rec.SupportedOsVersions...) {
				continue
			}
			recs[r.ARN] = rec
			picked = append(picked, r)
		}
		page, next := paginate(picked, in.NextToken, in.MaxResults)
		for _, r := range page {
			rec := recs[r.ARN]
			a, err := ParseARN(r.ARN)
			if err != nil {
				return fmt.Errorf("stored ARN %q: %w", r.ARN, err)
			}
			out.ComponentVersionList = append(out.ComponentVersionList, gen.ComponentVersion{
				Arn: a.VersionARN().String(), Name: rec.DisplayName, Version: r.Version,
				Description: rec.Description, Platform: rec.Platform, SupportedOsVersions: rec.SupportedOsVersions,
				Type: rec.Type, Owner: r.Account, DateCreated: timestamp(r.Created), Status: rec.Status,
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

// ListComponentBuildVersions lists every build of a component version
// (wildcards allowed in the version ARN).
func (s *Service) ListComponentBuildVersions(ctx context.Context, in *gen.ListComponentBuildVersionsRequest) (*gen.ListComponentBuildVersionsResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.ComponentVersionArn == "" {
		return nil, apiError(gen.CodeInvalidRequest, "componentVersionArn is required")
	}
	a, err := ParseARN(in.ComponentVersionArn)
	if err != nil || a.Type != kindComponent || a.Version == "" || a.Build != 0 {
		return nil, apiError(gen.CodeInvalidRequest, "componentVersionArn %q must be a component version ARN (.../component/<name>/<version>)", in.ComponentVersionArn)
	}
	var out gen.ListComponentBuildVersionsResponse
	sel, _ := ParseVersion(a.Version, true)
	err = s.st.View(ctx, func(tx store.Tx) error {
		out = gen.ListComponentBuildVersionsResponse{}
		all, err := tx.List(ctx, store.ListQuery{Kind: kindComponent, Accounts: []string{a.Account}, Name: a.Name})
		if err != nil {
			return err
		}
		var picked []*store.Resource
		for _, r := range inRegion(all, a.Region) {
			if v, err := ParseVersion(r.Version, false); err == nil && sel.Matches(v) && readable(c, r) {
				picked = append(picked, r)
			}
		}
		page, next := paginate(picked, in.NextToken, in.MaxResults)
		for _, r := range page {
			rec, err := s.decodeComponent(r)
			if err != nil {
				return err
			}
			out.ComponentSummaryList = append(out.ComponentSummaryList, gen.ComponentSummary{
				Arn: r.ARN, Name: rec.DisplayName, Version: r.Version, Platform: rec.Platform,
				SupportedOsVersions: rec.SupportedOsVersions, State: &gen.ComponentState{Status: rec.Status},
				Type: rec.Type, Owner: r.Account, Description: rec.Description,
				ChangeDescription: rec.ChangeDescription, DateCreated: timestamp(r.Created), Tags: r.Tags,
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
