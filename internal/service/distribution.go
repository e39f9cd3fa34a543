package service

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// defaultDistributionTimeoutMinutes is the timeoutMinutes every
// distribution configuration reports (the model requires the member and
// no request sets it).
const defaultDistributionTimeoutMinutes = 360

// CreateDistributionConfiguration stores a new distribution configuration.
func (s *Service) CreateDistributionConfiguration(ctx context.Context, in *gen.CreateDistributionConfigurationRequest) (*gen.CreateDistributionConfigurationResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.checkDistributions(c.Account, in.Distributions); err != nil {
		return nil, err
	}
	arn := cfgARN(c, kindDistribution, in.Name)
	now := s.now().UTC()
	timeout := int32(defaultDistributionTimeoutMinutes)
	b, err := cfgMarshal(kindDistribution, &gen.DistributionConfiguration{
		Arn: arn, Name: in.Name, Description: in.Description, Distributions: in.Distributions,
		TimeoutMinutes: &timeout, DateCreated: timestamp(now),
	})
	if err != nil {
		return nil, err
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		return cfgInsert(ctx, tx, &store.Resource{ARN: arn, Kind: kindDistribution, Account: c.Account,
			Name: Slug(in.Name), Created: now, Updated: now, Body: b, Tags: in.Tags}, in.Name)
	})
	if err != nil {
		return nil, err
	}
	return &gen.CreateDistributionConfigurationResponse{DistributionConfigurationArn: arn}, nil
}

// UpdateDistributionConfiguration replaces a distribution configuration's
// description and distributions; the name, tags and dateCreated stay.
func (s *Service) UpdateDistributionConfiguration(ctx context.Context, in *gen.UpdateDistributionConfigurationRequest) (*gen.UpdateDistributionConfigurationResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	arn := in.DistributionConfigurationArn
	err = s.st.Update(ctx, func(tx store.Tx) error {
		r, err := s.ownedResource(ctx, tx, c, kindDistribution, arn)
		if err != nil {
			return err
		}
		if err := s.checkDistributions(r.Account, in.Distributions); err != nil {
			return err
		}
		dc, err := decodeDistribution(r)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		dc.Description = in.Description
		dc.Distributions = in.Distributions
		dc.DateUpdated = timestamp(now)
		if dc.TimeoutMinutes == nil {
			timeout := int32(defaultDistributionTimeoutMinutes)
			dc.TimeoutMinutes = &timeout
		}
		if r.Body, err = cfgMarshal(kindDistribution, dc); err != nil {
			return err
		}
		r.Updated = now
		return tx.Replace(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return &gen.UpdateDistributionConfigurationResponse{DistributionConfigurationArn: arn}, nil
}

// decodeDistribution returns the stored body of a distribution
// configuration.
func decodeDistribution(r *store.Resource) (*gen.DistributionConfiguration, error) {
	var dc gen.DistributionConfiguration
	if err := json.Unmarshal(r.Body, &dc); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", r.ARN, err)
	}
	return &dc, nil
}

// GetDistributionConfiguration returns a distribution configuration.
func (s *Service) GetDistributionConfiguration(ctx context.Context, in *gen.GetDistributionConfigurationRequest) (*gen.GetDistributionConfigurationResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out gen.GetDistributionConfigurationResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		out = gen.GetDistributionConfigurationResponse{}
		r, err := cfgReadable(ctx, tx, c, kindDistribution, in.DistributionConfigurationArn)
		if err != nil {
			return err
		}
		dc, err := decodeDistribution(r)
		if err != nil {
			return err
		}
		dc.Tags = r.Tags
		out.DistributionConfiguration = dc
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListDistributionConfigurations lists the caller's distribution
// configurations in the region (filter: name).
func (s *Service) ListDistributionConfigurations(ctx context.Context, in *gen.ListDistributionConfigurationsRequest) (*gen.ListDistributionConfigurationsResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	filters, err := newFilterSet(in.Filters, "name")
	if err != nil {
		return nil, err
	}
	var out gen.ListDistributionConfigurationsResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		out = gen.ListDistributionConfigurationsResponse{}
		all, err := listByOwner(ctx, tx, c, kindDistribution, gen.OwnershipSelf)
		if err != nil {
			return err
		}
		var picked []*store.Resource
		bodies := map[string]*gen.DistributionConfiguration{}
		for _, r := range all {
			dc, err := decodeDistribution(r)
			if err != nil {
				return err
			}
			if !filters.match("name", dc.Name, r.Name) {
				continue
			}
			bodies[r.ARN] = dc
			picked = append(picked, r)
		}
		page, next := paginate(picked, in.NextToken, in.MaxResults)
		for _, r := range page {
			dc := bodies[r.ARN]
			sum := gen.DistributionConfigurationSummary{
				Arn: r.ARN, Name: dc.Name, Description: dc.Description, DateCreated: dc.DateCreated,
				DateUpdated: dc.DateUpdated, Tags: r.Tags,
			}
			for _, d := range dc.Distributions {
				sum.Regions = append(sum.Regions, d.Region)
			}
			out.DistributionConfigurationSummaryList = append(out.DistributionConfigurationSummaryList, sum)
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteDistributionConfiguration deletes a distribution configuration no
// pipeline or image references.
func (s *Service) DeleteDistributionConfiguration(ctx context.Context, in *gen.DeleteDistributionConfigurationRequest) (*gen.DeleteDistributionConfigurationResponse, error) {
	if err := s.cfgDelete(ctx, kindDistribution, in.DistributionConfigurationArn); err != nil {
		return nil, err
	}
	return &gen.DeleteDistributionConfigurationResponse{DistributionConfigurationArn: in.DistributionConfigurationArn}, nil
}
