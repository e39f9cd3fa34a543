package service

import (
	"context"

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
	return decodeAs[gen.DistributionConfiguration](r)
}

// GetDistributionConfiguration returns a distribution configuration.
func (s *Service) GetDistributionConfiguration(ctx context.Context, in *gen.GetDistributionConfigurationRequest) (*gen.GetDistributionConfigurationResponse, error) {
	dc, r, err := cfgView[gen.DistributionConfiguration](ctx, s, kindDistribution, in.DistributionConfigurationArn)
	if err != nil {
		return nil, err
	}
	dc.Tags = r.Tags
	return &gen.GetDistributionConfigurationResponse{DistributionConfiguration: dc}, nil
}

// ListDistributionConfigurations lists the caller's distribution
// configurations in the region (filter: name).
func (s *Service) ListDistributionConfigurations(ctx context.Context, in *gen.ListDistributionConfigurationsRequest) (*gen.ListDistributionConfigurationsResponse, error) {
	filters, err := newFilterSet(in.Filters, "name")
	if err != nil {
		return nil, err
	}
	items, next, err := listPage(ctx, s, kindDistribution, gen.OwnershipSelf, func(dc *gen.DistributionConfiguration, r *store.Resource) bool {
		return filters.match("name", dc.Name, r.Name)
	}, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := &gen.ListDistributionConfigurationsResponse{NextToken: next}
	for _, it := range items {
		dc := it.Body
		sum := gen.DistributionConfigurationSummary{
			Arn: it.R.ARN, Name: dc.Name, Description: dc.Description, DateCreated: dc.DateCreated,
			DateUpdated: dc.DateUpdated, Tags: it.R.Tags,
		}
		for _, d := range dc.Distributions {
			sum.Regions = append(sum.Regions, d.Region)
		}
		out.DistributionConfigurationSummaryList = append(out.DistributionConfigurationSummaryList, sum)
	}
	return out, nil
}

// DeleteDistributionConfiguration deletes a distribution configuration no
// pipeline or image references.
func (s *Service) DeleteDistributionConfiguration(ctx context.Context, in *gen.DeleteDistributionConfigurationRequest) (*gen.DeleteDistributionConfigurationResponse, error) {
	if err := s.cfgDelete(ctx, kindDistribution, in.DistributionConfigurationArn); err != nil {
		return nil, err
	}
	return &gen.DeleteDistributionConfigurationResponse{DistributionConfigurationArn: in.DistributionConfigurationArn}, nil
}
