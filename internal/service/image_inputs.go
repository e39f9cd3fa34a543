package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// Kinds the image and pipeline operations store or reference (named apart
// from the constants of the other resource files).
const (
	imgKind             = "image"
	pipeKind            = "image-pipeline"
	imgKindImageRecipe  = "image-recipe"
	imgKindContainer    = "container-recipe"
	imgKindInfra        = "infrastructure-configuration"
	imgKindDistribution = "distribution-configuration"
)

// Defaults the service fills in for omitted members.
const (
	defaultTestTimeoutMinutes = 720
	maxWorkflows              = 10
)

// buildInputs are the references a pipeline or an image build names.
type buildInputs struct {
	imageRecipeArn, containerRecipeArn string
	infraArn, distArn                  string
	workflows                          []gen.WorkflowConfiguration
	executionRole                      string
}

// resolvedInputs are the resources a buildInputs names, as they are now.
type resolvedInputs struct {
	recipe          *store.Resource // the image or container recipe version used
	imageRecipe     *gen.ImageRecipe
	containerRecipe *gen.ContainerRecipe
	infra           *gen.InfrastructureConfiguration
	dist            *gen.DistributionConfiguration
	platform        gen.Platform
	refs            []string // what the pipeline or image depends on
}

// check applies the rules that need no stored resource.
func (b buildInputs) check() error {
	if (b.imageRecipeArn == "") == (b.containerRecipeArn == "") {
		return apiError(gen.CodeInvalidRequest, "exactly one of imageRecipeArn and containerRecipeArn is required (got imageRecipeArn %q, containerRecipeArn %q)", b.imageRecipeArn, b.containerRecipeArn)
	}
	if b.infraArn == "" {
		return apiError(gen.CodeInvalidRequest, "infrastructureConfigurationArn is required")
	}
	return imgCheckWorkflows(b.workflows, b.executionRole)
}

// imgCheckWorkflows enforces the attachment rules of workflows: at most one
// BUILD and one DISTRIBUTION workflow, at most 10 in all, an execution role.
func imgCheckWorkflows(ws []gen.WorkflowConfiguration, executionRole string) error {
	if len(ws) == 0 {
		return nil
	}
	if len(ws) > maxWorkflows {
		return invalidValue("workflows: %d workflows are attached; at most %d are allowed", len(ws), maxWorkflows)
	}
	if executionRole == "" {
		return apiError(gen.CodeInvalidRequest, "executionRole is required when workflows are attached (an execution role is required to run workflows)")
	}
	count := map[string][]string{}
	for i, w := range ws {
		a, err := ParseARN(w.WorkflowArn)
		if err != nil || !strings.HasPrefix(a.Type, "workflow/") {
			return invalidValue("workflows[%d].workflowArn %q is not a workflow ARN (…:workflow/<build|test|distribution>/<name>/<version>)", i, w.WorkflowArn)
		}
		count[a.Type] = append(count[a.Type], w.WorkflowArn)
		seen := map[string]bool{}
		for _, p := range w.Parameters {
			if seen[p.Name] {
				return invalidValue("workflows[%d] (%s): parameter %q is given more than once", i, w.WorkflowArn, p.Name)
			}
			seen[p.Name] = true
		}
	}
	for _, t := range []string{"workflow/build", "workflow/distribution"} {
		if len(count[t]) > 1 {
			return invalidValue("workflows: at most one %s workflow may be attached, got %d (%s)", strings.ToUpper(strings.TrimPrefix(t, "workflow/")), len(count[t]), strings.Join(count[t], ", "))
		}
	}
	return nil
}

