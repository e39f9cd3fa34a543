package service

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// maxDockerfileTemplate is the longest Dockerfile template (characters),
// inline or read from dockerfileTemplateUri.
const maxDockerfileTemplate = 16000

var (
	ecrRepositoryName = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	mustacheTag       = regexp.MustCompile(`\{\{(\{?)\s*([^{}]*?)\s*\}?\}\}`)
	dockerFrom        = regexp.MustCompile(`(?im)^\s*FROM\s+\S`)
)

// templatePlaceholders are the service's Dockerfile template variables.
var templatePlaceholders = map[string]bool{
	"imagebuilder:parentImage": true, "imagebuilder:environments": true, "imagebuilder:components": true,
}

// checkDockerfileTemplate checks a container recipe's Dockerfile template:
// at most 16,000 characters without NUL, a FROM instruction, and only the
// three imagebuilder: placeholders, in triple braces (double braces would
// be HTML-escaped by the Mustache renderer).
func checkDockerfileTemplate(field, tpl string) error {
	switch {
	case strings.TrimSpace(tpl) == "":
		return invalidValue("%s: the Dockerfile template is empty", field)
	case utf8.RuneCountInString(tpl) > maxDockerfileTemplate:
		return invalidValue("%s: the Dockerfile template is %d characters long; at most %d are allowed", field, utf8.RuneCountInString(tpl), maxDockerfileTemplate)
	case strings.ContainsRune(tpl, 0):
		return invalidValue("%s: the Dockerfile template contains a NUL character", field)
	case !dockerFrom.MatchString(tpl):
		return invalidValue("%s: the Dockerfile template has no FROM instruction (usually FROM {{{ imagebuilder:parentImage }}})", field)
	}
	for i, line := range strings.Split(tpl, "\n") {
		for _, m := range mustacheTag.FindAllStringSubmatch(line, -1) {
			name := m[2]
			if !strings.HasPrefix(strings.ToLower(name), "imagebuilder:") {
				continue
			}
			if !templatePlaceholders[name] {
				return invalidValue("%s line %d: unknown placeholder %q; the template variables are {{{ imagebuilder:parentImage }}}, {{{ imagebuilder:environments }}} and {{{ imagebuilder:components }}}", field, i+1, name)
			}
			if m[1] == "" || !strings.HasSuffix(m[0], "}}}") {
				return invalidValue("%s line %d: write %s in triple braces ({{{ %s }}})", field, i+1, name, name)
			}
		}
	}
	return nil
}

// checkTargetRepository checks the ECR repository a container recipe
// pushes to.
func checkTargetRepository(t *gen.TargetContainerRepository) error {
	if t == nil {
		return invalidValue("targetRepository is required")
	}
	if t.Service != gen.ContainerRepositoryServiceECR {
		return invalidValue("targetRepository.service %q is not supported; the only service is ECR", t.Service)
	}
	if n := len(t.RepositoryName); n < 2 || n > 256 || !ecrRepositoryName.MatchString(t.RepositoryName) {
		return invalidValue("targetRepository.repositoryName %q must be 2-256 characters of lower-case letters, digits and . _ - / separators (an ECR repository name)", t.RepositoryName)
	}
	return nil
}

