package service

import (
	"context"
	"errors"
	"maps"
	"strings"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// maxTags is the number of tags a resource may carry.
const maxTags = 50

// taggable returns the caller's resource named by an exact ARN.
func taggable(ctx context.Context, tx store.Tx, c Caller, arn string) (*store.Resource, error) {
	if _, err := ParseARN(arn); err != nil {
		return nil, apiError(gen.CodeInvalidParameter, "resourceArn: %v", err)
	}
	r, err := tx.Get(ctx, arn)
	if errors.Is(err, store.ErrNotFound) || (err == nil && r.Account != c.Account) {
		return nil, notFound("resource %q does not exist", arn)
	}
	return r, err
}

// TagResource adds or replaces tags on a resource.
func (s *Service) TagResource(ctx context.Context, in *gen.TagResourceRequest) (*gen.TagResourceResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	for k := range in.Tags {
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, apiError(gen.CodeInvalidParameter, "tag key %q: the aws: prefix is reserved", k)
		}
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		r, err := taggable(ctx, tx, c, in.ResourceArn)
		if err != nil {
			return err
		}
		tags := maps.Clone(r.Tags)
		if tags == nil {
			tags = map[string]string{}
		}
		maps.Copy(tags, in.Tags)
		if len(tags) > maxTags {
			return apiError(gen.CodeInvalidParameter, "resource %s would carry %d tags; at most %d are allowed", in.ResourceArn, len(tags), maxTags)
		}
		r.Tags = tags
		r.Updated = s.now().UTC()
		return tx.Replace(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return &gen.TagResourceResponse{}, nil
}

// UntagResource removes tags from a resource; absent keys are ignored.
func (s *Service) UntagResource(ctx context.Context, in *gen.UntagResourceRequest) (*gen.UntagResourceResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		r, err := taggable(ctx, tx, c, in.ResourceArn)
		if err != nil {
			return err
		}
		tags := maps.Clone(r.Tags)
		for _, k := range in.TagKeys {
			delete(tags, k)
		}
		r.Tags = tags
		r.Updated = s.now().UTC()
		return tx.Replace(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return &gen.UntagResourceResponse{}, nil
}

// ListTagsForResource returns a resource's tags.
func (s *Service) ListTagsForResource(ctx context.Context, in *gen.ListTagsForResourceRequest) (*gen.ListTagsForResourceResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out gen.ListTagsForResourceResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		r, err := taggable(ctx, tx, c, in.ResourceArn)
		if err != nil {
			return err
		}
		out.Tags = r.Tags
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	return &out, nil
}