// resolve finds and decodes every referenced resource; a reference that
// does not exist or that the caller cannot read is
// InvalidParameterValueException naming the field.
func (b buildInputs) resolve(ctx context.Context, tx store.Tx, c Caller) (*resolvedInputs, error) {
	out := &resolvedInputs{}
	if b.imageRecipeArn != "" {
		r, err := imgRecipeVersion(ctx, tx, c, "imageRecipeArn", imgKindImageRecipe, b.imageRecipeArn)
		if err != nil {
			return nil, err
		}
		var rec gen.ImageRecipe
		if err := json.Unmarshal(r.Body, &rec); err != nil {
			return nil, fmt.Errorf("decoding image recipe %s: %w", r.ARN, err)
		}
		rec.Arn, rec.Tags = r.ARN, r.Tags
		if rec.Owner == "" {
			rec.Owner = r.Account
		}
		if rec.DateCreated == "" {
			rec.DateCreated = timestamp(r.Created)
		}
		out.recipe, out.imageRecipe, out.platform = r, &rec, rec.Platform
	} else {
		r, err := imgRecipeVersion(ctx, tx, c, "containerRecipeArn", imgKindContainer, b.containerRecipeArn)
		if err != nil {
			return nil, err
		}
		var rec gen.ContainerRecipe
		if err := json.Unmarshal(r.Body, &rec); err != nil {
			return nil, fmt.Errorf("decoding container recipe %s: %w", r.ARN, err)
		}
		rec.Arn, rec.Tags = r.ARN, r.Tags
		if rec.Owner == "" {
			rec.Owner = r.Account
		}
		if rec.DateCreated == "" {
			rec.DateCreated = timestamp(r.Created)
		}
		out.recipe, out.containerRecipe, out.platform = r, &rec, rec.Platform
	}
	out.refs = append(out.refs, out.recipe.ARN)

	r, err := imgConfig(ctx, tx, c, "infrastructureConfigurationArn", imgKindInfra, b.infraArn)
	if err != nil {
		return nil, err
	}
	if out.infra, err = imgInfraSnapshot(r); err != nil {
		return nil, err
	}
	out.refs = append(out.refs, r.ARN)

	if b.distArn != "" {
		r, err := imgConfig(ctx, tx, c, "distributionConfigurationArn", imgKindDistribution, b.distArn)
		if err != nil {
			return nil, err
		}
		var dist gen.DistributionConfiguration
		if err := json.Unmarshal(r.Body, &dist); err != nil {
			return nil, fmt.Errorf("decoding distribution configuration %s: %w", r.ARN, err)
		}
		dist.Arn, dist.Tags = r.ARN, r.Tags
		out.dist = &dist
		out.refs = append(out.refs, r.ARN)
	}

	for i, w := range b.workflows {
		a, _ := ParseARN(w.WorkflowArn) // checked by imgCheckWorkflows
		r, _, err := resolveBuild(ctx, tx, c, a.Type, w.WorkflowArn)
		if err != nil {
			if imgIsNotFound(err) {
				return nil, invalidValue("workflows[%d].workflowArn %q: no such workflow exists for account %s", i, w.WorkflowArn, c.Account)
			}
			return nil, err
		}
		var wf gen.Workflow
		if err := json.Unmarshal(r.Body, &wf); err != nil {
			return nil, fmt.Errorf("decoding workflow %s: %w", r.ARN, err)
		}
		if err := imgCheckWorkflowParams(i, w, wf.Parameters); err != nil {
			return nil, err
		}
		if !slices.Contains(out.refs, w.WorkflowArn) {
			out.refs = append(out.refs, w.WorkflowArn)
		}
		if r.ARN != w.WorkflowArn {
			out.refs = append(out.refs, r.ARN)
		}
	}
	return out, nil
}

// imgCheckWorkflowParams checks the values given for a workflow against
// the parameters its document declares.
func imgCheckWorkflowParams(i int, w gen.WorkflowConfiguration, declared []gen.WorkflowParameterDetail) error {
	decl := map[string]gen.WorkflowParameterDetail{}
	for _, d := range declared {
		decl[d.Name] = d
	}
	given := map[string]bool{}
	for _, p := range w.Parameters {
		d, ok := decl[p.Name]
		if !ok {
			names := make([]string, 0, len(declared))
			for _, d := range declared {
				names = append(names, d.Name)
			}
			if len(names) == 0 {
				return invalidValue("workflows[%d] (%s): parameter %q is not declared; the workflow takes no parameters", i, w.WorkflowArn, p.Name)
			}
			return invalidValue("workflows[%d] (%s): parameter %q is not declared; declared parameters: %s", i, w.WorkflowArn, p.Name, strings.Join(names, ", "))
		}
		if !strings.EqualFold(d.Type, "stringList") && len(p.Value) != 1 {
			return invalidValue("workflows[%d] (%s): parameter %q of type %s takes exactly one value, got %d", i, w.WorkflowArn, p.Name, d.Type, len(p.Value))
		}
		given[p.Name] = true
	}
	for _, d := range declared {
		if !given[d.Name] && len(d.DefaultValue) == 0 {
			return invalidValue("workflows[%d] (%s): parameter %q has no default and needs a value", i, w.WorkflowArn, d.Name)
		}
	}
	return nil
}

