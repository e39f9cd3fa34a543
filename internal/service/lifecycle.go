package service

import (
	"context"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// CreateLifecyclePolicy stores a new lifecycle policy. Policies are not
// executed yet: executions come with the scheduling issue.
func (s *Service) CreateLifecyclePolicy(ctx context.Context, in *gen.CreateLifecyclePolicyRequest) (*gen.CreateLifecyclePolicyResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !lifecycleRegion.MatchString(c.Region) {
		return nil, apiError(gen.CodeInvalidRequest, "lifecycle policies need a region like us-east-1; the request was signed for region %q", c.Region)
	}
	sp := lifecycleSpec{Description: in.Description, Status: in.Status, ExecutionRole: in.ExecutionRole,
		ResourceType: in.ResourceType, PolicyDetails: in.PolicyDetails, ResourceSelection: in.ResourceSelection}
	if err := s.checkLifecycle(c, &sp); err != nil {
		return nil, err
	}
	arn := cfgARN(c, kindLifecycle, in.Name)
	now := s.now().UTC()
	b, err := cfgMarshal(kindLifecycle, &gen.LifecyclePolicy{
		Arn: arn, Name: in.Name, Description: sp.Description, Status: sp.Status, ExecutionRole: sp.ExecutionRole,
		ResourceType: sp.ResourceType, PolicyDetails: sp.PolicyDetails, ResourceSelection: sp.ResourceSelection,
		DateCreated: gen.NewEpochTime(now),
	})
	if err != nil {
		return nil, err
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		return cfgInsert(ctx, tx, &store.Resource{ARN: arn, Kind: kindLifecycle, Account: c.Account,
			Name: Slug(in.Name), Created: now, Updated: now, Body: b, Tags: in.Tags}, in.Name)
	})
	if err != nil {
		return nil, err
	}
	return &gen.CreateLifecyclePolicyResponse{LifecyclePolicyArn: arn}, nil
}

// UpdateLifecyclePolicy replaces a lifecycle policy's settings; the name,
// tags, dateCreated and dateLastRun stay.
func (s *Service) UpdateLifecyclePolicy(ctx context.Context, in *gen.UpdateLifecyclePolicyRequest) (*gen.UpdateLifecyclePolicyResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	sp := lifecycleSpec{Description: in.Description, Status: in.Status, ExecutionRole: in.ExecutionRole,
		ResourceType: in.ResourceType, PolicyDetails: in.PolicyDetails, ResourceSelection: in.ResourceSelection}
	arn := in.LifecyclePolicyArn
	err = s.st.Update(ctx, func(tx store.Tx) error {
		r, err := s.ownedResource(ctx, tx, c, kindLifecycle, arn)
		if err != nil {
			return err
		}
		if err := s.checkLifecycle(c, &sp); err != nil {
			return err
		}
		lp, err := decodeLifecycle(r)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		lp.Description, lp.Status, lp.ExecutionRole = sp.Description, sp.Status, sp.ExecutionRole
		lp.ResourceType, lp.PolicyDetails, lp.ResourceSelection = sp.ResourceType, sp.PolicyDetails, sp.ResourceSelection
		lp.DateUpdated = gen.NewEpochTime(now)
		if r.Body, err = cfgMarshal(kindLifecycle, lp); err != nil {
			return err
		}
		r.Updated = now
		return tx.Replace(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return &gen.UpdateLifecyclePolicyResponse{LifecyclePolicyArn: arn}, nil
}

// decodeLifecycle returns the stored body of a lifecycle policy.
func decodeLifecycle(r *store.Resource) (*gen.LifecyclePolicy, error) {
	return decodeAs[gen.LifecyclePolicy](r)
}

// GetLifecyclePolicy returns a lifecycle policy.
func (s *Service) GetLifecyclePolicy(ctx context.Context, in *gen.GetLifecyclePolicyRequest) (*gen.GetLifecyclePolicyResponse, error) {
	lp, r, err := cfgView[gen.LifecyclePolicy](ctx, s, kindLifecycle, in.LifecyclePolicyArn)
	if err != nil {
		return nil, err
	}
	lp.Tags = r.Tags
	return &gen.GetLifecyclePolicyResponse{LifecyclePolicy: lp}, nil
}

// ListLifecyclePolicies lists the caller's lifecycle policies in the region
// (filters: Name, Status).
func (s *Service) ListLifecyclePolicies(ctx context.Context, in *gen.ListLifecyclePoliciesRequest) (*gen.ListLifecyclePoliciesResponse, error) {
	filters, err := newFilterSet(in.Filters, "Name", "Status")
	if err != nil {
		return nil, err
	}
	items, next, err := listPage(ctx, s, kindLifecycle, gen.OwnershipSelf, func(lp *gen.LifecyclePolicy, r *store.Resource) bool {
		return filters.match("Name", lp.Name, r.Name) && filters.match("Status", string(lp.Status))
	}, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := &gen.ListLifecyclePoliciesResponse{NextToken: next}
	for _, it := range items {
		lp := it.Body
		out.LifecyclePolicySummaryList = append(out.LifecyclePolicySummaryList, gen.LifecyclePolicySummary{
			Arn: it.R.ARN, Name: lp.Name, Description: lp.Description, Status: lp.Status, ExecutionRole: lp.ExecutionRole,
			ResourceType: lp.ResourceType, DateCreated: lp.DateCreated, DateUpdated: lp.DateUpdated,
			DateLastRun: lp.DateLastRun, Tags: it.R.Tags,
		})
	}
	return out, nil
}

// DeleteLifecyclePolicy deletes a lifecycle policy.
func (s *Service) DeleteLifecyclePolicy(ctx context.Context, in *gen.DeleteLifecyclePolicyRequest) (*gen.DeleteLifecyclePolicyResponse, error) {
	if err := s.cfgDelete(ctx, kindLifecycle, in.LifecyclePolicyArn); err != nil {
		return nil, err
	}
	return &gen.DeleteLifecyclePolicyResponse{LifecyclePolicyArn: in.LifecyclePolicyArn}, nil
}