// CreateContainerRecipe creates an immutable container recipe version.
// The Dockerfile template from dockerfileTemplateUri is read now and kept
// as dockerfileTemplateData; platformOverride becomes the recipe's
// platform. imageOsVersionOverride, which gen.ContainerRecipe has no member
// for, is kept beside it in the body (containerRecipeBody).
// kmsKeyId must name a key of the key store and is kept with the recipe;
// the template itself stays readable in the body, which images snapshot.
func (s *Service) CreateContainerRecipe(ctx context.Context, in *gen.CreateContainerRecipeRequest) (*gen.CreateContainerRecipeResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.ContainerType != gen.ContainerTypeDOCKER {
		return nil, invalidValue("containerType %q is not supported; the only type is DOCKER", in.ContainerType)
	}
	if in.PlatformOverride == gen.PlatformMacOS {
		return nil, invalidValue("platformOverride %q: container recipes build Linux or Windows containers", in.PlatformOverride)
	}
	parent, err := parseParentImage("parentImage", in.ParentImage, true)
	if err != nil {
		return nil, err
	}
	if err := checkTargetRepository(in.TargetRepository); err != nil {
		return nil, err
	}
	var instanceImage parentRef
	if ic := in.InstanceConfiguration; ic != nil {
		if ic.Image != "" {
			if instanceImage, err = parseParentImage("instanceConfiguration.image", ic.Image, false); err != nil {
				return nil, err
			}
		}
		if err := checkBlockDeviceMappings("instanceConfiguration.blockDeviceMappings", ic.BlockDeviceMappings); err != nil {
			return nil, err
		}
	}
	if in.KmsKeyId != "" && s.keys == nil {
		return nil, invalidValue("kmsKeyId %q cannot be used: no key store is configured", in.KmsKeyId)
	}
	tpl := in.DockerfileTemplateData
	field := "dockerfileTemplateData"
	switch {
	case in.DockerfileTemplateData != "" && in.DockerfileTemplateUri != "":
		return nil, apiError(gen.CodeInvalidParameterCombination, "specify either dockerfileTemplateData or dockerfileTemplateUri, not both")
	case in.DockerfileTemplateData == "" && in.DockerfileTemplateUri == "":
		return nil, apiError(gen.CodeInvalidRequest, "one of dockerfileTemplateData or dockerfileTemplateUri is required")
	case in.DockerfileTemplateUri != "":
		b, err := s.fetch(ctx, in.DockerfileTemplateUri)
		if err != nil {
			return nil, err
		}
		tpl, field = string(b), fmt.Sprintf("dockerfileTemplateUri %q", in.DockerfileTemplateUri)
	}
	if err := checkDockerfileTemplate(field, tpl); err != nil {
		return nil, err
	}
	arn, refs, err := s.createRecipe(ctx, c, recipeDraft{
		kind: kindContainerRecipe, name: in.Name, version: in.SemanticVersion, tags: in.Tags, components: in.Components,
		body: func(tx store.Tx, arn, version string, created time.Time) ([]byte, error) {
			info, err := s.resolveParentImage(ctx, tx, c, "parentImage", in.ParentImage, parent, true)
			if err != nil {
				return nil, err
			}
			if instanceImage.kind != 0 {
				if _, err := s.resolveParentImage(ctx, tx, c, "instanceConfiguration.image", in.InstanceConfiguration.Image, instanceImage, false); err != nil {
					return nil, err
				}
			}
			comps, err := s.resolveRecipeComponents(ctx, tx, c, in.Components)
			if err != nil {
				return nil, err
			}
			base, from := in.PlatformOverride, "platformOverride"
			if base == "" {
				base, from = info.platform, "parentImage"
			}
			platform, err := recipePlatform(base, from, comps)
			if err != nil {
				return nil, err
			}
			if platform == "" {
				platform = gen.PlatformLinux
			}
			if platform == gen.PlatformMacOS {
				return nil, invalidValue("components: container recipes build Linux or Windows containers, and these components are for macOS")
			}
			if err := checkWorkingDirectory(in.WorkingDirectory, platform); err != nil {
				return nil, err
			}
			return json.Marshal(containerRecipeBody{ContainerRecipe: gen.ContainerRecipe{
				Arn: arn, ContainerType: in.ContainerType, Name: in.Name, Description: in.Description,
				Platform: platform, Owner: c.Account, Version: version, Components: in.Components,
				InstanceConfiguration: in.InstanceConfiguration, DockerfileTemplateData: tpl,
				KmsKeyId: in.KmsKeyId, ParentImage: in.ParentImage, DateCreated: timestamp(created),
				WorkingDirectory: in.WorkingDirectory, TargetRepository: in.TargetRepository,
			}, ImageOsVersionOverride: in.ImageOsVersionOverride})
		},
	})
	if err != nil {
		return nil, err
	}
	return &gen.CreateContainerRecipeResponse{ContainerRecipeArn: arn, LatestVersionReferences: refs}, nil
}

