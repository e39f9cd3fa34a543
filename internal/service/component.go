package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

const (
	kindComponent = "component"
	// maxDocumentBytes bounds a component document fetched from a uri.
	maxDocumentBytes = 1 << 20
)

// componentRecord is the stored body of one component build version.
type componentRecord struct {
	DisplayName         string                         `json:"name"`
	Description         string                         `json:"description,omitempty"`
	ChangeDescription   string                         `json:"changeDescription,omitempty"`
	Type                gen.ComponentType              `json:"type"`
	Platform            gen.Platform                   `json:"platform"`
	SupportedOsVersions []string                       `json:"supportedOsVersions,omitempty"`
	Data                string                         `json:"data,omitempty"`       // the document, when not encrypted
	Ciphertext          []byte                         `json:"ciphertext,omitempty"` // the document, encrypted under KmsKeyID
	KmsKeyID            string                         `json:"kmsKeyId,omitempty"`
	Parameters          []gen.ComponentParameterDetail `json:"parameters,omitempty"`
	Digest              string                         `json:"digest"` // sha256 of the document and metadata
	Status              gen.ComponentStatus            `json:"status"`
}

// newComponent is what CreateComponent and ImportComponent have in common.
type newComponent struct {
	name, version, description, changeDescription string
	typ                                           gen.ComponentType // "" = derive from the document
	platform                                      gen.Platform
	supportedOsVersions                           []string
	data, uri, kmsKeyID                           string
	tags                                          map[string]string
	dryRun                                        bool
}

// CreateComponent creates a new build of a component version from an
// inline document or one read from a uri.
func (s *Service) CreateComponent(ctx context.Context, in *gen.CreateComponentRequest) (*gen.CreateComponentResponse, error) {
	arn, refs, err := s.createComponent(ctx, newComponent{
		name: in.Name, version: in.SemanticVersion, description: in.Description,
		changeDescription: in.ChangeDescription, platform: in.Platform,
		supportedOsVersions: in.SupportedOsVersions, data: in.Data, uri: in.Uri,
		kmsKeyID: in.KmsKeyId, tags: in.Tags, dryRun: in.DryRun != nil && *in.DryRun,
	})
	if err != nil {
		return nil, err
	}
	return &gen.CreateComponentResponse{ComponentBuildVersionArn: arn, LatestVersionReferences: refs}, nil
}

// ImportComponent turns a shell script into a component document with one
// ExecuteBash step in the phase of the component's type.
func (s *Service) ImportComponent(ctx context.Context, in *gen.ImportComponentRequest) (*gen.ImportComponentResponse, error) {
	if in.Format != gen.ComponentFormatSHELL {
		return nil, invalidValue("format %q is not supported; the only format is SHELL", in.Format)
	}
	script := in.Data
	if in.Uri != "" {
		if in.Data != "" {
			return nil, apiError(gen.CodeInvalidParameterCombination, "specify either data or uri, not both")
		}
		b, err := s.fetch(ctx, in.Uri)
		if err != nil {
			return nil, err
		}
		script = string(b)
	}
	if strings.TrimSpace(script) == "" {
		return nil, apiError(gen.CodeInvalidRequest, "the script given by data or uri is empty")
	}
	if in.Platform != gen.PlatformLinux && in.Platform != gen.PlatformMacOS {
		return nil, invalidValue("platform %q cannot run a SHELL script; use Linux or macOS", in.Platform)
	}
	doc, err := shellDocument(in.Name, in.Description, in.Type, script)
	if err != nil {
		return nil, err
	}
	arn, _, err := s.createComponent(ctx, newComponent{
		name: in.Name, version: in.SemanticVersion, description: in.Description,
		changeDescription: in.ChangeDescription, typ: in.Type, platform: in.Platform,
		data: doc, kmsKeyID: in.KmsKeyId, tags: in.Tags,
	})
	if err != nil {
		return nil, err
	}
	return &gen.ImportComponentResponse{ComponentBuildVersionArn: arn}, nil
}

