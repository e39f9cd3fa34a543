package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

const recipeImageKind = "image"

// parentKind says what a recipe's parentImage names.
type parentKind int

const (
	parentImageARN  parentKind = iota + 1 // an Image Builder image ARN
	parentAMI                             // an image ID (ami-…) of a registered image
	parentContainer                       // a container registry reference
)

// parentRef is a parsed parentImage.
type parentRef struct {
	kind   parentKind
	arn    ARN       // parentImageARN
	docker dockerRef // parentContainer
}

// wildcard reports whether the parent is an image ARN with `x` nodes: its
// form is checked at create time, the image is resolved at build time.
func (p parentRef) wildcard() bool {
	return p.kind == parentImageARN && strings.Contains(p.arn.Version, "x")
}

var recipeAMIID = regexp.MustCompile(`^ami-[0-9a-f]{17}$`)

// parseParentImage classifies and checks the form of a parentImage (field
// names the member in messages). Image recipes take an image ARN or an
// image ID; container recipes take an image ARN or a registry reference.
func parseParentImage(field, s string, container bool) (parentRef, error) {
	switch {
	case strings.HasPrefix(s, "arn:"):
		a, err := ParseARN(s)
		if err != nil {
			return parentRef{}, invalidValue("%s %q: %v", field, s, err)
		}
		if a.Type != recipeImageKind {
			return parentRef{}, invalidValue("%s %q: an ARN parent must be an image ARN (.../image/<name>/<version>[/<build>]), not a %s", field, s, a.Type)
		}
		if a.Version == "" {
			return parentRef{}, invalidValue("%s %q: an image ARN needs a version (<major>.<minor>.<patch>, `x` wildcards allowed)", field, s)
		}
		return parentRef{kind: parentImageARN, arn: a}, nil
	case strings.HasPrefix(s, "ami-"):
		if !recipeAMIID.MatchString(s) {
			return parentRef{}, invalidValue("%s %q: an image ID is ami- followed by 17 lower-case hex digits", field, s)
		}
		if container {
			return parentRef{}, invalidValue("%s %q: a container recipe builds on a container image (registry reference or Image Builder container image ARN), not on an AMI; use instanceConfiguration.image for the build instance", field, s)
		}
		return parentRef{kind: parentAMI}, nil
	case strings.HasPrefix(s, "ssm:"):
		return parentRef{}, invalidValue("%s %q: SSM parameter parents are not supported; give an image ARN or an image ID", field, s)
	}
	if !container {
		return parentRef{}, invalidValue("%s %q: give an image ARN (arn:aws:imagebuilder:<region>:<owner>:image/<name>/<version>) or an image ID (ami-<17 hex digits>)", field, s)
	}
	ref, err := parseDockerReference(s)
	if err != nil {
		return parentRef{}, invalidValue("%s %q: %v", field, s, err)
	}
	return parentRef{kind: parentContainer, docker: ref}, nil
}

// dockerRef is a container image reference name[:tag][@digest].
type dockerRef struct {
	Domain string // registry host[:port], "" for the default registry
	Path   string // repository path
	Tag    string
	Digest string
}

