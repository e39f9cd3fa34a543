package service

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
	"github.com/goldsmith/goldsmith/internal/workflowdoc"
)

// workflowKinds are the store kinds of workflows, one per type.
var workflowKinds = []string{"workflow/build", "workflow/test", "workflow/distribution"}

// workflowKind returns the store kind (and ARN type) of a workflow type:
// BUILD → "workflow/build".
func workflowKind(t gen.WorkflowType) string { return "workflow/" + strings.ToLower(string(t)) }

// isWorkflowKind reports whether kind is one of the workflow kinds.
func isWorkflowKind(kind string) bool {
	for _, k := range workflowKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// encryptedWorkflowPrefix marks a stored gen.Workflow whose Data holds the
// document encrypted under KmsKeyId (base64 of the ciphertext, bound to
// the build-version ARN). workflowOf decrypts it.
const encryptedWorkflowPrefix = "goldsmith-encrypted:v1:"

// newWorkflow is a validated CreateWorkflow request.
type newWorkflow struct {
	account, region string
	name, version   string
	typ             gen.WorkflowType
	description     string
	changeDesc      string
	data            string // plaintext document
	kmsKeyID        string
	params          []gen.WorkflowParameterDetail
	tags            map[string]string
}

// CreateWorkflow creates a new build of a workflow version from an inline
// document or one read from a uri. The document is validated (schema,
// steps, actions and inputs, references, parameters, stage rules); an
// identical document and metadata is refused as already in use, a changed
// one becomes the next build.
func (s *Service) CreateWorkflow(ctx context.Context, in *gen.CreateWorkflowRequest) (*gen.CreateWorkflowResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	ver, err := ParseVersion(in.SemanticVersion, false)
	if err != nil {
		return nil, apiError(gen.CodeInvalidVersionNumber, "semanticVersion %q: %v", in.SemanticVersion, err)
	}
	switch in.Type {
	case gen.WorkflowTypeBUILD, gen.WorkflowTypeTEST, gen.WorkflowTypeDISTRIBUTION:
	default:
		return nil, invalidValue("type %q is not a workflow type; use BUILD, TEST or DISTRIBUTION", in.Type)
	}
	switch {
	case in.Data != "" && in.Uri != "":
		return nil, apiError(gen.CodeInvalidParameterCombination, "specify either data or uri, not both")
	case in.Data == "" && in.Uri == "":
		return nil, apiError(gen.CodeInvalidRequest, "one of data or uri is required")
	}
	doc := []byte(in.Data)
	if in.Uri != "" {
		if doc, err = s.fetch(ctx, in.Uri); err != nil {
			return nil, err
		}
	}
	params, err := inspectWorkflow(in.Name, in.Type, doc)
	if err != nil {
		return nil, err
	}
	if in.KmsKeyId != "" && s.keys == nil {
		return nil, invalidValue("kmsKeyId %q cannot be used: no key store is configured", in.KmsKeyId)
	}
	nw := newWorkflow{
		account: c.Account, region: c.Region, name: in.Name, version: ver.String(), typ: in.Type,
		description: in.Description, changeDesc: in.ChangeDescription, data: string(doc),
		kmsKeyID: in.KmsKeyId, params: params, tags: in.Tags,
	}
	var arn string
	var refs *gen.LatestVersionReferences
	err = s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		arn, refs, err = s.insertWorkflow(ctx, tx, nw, in.DryRun != nil && *in.DryRun)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &gen.CreateWorkflowResponse{ClientToken: in.ClientToken, WorkflowBuildVersionArn: arn, LatestVersionReferences: refs}, nil
}

// inspectWorkflow validates a workflow document for its type and returns
// the parameters it declares, as GetWorkflow reports them.
func inspectWorkflow(name string, typ gen.WorkflowType, data []byte) ([]gen.WorkflowParameterDetail, error) {
	file := "workflow " + name
	doc, err := workflowdoc.Parse(file, data)
	if err == nil {
		err = doc.CheckType(file, string(typ))
	}
	if err != nil {
		return nil, invalidValue("workflow document is not valid: %v", err)
	}
	var out []gen.WorkflowParameterDetail
	for _, p := range doc.Parameters {
		d := gen.WorkflowParameterDetail{Name: p.Name, Type: p.Type, DefaultValue: p.Default}
		if p.Description != "" {
			desc := p.Description
			d.Description = &desc
		}
		out = append(out, d)
	}
	return out, nil
}

// insertWorkflow stores the next build of a workflow version inside tx.
// It refuses an identical build (ResourceInUseException) and, with dryRun,
// stops with DryRunOperationException where it would have succeeded.
func (s *Service) insertWorkflow(ctx context.Context, tx store.Tx, nw newWorkflow, dryRun bool) (string, *gen.LatestVersionReferences, error) {
	kind := workflowKind(nw.typ)
	base := ARN{Partition: "aws", Region: nw.region, Account: nw.account, Type: kind, Name: Slug(nw.name), Version: nw.version}
	existing, err := tx.List(ctx, store.ListQuery{Kind: kind, Accounts: []string{nw.account}, Name: base.Name})
	if err != nil {
		return "", nil, err
	}
	existing = inRegion(existing, nw.region)
	build := 0
	for _, r := range existing {
		if r.Version != base.Version {
			continue
		}
		prev, err := s.workflowOf(ctx, r, true)
		if err != nil {
			return "", nil, err
		}
		if prev.Name == nw.name && prev.Description == nw.description && prev.ChangeDescription == nw.changeDesc &&
			prev.KmsKeyId == nw.kmsKeyID && prev.Data == nw.data {
			return "", nil, apiError(gen.CodeResourceInUse, "workflow %s already holds this exact document and metadata as %s", base, r.ARN)
		}
		build = max(build, r.Build)
	}
	if dryRun {
		return "", nil, apiError(gen.CodeDryRunOperation, "Request would have succeeded, but DryRun flag is set.")
	}
	b := base
	b.Build = build + 1
	arn := b.String()
	now := s.now().UTC()
	w := gen.Workflow{
		Arn: arn, Name: nw.name, Version: nw.version, Description: nw.description, ChangeDescription: nw.changeDesc,
		Type: nw.typ, Owner: nw.account, Data: nw.data, KmsKeyId: nw.kmsKeyID, DateCreated: timestamp(now),
		Parameters: nw.params,
	}
	if nw.kmsKeyID != "" {
		ct, err := s.keys.Encrypt(ctx, nw.kmsKeyID, []byte(nw.data), []byte(arn))
		if err != nil {
			return "", nil, invalidValue("kmsKeyId %q: %v", nw.kmsKeyID, err)
		}
		w.Data = encryptedWorkflowPrefix + base64.StdEncoding.EncodeToString(ct)
	}
	body, err := json.Marshal(&w)
	if err != nil {
		return "", nil, fmt.Errorf("encoding workflow: %w", err)
	}
	r := &store.Resource{ARN: arn, Kind: kind, Account: nw.account, Name: b.Name, Version: b.Version,
		Build: b.Build, Created: now, Updated: now, Body: body, Tags: nw.tags}
	if err := tx.Insert(ctx, r); err != nil {
		if errors.Is(err, store.ErrExists) {
			return "", nil, apiError(gen.CodeResourceInUse, "workflow %s is being created by another request; retry", arn)
		}
		return "", nil, err
	}
	v, _ := ParseVersion(nw.version, false)
	return arn, latestRefs(append(existing, r), v), nil
}

// workflowOf renders a stored workflow build: the body with the store's
// ARN, owner, creation date and tags; withData decrypts the document
// (without it Data is left out).
func (s *Service) workflowOf(ctx context.Context, r *store.Resource, withData bool) (*gen.Workflow, error) {
	var w gen.Workflow
	if err := json.Unmarshal(r.Body, &w); err != nil {
		return nil, fmt.Errorf("decoding workflow %s: %w", r.ARN, err)
	}
	w.Arn, w.Owner, w.Version, w.DateCreated, w.Tags = r.ARN, r.Account, r.Version, timestamp(r.Created), r.Tags
	if !withData {
		w.Data = ""
		return &w, nil
	}
	if enc, ok := strings.CutPrefix(w.Data, encryptedWorkflowPrefix); ok {
		if s.keys == nil {
			return nil, fmt.Errorf("workflow %s is encrypted but no key store is configured", r.ARN)
		}
		ct, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return nil, fmt.Errorf("workflow %s: encrypted document: %w", r.ARN, err)
		}
		doc, err := s.keys.Decrypt(ctx, w.KmsKeyId, ct, []byte(r.ARN))
		if err != nil {
			return nil, fmt.Errorf("decrypting workflow %s: %w", r.ARN, err)
		}
		w.Data = string(doc)
	}
	return &w, nil
}