// shellDocument wraps a shell script in a component document.
func shellDocument(name, description string, typ gen.ComponentType, script string) (string, error) {
	phase := "build"
	if typ == gen.ComponentTypeTEST {
		phase = "test"
	}
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }
	mapping := func(kv ...*yaml.Node) *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Content: kv} }
	seq := func(items ...*yaml.Node) *yaml.Node { return &yaml.Node{Kind: yaml.SequenceNode, Content: items} }
	body := str(script)
	body.Style = yaml.LiteralStyle
	top := []*yaml.Node{str("name"), str(name)}
	if description != "" {
		top = append(top, str("description"), str(description))
	}
	schema := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: "1.0"}
	top = append(top, str("schemaVersion"), schema, str("phases"), seq(mapping(
		str("name"), str(phase),
		str("steps"), seq(mapping(
			str("name"), str("ImportedScript"),
			str("action"), str("ExecuteBash"),
			str("inputs"), mapping(str("commands"), seq(body)),
		)),
	)))
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(mapping(top...)); err != nil {
		return "", fmt.Errorf("encoding imported component document: %w", err)
	}
	return buf.String(), nil
}

func (s *Service) fetch(ctx context.Context, uri string) ([]byte, error) {
	if s.fetcher == nil {
		return nil, invalidValue("uri %q cannot be read: no document source is configured", uri)
	}
	b, err := s.fetcher.Fetch(ctx, uri, maxDocumentBytes)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, invalidValue("uri %q cannot be read: %v", uri, err)
	}
	return b, nil
}