// imgRecipeVersion finds the recipe version an ARN names; `x` wildcards
// resolve to the newest matching version the caller can read.
func imgRecipeVersion(ctx context.Context, tx store.Tx, c Caller, field, kind, arn string) (*store.Resource, error) {
	a, err := ParseARN(arn)
	if err != nil {
		return nil, invalidValue("%s %q is not valid: %v", field, arn, err)
	}
	if a.Type != kind {
		return nil, invalidValue("%s %q names a %s, not a %s", field, arn, a.Type, kind)
	}
	missing := invalidValue("%s %q: no such %s exists for account %s", field, arn, kind, c.Account)
	sel, err := ParseVersion(a.Version, true)
	if err != nil {
		return nil, missing
	}
	if !sel.IsWildcard() {
		r, err := tx.Get(ctx, arn)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (r.Kind != kind || !readable(c, r))) {
			return nil, missing
		}
		return r, err
	}
	all, err := tx.List(ctx, store.ListQuery{Kind: kind, Accounts: []string{a.Account}, Name: a.Name})
	if err != nil {
		return nil, err
	}
	var hit *store.Resource
	for _, r := range inRegion(all, a.Region) { // ordered by version: the last match is the newest
		if v, err := ParseVersion(r.Version, false); err == nil && sel.Matches(v) && readable(c, r) {
			hit = r
		}
	}
	if hit == nil {
		return nil, missing
	}
	return hit, nil
}

// imgInfraSnapshot decodes an infrastructure configuration for an
// image's snapshot.
func imgInfraSnapshot(r *store.Resource) (*gen.InfrastructureConfiguration, error) {
	var infra gen.InfrastructureConfiguration
	if err := json.Unmarshal(r.Body, &infra); err != nil {
		return nil, fmt.Errorf("decoding infrastructure configuration %s: %w", r.ARN, err)
	}
	infra.Arn, infra.Tags = r.ARN, r.Tags
	return &infra, nil
}

// imgConfig finds an infrastructure or distribution configuration.
func imgConfig(ctx context.Context, tx store.Tx, c Caller, field, kind, arn string) (*store.Resource, error) {
	a, err := ParseARN(arn)
	if err != nil {
		return nil, invalidValue("%s %q is not valid: %v", field, arn, err)
	}
	if a.Type != kind {
		return nil, invalidValue("%s %q names a %s, not a %s", field, arn, a.Type, kind)
	}
	r, err := tx.Get(ctx, arn)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (r.Kind != kind || !readable(c, r))) {
		return nil, invalidValue("%s %q: no such %s exists for account %s", field, arn, kind, c.Account)
	}
	return r, err
}

// imgIsNotFound reports whether err is a ResourceNotFoundException.
func imgIsNotFound(err error) bool {
	var ge *gen.Error
	return errors.As(err, &ge) && ge.Code == gen.CodeResourceNotFound
}

// imgTestsConfig fills the defaults of imageTestsConfiguration: tests enabled,
// 720 minutes.
func imgTestsConfig(in *gen.ImageTestsConfiguration) *gen.ImageTestsConfiguration {
	out := gen.ImageTestsConfiguration{}
	if in != nil {
		out = *in
	}
	if out.ImageTestsEnabled == nil {
		t := true
		out.ImageTestsEnabled = &t
	}
	if out.TimeoutMinutes == nil {
		m := int32(defaultTestTimeoutMinutes)
		out.TimeoutMinutes = &m
	}
	return &out
}

// imgBool returns p, or a pointer to def when p is nil.
func imgBool(p *bool, def bool) *bool {
	if p != nil {
		return p
	}
	return &def
}

// imgCheckScanning refuses ECR scanning settings for AMI builds.
func imgCheckScanning(sc *gen.ImageScanningConfiguration, container bool) error {
	if sc != nil && sc.EcrConfiguration != nil && !container {
		return invalidValue("imageScanningConfiguration.ecrConfiguration applies to container recipes only; this build uses an image recipe")
	}
	return nil
}