// containerRecipeBody is the stored body: the API's container recipe plus
// the create-time member the output shape lacks. Readers decoding the body
// as gen.ContainerRecipe ignore the extra key.
type containerRecipeBody struct {
	gen.ContainerRecipe
	ImageOsVersionOverride string `json:"goldsmithImageOsVersionOverride,omitempty"`
}

// GetContainerRecipe returns a container recipe version (`x` wildcards
// resolve to the newest matching version the caller can read).
func (s *Service) GetContainerRecipe(ctx context.Context, in *gen.GetContainerRecipeRequest) (*gen.GetContainerRecipeResponse, error) {
	rec, r, refs, err := viewRecipe[gen.ContainerRecipe](ctx, s, kindContainerRecipe, in.ContainerRecipeArn)
	if err != nil {
		return nil, err
	}
	rec.Tags = r.Tags
	return &gen.GetContainerRecipeResponse{ContainerRecipe: rec, LatestVersionReferences: refs}, nil
}

// ListContainerRecipes lists container recipe versions by owner, with the
// containerType, name, parentImage and platform filters.
func (s *Service) ListContainerRecipes(ctx context.Context, in *gen.ListContainerRecipesRequest) (*gen.ListContainerRecipesResponse, error) {
	filters, err := newFilterSet(in.Filters, "containerType", "name", "parentImage", "platform")
	if err != nil {
		return nil, err
	}
	items, next, err := listPage(ctx, s, kindContainerRecipe, in.Owner, func(rec *gen.ContainerRecipe, r *store.Resource) bool {
		return filters.match("name", rec.Name, r.Name) && filters.match("parentImage", rec.ParentImage) &&
			filters.match("platform", string(rec.Platform)) && filters.match("containerType", string(rec.ContainerType))
	}, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := &gen.ListContainerRecipesResponse{NextToken: next}
	for _, it := range items {
		rec, r := it.Body, it.R
		sum := gen.ContainerRecipeSummary{
			Arn: r.ARN, ContainerType: rec.ContainerType, Name: rec.Name, Platform: rec.Platform,
			Owner: r.Account, ParentImage: rec.ParentImage, DateCreated: timestamp(r.Created), Tags: r.Tags,
		}
		if rec.InstanceConfiguration != nil {
			sum.InstanceImage = rec.InstanceConfiguration.Image
		}
		out.ContainerRecipeSummaryList = append(out.ContainerRecipeSummaryList, sum)
	}
	return out, nil
}

// DeleteContainerRecipe deletes a container recipe version nothing depends
// on.
func (s *Service) DeleteContainerRecipe(ctx context.Context, in *gen.DeleteContainerRecipeRequest) (*gen.DeleteContainerRecipeResponse, error) {
	if err := s.deleteRecipe(ctx, kindContainerRecipe, in.ContainerRecipeArn); err != nil {
		return nil, err
	}
	return &gen.DeleteContainerRecipeResponse{ContainerRecipeArn: in.ContainerRecipeArn}, nil
}

// PutContainerRecipePolicy sets the resource policy of a container recipe.
func (s *Service) PutContainerRecipePolicy(ctx context.Context, in *gen.PutContainerRecipePolicyRequest) (*gen.PutContainerRecipePolicyResponse, error) {
	if err := s.putPolicy(ctx, kindContainerRecipe, in.ContainerRecipeArn, in.Policy); err != nil {
		return nil, err
	}
	return &gen.PutContainerRecipePolicyResponse{ContainerRecipeArn: in.ContainerRecipeArn}, nil
}

// GetContainerRecipePolicy returns the resource policy of a container
// recipe.
func (s *Service) GetContainerRecipePolicy(ctx context.Context, in *gen.GetContainerRecipePolicyRequest) (*gen.GetContainerRecipePolicyResponse, error) {
	p, err := s.getPolicy(ctx, kindContainerRecipe, in.ContainerRecipeArn)
	if err != nil {
		return nil, err
	}
	return &gen.GetContainerRecipePolicyResponse{Policy: p}, nil
}