// The grammar of github.com/distribution/reference.
var (
	dockerDomainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	dockerDomain          = regexp.MustCompile(`^(?:` + dockerDomainComponent + `(?:\.` + dockerDomainComponent + `)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$`)
	dockerPathComponent   = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	dockerTag             = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	dockerDigest          = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$`)
)

// maxDockerName is the longest repository name (domain and path).
const maxDockerName = 255

// parseDockerReference checks a container image reference:
// [domain/]path[:tag][@digest] with the docker/distribution grammar.
func parseDockerReference(s string) (dockerRef, error) {
	var ref dockerRef
	if s == "" {
		return ref, fmt.Errorf("a container image reference is empty")
	}
	name := s
	if i := strings.IndexByte(name, '@'); i >= 0 {
		ref.Digest = name[i+1:]
		name = name[:i]
		if !dockerDigest.MatchString(ref.Digest) {
			return ref, fmt.Errorf("digest %q must be <algorithm>:<hex, at least 32 digits>", ref.Digest)
		}
		algo, hex, _ := strings.Cut(ref.Digest, ":")
		if want := map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}[algo]; want > 0 && len(hex) != want {
			return ref, fmt.Errorf("digest %q: %s needs %d hex digits, not %d", ref.Digest, algo, want, len(hex))
		}
	}
	// A tag follows the last ':' after the last '/'.
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		ref.Tag = name[i+1:]
		name = name[:i]
		if !dockerTag.MatchString(ref.Tag) {
			return ref, fmt.Errorf("tag %q must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", ref.Tag)
		}
	}
	if name == "" {
		return ref, fmt.Errorf("a repository name is required before the tag or digest")
	}
	if len(name) > maxDockerName {
		return ref, fmt.Errorf("repository name is %d characters long; at most %d are allowed", len(name), maxDockerName)
	}
	parts := strings.Split(name, "/")
	// The first part is a registry when it looks like a host: it has a dot
	// or a port, is localhost, or carries upper case letters.
	if first := parts[0]; len(parts) > 1 && (strings.ContainsAny(first, ".:[") || first == "localhost" || strings.ToLower(first) != first) {
		if !dockerDomain.MatchString(first) {
			return ref, fmt.Errorf("registry %q is not a valid host[:port]", first)
		}
		ref.Domain = first
		parts = parts[1:]
	}
	for _, p := range parts {
		if !dockerPathComponent.MatchString(p) {
			return ref, fmt.Errorf("repository path component %q must be lower-case letters and digits separated by '.', '_', '__' or '-'", p)
		}
	}
	ref.Path = strings.Join(parts, "/")
	return ref, nil
}

// String renders the reference.
func (r dockerRef) String() string {
	s := r.Path
	if r.Domain != "" {
		s = r.Domain + "/" + s
	}
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// parentImageInfo is what a resolved parent image tells a recipe.
type parentImageInfo struct {
	platform gen.Platform // "" when unknown (wildcards, registry references)
}

// recipeUnusableImage are the image states a specific parent may not be in.
var recipeUnusableImage = map[gen.ImageStatus]bool{
	gen.ImageStatusFAILED: true, gen.ImageStatusCANCELLED: true,
	gen.ImageStatusDELETED: true, gen.ImageStatusDISABLED: true,
}

// resolveParentImage checks that a specific parent image exists and can be
// used by the caller; wildcard ARNs and registry references are accepted as
// they are (resolved at build time).
func (svc *Service) resolveParentImage(ctx context.Context, tx store.Tx, c Caller, field, s string, p parentRef, container bool) (parentImageInfo, error) {
	var img *store.Resource
	switch {
	case p.kind == parentContainer || p.wildcard():
		return parentImageInfo{}, nil
	case p.kind == parentImageARN:
		r, _, err := resolveBuild(ctx, tx, c, recipeImageKind, s)
		if err != nil {
			if recipeIsNotFound(err) {
				return parentImageInfo{}, invalidValue("%s %q: no such image exists for account %s", field, s, c.Account)
			}
			return parentImageInfo{}, err
		}
		img = r
	case p.kind == parentAMI:
		r, err := imageByAMI(ctx, tx, c, s)
		if err != nil {
			return parentImageInfo{}, err
		}
		if r == nil {
			// An image shared by its launch permission (or an imported
			// disk) is usable without its image resource being readable.
			if svc.amis != nil && !container {
				if a, err := svc.amis.Find(c.Region, s); err == nil && a.CanLaunch(c.Account) {
					return parentImageInfo{platform: gen.PlatformLinux}, nil
				}
			}
			return parentImageInfo{}, invalidValue("%s %q: no registered image with this image ID is visible to account %s in %s", field, s, c.Account, c.Region)
		}
		img = r
	}
	var body gen.Image
	if err := json.Unmarshal(img.Body, &body); err != nil {
		return parentImageInfo{}, fmt.Errorf("decoding image %s: %w", img.ARN, err)
	}
	if body.State != nil && recipeUnusableImage[body.State.Status] {
		return parentImageInfo{}, invalidValue("%s %q: image %s is %s and cannot be a parent image", field, s, img.ARN, body.State.Status)
	}
	switch {
	case container && body.Type == gen.ImageTypeAMI:
		return parentImageInfo{}, invalidValue("%s %q: image %s is an AMI image; a container recipe needs a container (DOCKER) image", field, s, img.ARN)
	case !container && body.Type == gen.ImageTypeDOCKER:
		return parentImageInfo{}, invalidValue("%s %q: image %s is a container image; an image recipe needs an AMI image", field, s, img.ARN)
	}
	return parentImageInfo{platform: body.Platform}, nil
}

// imageByAMI finds the readable image whose output AMIs include id in the
// caller's region (nil when none).
func imageByAMI(ctx context.Context, tx store.Tx, c Caller, id string) (*store.Resource, error) {
	rs, err := tx.List(ctx, store.ListQuery{Kind: recipeImageKind})
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if !readable(c, r) || !strings.Contains(string(r.Body), id) {
			continue
		}
		var body struct {
			OutputResources *struct {
				Amis []struct {
					Image  string `json:"image"`
					Region string `json:"region"`
				} `json:"amis"`
			} `json:"outputResources"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			return nil, fmt.Errorf("decoding image %s: %w", r.ARN, err)
		}
		if body.OutputResources == nil {
			continue
		}
		for _, ami := range body.OutputResources.Amis {
			if ami.Image == id && (ami.Region == "" || ami.Region == c.Region) {
				return r, nil
			}
		}
	}
	return nil, nil
}

// recipeIsNotFound reports whether err is a ResourceNotFoundException.
func recipeIsNotFound(err error) bool {
	var ge *gen.Error
	return errors.As(err, &ge) && ge.Code == gen.CodeResourceNotFound
}
