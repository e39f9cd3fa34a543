package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// This file holds what the three unversioned configuration kinds share
// (infrastructure configurations, distribution configurations, lifecycle
// policies): one resource per name, replaced whole by Update*, deleted
// only when nothing references it.

const (
	kindInfrastructure = "infrastructure-configuration"
	kindDistribution   = "distribution-configuration"
	kindLifecycle      = "lifecycle-policy"
)

// cfgARN is the ARN a configuration of kind named name gets in the
// caller's account and region.
func cfgARN(c Caller, kind, name string) string {
	return ARN{Partition: "aws", Region: c.Region, Account: c.Account, Type: kind, Name: Slug(name)}.String()
}

// cfgInsert stores a new configuration; an existing ARN (the same name,
// or one with the same slug) is ResourceAlreadyExistsException.
func cfgInsert(ctx context.Context, tx store.Tx, r *store.Resource, name string) error {
	if prev, err := tx.Get(ctx, r.ARN); err == nil {
		var head struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(prev.Body, &head)
		if head.Name != "" && head.Name != name {
			return apiError(gen.CodeResourceAlreadyExists, "%s %q already exists as %s (named %q); names that differ only in case or spaces share an ARN", r.Kind, name, r.ARN, head.Name)
		}
		return apiError(gen.CodeResourceAlreadyExists, "%s %q already exists as %s", r.Kind, name, r.ARN)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := tx.Insert(ctx, r); err != nil {
		if errors.Is(err, store.ErrExists) {
			return apiError(gen.CodeResourceAlreadyExists, "%s %q already exists as %s", r.Kind, name, r.ARN)
		}
		return err
	}
	return nil
}

// cfgReadable returns the configuration an exact ARN names if the
// caller may read it; ResourceNotFoundException otherwise.
func cfgReadable(ctx context.Context, tx store.Tx, c Caller, kind, arn string) (*store.Resource, error) {
	r, err := tx.Get(ctx, arn)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (r.Kind != kind || !readable(c, r))) {
		return nil, notFound("%s %q does not exist", kind, arn)
	}
	return r, err
}

// cfgRefuseIfReferenced returns ResourceDependencyException naming the
// resources (pipelines, images) that still reference arn.
func cfgRefuseIfReferenced(ctx context.Context, tx store.Tx, kind, arn string) error {
	users, err := tx.RefsTo(ctx, arn)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return apiError(gen.CodeResourceDependency, "%s %s is still used by %s", kind, arn, strings.Join(users, ", "))
	}
	return nil
}

// cfgDelete deletes an owned configuration nothing references.
func (s *Service) cfgDelete(ctx context.Context, kind, arn string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		r, err := s.ownedResource(ctx, tx, c, kind, arn)
		if err != nil {
			return err
		}
		if err := cfgRefuseIfReferenced(ctx, tx, kind, r.ARN); err != nil {
			return err
		}
		return tx.Delete(ctx, r.ARN)
	})
}

// cfgMarshal encodes a resource body.
func cfgMarshal(kind string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", kind, err)
	}
	return b, nil
}

// cfgUnique reports the first value of a list that repeats an earlier
// one: field[i] duplicates field[j].
func cfgUnique(field string, values []string) error {
	seen := map[string]int{}
	for i, v := range values {
		if j, ok := seen[v]; ok {
			return invalidValue("%s[%d]: %q is already listed at %s[%d]", field, i, v, field, j)
		}
		seen[v] = i
	}
	return nil
}

// decodeAs decodes a stored body (the JSON of the resource's gen type).
func decodeAs[T any](r *store.Resource) (*T, error) {
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", r.ARN, err)
	}
	return &v, nil
}

// cfgView returns the configuration an exact ARN names, decoded, if the
// caller may read it.
func cfgView[T any](ctx context.Context, s *Service, kind, arn string) (*T, *store.Resource, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	var body *T
	var res *store.Resource
	err = s.st.View(ctx, func(tx store.Tx) error {
		r, err := cfgReadable(ctx, tx, c, kind, arn)
		if err != nil {
			return err
		}
		if body, err = decodeAs[T](r); err != nil {
			return err
		}
		res = r
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return body, res, nil
}

// listItem is one listed resource with its decoded body.
type listItem[T any] struct {
	R    *store.Resource
	Body *T
}

// listPage lists the resources of kind the Ownership selects in the
// caller's region, decodes them, keeps those keep accepts, and returns the
// page after token and the next cursor.
func listPage[T any](ctx context.Context, s *Service, kind string, owner gen.Ownership, keep func(*T, *store.Resource) bool, token string, maxResults *int32) ([]listItem[T], string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	var items []listItem[T]
	var next string
	err = s.st.View(ctx, func(tx store.Tx) error {
		items, next = nil, ""
		all, err := listByOwner(ctx, tx, c, kind, owner)
		if err != nil {
			return err
		}
		var picked []*store.Resource
		bodies := map[string]*T{}
		for _, r := range all {
			b, err := decodeAs[T](r)
			if err != nil {
				return err
			}
			if keep(b, r) {
				bodies[r.ARN] = b
				picked = append(picked, r)
			}
		}
		var page []*store.Resource
		page, next = paginate(picked, token, maxResults)
		for _, r := range page {
			items = append(items, listItem[T]{R: r, Body: bodies[r.ARN]})
		}
		return nil
	})
	return items, next, err
}
