package service

import (
	"context"
	"fmt"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// ListWorkflows lists workflow versions (the newest build of each) of every
// type, or with byName the newest version of each workflow name. Filters:
// name, type, version.
func (s *Service) ListWorkflows(ctx context.Context, in *gen.ListWorkflowsRequest) (*gen.ListWorkflowsResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	filters, err := newFilterSet(in.Filters, "name", "type", "version")
	if err != nil {
		return nil, err
	}
	byName := in.ByName != nil && *in.ByName
	var out gen.ListWorkflowsResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		out = gen.ListWorkflowsResponse{}
		var all []*store.Resource
		for _, kind := range workflowKinds {
			rs, err := listByOwner(ctx, tx, c, kind, in.Owner)
			if err != nil {
				return err
			}
			all = append(all, rs...)
		}
		var picked []*store.Resource
		ws := map[string]*gen.Workflow{}
		for _, r := range newestPerVersion(all, byName) {
			w, err := s.workflowOf(ctx, r, false)
			if err != nil {
				return err
			}
			if !filters.match("name", w.Name, r.Name) || !filters.match("type", string(w.Type)) || !filters.match("version", r.Version) {
				continue
			}
			ws[r.ARN] = w
			picked = append(picked, r)
		}
		page, next := paginate(picked, in.NextToken, in.MaxResults)
		for _, r := range page {
			w := ws[r.ARN]
			a, err := ParseARN(r.ARN)
			if err != nil {
				return fmt.Errorf("stored ARN %q: %w", r.ARN, err)
			}
			out.WorkflowVersionList = append(out.WorkflowVersionList, gen.WorkflowVersion{
				Arn: a.VersionARN().String(), Name: w.Name, Version: r.Version, Description: w.Description,
				Type: w.Type, Owner: r.Account, DateCreated: timestamp(r.Created),
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

// ListWorkflowBuildVersions lists every build of the workflow versions a
// version ARN selects (wildcards allowed) that the caller may read.
func (s *Service) ListWorkflowBuildVersions(ctx context.Context, in *gen.ListWorkflowBuildVersionsRequest) (*gen.ListWorkflowBuildVersionsResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.WorkflowVersionArn == "" {
		return nil, apiError(gen.CodeInvalidRequest, "workflowVersionArn is required")
	}
	a, ok := workflowARN(in.WorkflowVersionArn)
	if !ok || a.Build != 0 {
		return nil, apiError(gen.CodeInvalidRequest, "workflowVersionArn %q must be a workflow version ARN (.../workflow/<build|test|distribution>/<name>/<version>)", in.WorkflowVersionArn)
	}
	sel, _ := ParseVersion(a.Version, true)
	var out gen.ListWorkflowBuildVersionsResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		out = gen.ListWorkflowBuildVersionsResponse{}
		all, err := tx.List(ctx, store.ListQuery{Kind: a.Type, Accounts: []string{a.Account}, Name: a.Name})
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
			w, err := s.workflowOf(ctx, r, false)
			if err != nil {
				return err
			}
			out.WorkflowSummaryList = append(out.WorkflowSummaryList, gen.WorkflowSummary{
				Arn: r.ARN, Name: w.Name, Version: r.Version, Description: w.Description,
				ChangeDescription: w.ChangeDescription, Type: w.Type, Owner: r.Account, State: w.State,
				DateCreated: timestamp(r.Created), Tags: r.Tags,
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