// workflowARN parses a workflow ARN given to GetWorkflow, DeleteWorkflow or
// ListWorkflowBuildVersions.
func workflowARN(arn string) (ARN, bool) {
	a, err := ParseARN(arn)
	if err != nil || !isWorkflowKind(a.Type) || a.Version == "" {
		return ARN{}, false
	}
	return a, true
}

// GetWorkflow returns a workflow build: the exact build of a build-version
// ARN, or the newest build matching a version ARN (wildcards allowed).
func (s *Service) GetWorkflow(ctx context.Context, in *gen.GetWorkflowRequest) (*gen.GetWorkflowResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	a, ok := workflowARN(in.WorkflowBuildVersionArn)
	if !ok {
		return nil, notFound("workflow %q does not exist", in.WorkflowBuildVersionArn)
	}
	var out gen.GetWorkflowResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		out = gen.GetWorkflowResponse{}
		r, all, err := resolveBuild(ctx, tx, c, a.Type, in.WorkflowBuildVersionArn)
		if err != nil {
			return err
		}
		w, err := s.workflowOf(ctx, r, true)
		if err != nil {
			return err
		}
		out.Workflow = w
		v, _ := ParseVersion(r.Version, false)
		out.LatestVersionReferences = latestRefs(all, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteWorkflow deletes one workflow build that no pipeline or image
// references (by its build-version or version ARN).
func (s *Service) DeleteWorkflow(ctx context.Context, in *gen.DeleteWorkflowRequest) (*gen.DeleteWorkflowResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	arn := in.WorkflowBuildVersionArn
	a, ok := workflowARN(arn)
	if !ok || a.Build == 0 {
		return nil, notFound("workflow %q does not exist (DeleteWorkflow takes a build-version ARN: .../workflow/<type>/<name>/<x.y.z>/<build>)", arn)
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		r, err := s.ownedResource(ctx, tx, c, a.Type, arn)
		if err != nil {
			return err
		}
		users, err := dependants(ctx, tx, r)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return apiError(gen.CodeResourceDependency, "workflow %s is still used by %s", arn, strings.Join(users, ", "))
		}
		return tx.Delete(ctx, r.ARN)
	})
	if err != nil {
		return nil, err
	}
	return &gen.DeleteWorkflowResponse{WorkflowBuildVersionArn: arn}, nil
}
