package service

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// checkPolicy accepts a resource policy: a JSON object with a Statement.
func checkPolicy(policy string) error {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return invalidValue("policy is not a JSON object: %v", err)
	}
	st, ok := doc["Statement"]
	if !ok {
		return invalidValue("policy has no Statement")
	}
	if t := strings.TrimSpace(string(st)); t == "" || (t[0] != '[' && t[0] != '{') {
		return invalidValue("policy Statement must be an object or a list of objects, not %s", t)
	}
	return nil
}

// putPolicy stores a policy on an owned resource.
func (s *Service) putPolicy(ctx context.Context, kind, arn, policy string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if err := checkPolicy(policy); err != nil {
		return err
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		r, err := s.ownedResource(ctx, tx, c, kind, arn)
		if err != nil {
			return err
		}
		r.Policy = policy
		r.Updated = s.now().UTC()
		return tx.Replace(ctx, r)
	})
}

// getPolicy returns the policy of a readable resource.
func (s *Service) getPolicy(ctx context.Context, kind, arn string) (string, error) {
	c, err := caller(ctx)
	if err != nil {
		return "", err
	}
	var policy string
	err = s.st.View(ctx, func(tx store.Tx) error {
		r, err := s.ownedResource(ctx, tx, c, kind, arn)
		if err != nil {
			return err
		}
		if r.Policy == "" {
			return notFound("%s %q has no resource policy", kind, arn)
		}
		policy = r.Policy
		return nil
	})
	return policy, err
}

// PutComponentPolicy sets the resource policy of a component build.
func (s *Service) PutComponentPolicy(ctx context.Context, in *gen.PutComponentPolicyRequest) (*gen.PutComponentPolicyResponse, error) {
	if err := s.putPolicy(ctx, kindComponent, in.ComponentArn, in.Policy); err != nil {
		return nil, err
	}
	return &gen.PutComponentPolicyResponse{ComponentArn: in.ComponentArn}, nil
}

// GetComponentPolicy returns the resource policy of a component build.
func (s *Service) GetComponentPolicy(ctx context.Context, in *gen.GetComponentPolicyRequest) (*gen.GetComponentPolicyResponse, error) {
	p, err := s.getPolicy(ctx, kindComponent, in.ComponentArn)
	if err != nil {
		return nil, err
	}
	return &gen.GetComponentPolicyResponse{Policy: p}, nil
}