func (s *Service) createComponent(ctx context.Context, nc newComponent) (string, *gen.LatestVersionReferences, error) {
	c, err := caller(ctx)
	if err != nil {
		return "", nil, err
	}
	ver, err := ParseVersion(nc.version, false)
	if err != nil {
		return "", nil, apiError(gen.CodeInvalidVersionNumber, "semanticVersion: %v", err)
	}
	switch {
	case nc.data != "" && nc.uri != "":
		return "", nil, apiError(gen.CodeInvalidParameterCombination, "specify either data or uri, not both")
	case nc.data == "" && nc.uri == "":
		return "", nil, apiError(gen.CodeInvalidRequest, "one of data or uri is required")
	}
	doc := []byte(nc.data)
	if nc.uri != "" {
		if doc, err = s.fetch(ctx, nc.uri); err != nil {
			return "", nil, err
		}
	}
	info, err := inspectDocument(nc.name, doc)
	if err != nil {
		return "", nil, invalidValue("component document is not valid: %v", err)
	}
	typ := nc.typ
	if typ == "" {
		typ = info.Type
	}
	rec := &componentRecord{
		DisplayName: nc.name, Description: nc.description, ChangeDescription: nc.changeDescription,
		Type: typ, Platform: nc.platform, SupportedOsVersions: nc.supportedOsVersions,
		KmsKeyID: nc.kmsKeyID, Parameters: info.Parameters, Status: gen.ComponentStatusACTIVE,
	}
	rec.Digest = rec.digest(doc)
	if nc.kmsKeyID != "" && s.keys == nil {
		return "", nil, invalidValue("kmsKeyId %q cannot be used: no key store is configured", nc.kmsKeyID)
	}
	base := ARN{Partition: "aws", Region: c.Region, Account: c.Account, Type: kindComponent, Name: Slug(nc.name), Version: ver.String()}

	var arn string
	var refs *gen.LatestVersionReferences
	err = s.st.Update(ctx, func(tx store.Tx) error {
		existing, err := tx.List(ctx, store.ListQuery{Kind: kindComponent, Accounts: []string{c.Account}, Name: base.Name})
		if err != nil {
			return err
		}
		existing = inRegion(existing, c.Region)
		build := 0
		for _, r := range existing {
			if r.Version != base.Version {
				continue
			}
			var prev componentRecord
			if err := json.Unmarshal(r.Body, &prev); err != nil {
				return fmt.Errorf("decoding %s: %w", r.ARN, err)
			}
			if prev.Digest == rec.Digest {
				return apiError(gen.CodeResourceInUse, "component %s already holds this exact document and metadata as %s", base, r.ARN)
			}
			build = max(build, r.Build)
		}
		if nc.dryRun {
			return apiError(gen.CodeDryRunOperation, "Request would have succeeded, but DryRun flag is set.")
		}
		b := base
		b.Build = build + 1
		arn = b.String()
		if nc.kmsKeyID != "" {
			ct, err := s.keys.Encrypt(ctx, nc.kmsKeyID, doc, []byte(arn))
			if err != nil {
				return invalidValue("kmsKeyId %q: %v", nc.kmsKeyID, err)
			}
			rec.Ciphertext = ct
		} else {
			rec.Data = string(doc)
		}
		body, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("encoding component: %w", err)
		}
		now := s.now().UTC()
		r := &store.Resource{ARN: arn, Kind: kindComponent, Account: c.Account, Name: b.Name, Version: b.Version,
			Build: b.Build, Created: now, Updated: now, Body: body, Tags: nc.tags}
		if err := tx.Insert(ctx, r); err != nil {
			if errors.Is(err, store.ErrExists) {
				return apiError(gen.CodeResourceInUse, "component %s is being created by another request; retry", arn)
			}
			return err
		}
		refs = latestRefs(append(existing, r), ver)
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	return arn, refs, nil
}

// digest identifies a component's content: identical creates are refused
// rather than stored as a second build.
func (r *componentRecord) digest(doc []byte) string {
	h := sha256.New()
	meta, _ := json.Marshal([]any{r.DisplayName, r.Description, r.ChangeDescription, r.Type, r.Platform, r.SupportedOsVersions, r.KmsKeyID})
	h.Write(meta)
	h.Write([]byte{0})
	h.Write(doc)
	return hex.EncodeToString(h.Sum(nil))
}

// inRegion keeps the resources whose ARN is in region.
func inRegion(rs []*store.Resource, region string) []*store.Resource {
	out := rs[:0:0]
	for _, r := range rs {
		if a, err := ParseARN(r.ARN); err == nil && a.Region == region {
			out = append(out, r)
		}
	}
	return out
}

// latestRefs computes latestVersionReferences for version v among the
// builds of one resource name: the newest build matching x.x.x, N.x.x,
// N.N.x and N.N.N.
func latestRefs(rs []*store.Resource, v Version) *gen.LatestVersionReferences {
	best := func(sel Version) string {
		var top *store.Resource
		var topV Version
		for _, r := range rs {
			rv, err := ParseVersion(r.Version, false)
			if err != nil || !sel.Matches(rv) {
				continue
			}
			if top == nil || rv.Compare(topV) > 0 || (rv.Compare(topV) == 0 && r.Build > top.Build) {
				top, topV = r, rv
			}
		}
		if top == nil {
			return ""
		}
		return top.ARN
	}
	return &gen.LatestVersionReferences{
		LatestVersionArn:      best(Version{Wildcard, Wildcard, Wildcard}),
		LatestMajorVersionArn: best(Version{v.Major, Wildcard, Wildcard}),
		LatestMinorVersionArn: best(Version{v.Major, v.Minor, Wildcard}),
		LatestPatchVersionArn: best(Version{v.Major, v.Minor, v.Patch}),
	}
}

// resolveBuild finds the resource a version ARN (wildcards allowed) or an
// exact build-version ARN names: the newest matching build the caller may
// read (own, managed, or shared by policy). It returns
// ResourceNotFoundException otherwise.
func resolveBuild(ctx context.Context, tx store.Tx, c Caller, kind, arn string) (*store.Resource, []*store.Resource, error) {
	a, err := ParseARN(arn)
	if err != nil || a.Type != kind || a.Version == "" {
		return nil, nil, notFound("%s %q does not exist", kind, arn)
	}
	all, err := tx.List(ctx, store.ListQuery{Kind: kind, Accounts: []string{a.Account}, Name: a.Name})
	if err != nil {
		return nil, nil, err
	}
	all = inRegion(all, a.Region)
	sel, _ := ParseVersion(a.Version, true)
	var hit *store.Resource
	for _, r := range all { // ordered by version, then build: the last match is the newest
		v, err := ParseVersion(r.Version, false)
		if err != nil || !sel.Matches(v) || (a.Build > 0 && r.Build != a.Build) || !readable(c, r) {
			continue
		}
		hit = r
	}
	if hit == nil {
		return nil, nil, notFound("%s %q does not exist", kind, arn)
	}
	return hit, all, nil
}

// GetComponent returns a component build, the newest one matching a
// version ARN with wildcards.
func (s *Service) GetComponent(ctx context.Context, in *gen.GetComponentRequest) (*gen.GetComponentResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out gen.GetComponentResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		r, all, err := resolveBuild(ctx, tx, c, kindComponent, in.ComponentBuildVersionArn)
		if err != nil {
			return err
		}
		comp, err := s.componentOf(ctx, r, true)
		if err != nil {
			return err
		}
		out.Component = comp
		v, _ := ParseVersion(r.Version, false)
		out.LatestVersionReferences = latestRefs(all, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// decodeComponent returns the stored record of a component build; the
// result is shared through the service's decode cache: do not modify it.
func (s *Service) decodeComponent(r *store.Resource) (*componentRecord, error) {
	return s.components.get(r.ARN, r.Body, func(b []byte) (*componentRecord, error) {
		var rec componentRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("decoding component %s: %w", r.ARN, err)
		}
		return &rec, nil
	})
}

// componentOf renders a stored build; withData decrypts the document.
func (s *Service) componentOf(ctx context.Context, r *store.Resource, withData bool) (*gen.Component, error) {
	rec, err := s.decodeComponent(r)
	if err != nil {
		return nil, err
	}
	comp := &gen.Component{
		Arn: r.ARN, Name: rec.DisplayName, Version: r.Version, Description: rec.Description,
		ChangeDescription: rec.ChangeDescription, Type: rec.Type, Platform: rec.Platform,
		SupportedOsVersions: rec.SupportedOsVersions, State: &gen.ComponentState{Status: rec.Status},
		Parameters: rec.Parameters, Owner: r.Account, KmsKeyId: rec.KmsKeyID,
		DateCreated: timestamp(r.Created), Tags: r.Tags,
	}
	encrypted := rec.KmsKeyID != ""
	comp.Encrypted = &encrypted
	if withData {
		if encrypted {
			if s.keys == nil {
				return nil, fmt.Errorf("component %s is encrypted but no key store is configured", r.ARN)
			}
			doc, err := s.keys.Decrypt(ctx, rec.KmsKeyID, rec.Ciphertext, []byte(r.ARN))
			if err != nil {
				return nil, fmt.Errorf("decrypting component %s: %w", r.ARN, err)
			}
			comp.Data = string(doc)
		} else {
			comp.Data = rec.Data
		}
	}
	return comp, nil
}

// DeleteComponent deletes one component build that nothing depends on.
func (s *Service) DeleteComponent(ctx context.Context, in *gen.DeleteComponentRequest) (*gen.DeleteComponentResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	arn := in.ComponentBuildVersionArn
	err = s.st.Update(ctx, func(tx store.Tx) error {
		r, err := s.ownedResource(ctx, tx, c, kindComponent, arn)
		if err != nil {
			return err
		}
		users, err := dependants(ctx, tx, r)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return apiError(gen.CodeResourceDependency, "component %s is still used by %s", arn, strings.Join(users, ", "))
		}
		return tx.Delete(ctx, r.ARN)
	})
	if err != nil {
		return nil, err
	}
	return &gen.DeleteComponentResponse{ComponentBuildVersionArn: arn}, nil
}

// ownedResource returns the exact resource if the caller owns it; managed
// resources are read-only, others' resources do not exist for the caller.
func (s *Service) ownedResource(ctx context.Context, tx store.Tx, c Caller, kind, arn string) (*store.Resource, error) {
	r, err := tx.Get(ctx, arn)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (r.Kind != kind || !canRead(c, r.Account))) {
		return nil, notFound("%s %q does not exist", kind, arn)
	}
	if err != nil {
		return nil, err
	}
	if r.Account != c.Account {
		return nil, apiError(gen.CodeForbidden, "%s %q is owned by %s and cannot be changed", kind, arn, r.Account)
	}
	return r, nil
}
