package service

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ARN is a parsed Image Builder ARN:
// arn:<partition>:imagebuilder:<region>:<account>:<type>/<name>[/<version>[/<build>]].
type ARN struct {
	Partition string
	Region    string
	Account   string // 12 digits, "aws" or "aws-<suffix>"
	// Type is the resource type; workflows carry their kind:
	// "workflow/build", "workflow/test", "workflow/distribution".
	Type    string
	Name    string
	Version string // "" for unversioned types; may contain `x`
	Build   int    // 0 when absent
}

var (
	arnAccount = regexp.MustCompile(`^(?:[0-9]{12}|aws(?:-[a-z-]+)?)$`)
	arnName    = regexp.MustCompile(`^[a-z0-9-_]+$`)
	arnRegion  = regexp.MustCompile(`^[a-z0-9-]+$`)
)

// versionedTypes maps each resource type to whether it has a version node
// and whether it has a build node.
var versionedTypes = map[string]struct{ version, build bool }{
	"component":                    {true, true},
	"image":                        {true, true},
	"workflow/build":               {true, true},
	"workflow/test":                {true, true},
	"workflow/distribution":        {true, true},
	"image-recipe":                 {true, false},
	"container-recipe":             {true, false},
	"infrastructure-configuration": {false, false},
	"distribution-configuration":   {false, false},
	"image-pipeline":               {false, false},
	"lifecycle-policy":             {false, false},
}

// ParseARN parses an Image Builder ARN. The version node, where present,
// may hold `x` wildcards (checked for order); callers that need an exact
// version or a build node check the result.
func ParseARN(s string) (ARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !strings.HasPrefix(parts[1], "aws") || parts[2] != "imagebuilder" {
		return ARN{}, fmt.Errorf("%q is not an Image Builder ARN (arn:aws:imagebuilder:<region>:<account>:<type>/<name>...)", s)
	}
	a := ARN{Partition: parts[1], Region: parts[3], Account: parts[4]}
	if !arnRegion.MatchString(a.Region) {
		return ARN{}, fmt.Errorf("ARN %q: region %q is not valid", s, a.Region)
	}
	if !arnAccount.MatchString(a.Account) {
		return ARN{}, fmt.Errorf("ARN %q: account %q must be 12 digits or 'aws'", s, a.Account)
	}
	segs := strings.Split(parts[5], "/")
	a.Type = segs[0]
	segs = segs[1:]
	if a.Type == "workflow" && len(segs) > 0 {
		a.Type += "/" + segs[0]
		segs = segs[1:]
	}
	kind, ok := versionedTypes[a.Type]
	if !ok {
		return ARN{}, fmt.Errorf("ARN %q: unknown resource type %q", s, a.Type)
	}
	max := 1
	if kind.version {
		max = 2
	}
	if kind.build {
		max = 3
	}
	if len(segs) < 1 || len(segs) > max {
		return ARN{}, fmt.Errorf("ARN %q: expected %s/<name>%s", s, a.Type, shapeHint(kind.version, kind.build))
	}
	a.Name = segs[0]
	if !arnName.MatchString(a.Name) {
		return ARN{}, fmt.Errorf("ARN %q: name %q must match [a-z0-9-_]+", s, a.Name)
	}
	if len(segs) >= 2 {
		v, err := ParseVersion(segs[1], true)
		if err != nil {
			return ARN{}, fmt.Errorf("ARN %q: %w", s, err)
		}
		a.Version = v.String()
	}
	if len(segs) == 3 {
		if strings.Contains(a.Version, "x") {
			return ARN{}, fmt.Errorf("ARN %q: a build number cannot follow a wildcard version", s)
		}
		b, err := strconv.Atoi(segs[2])
		if err != nil || b < 1 || strings.TrimLeft(segs[2], "0123456789") != "" {
			return ARN{}, fmt.Errorf("ARN %q: build %q must be a positive integer", s, segs[2])
		}
		a.Build = b
	}
	return a, nil
}

func shapeHint(version, build bool) string {
	switch {
	case build:
		return "/<version>[/<build>]"
	case version:
		return "/<version>"
	}
	return ""
}

// String formats the ARN.
func (a ARN) String() string {
	var b strings.Builder
	b.WriteString("arn:")
	b.WriteString(a.Partition)
	b.WriteString(":imagebuilder:")
	b.WriteString(a.Region)
	b.WriteString(":")
	b.WriteString(a.Account)
	b.WriteString(":")
	b.WriteString(a.Type)
	b.WriteString("/")
	b.WriteString(a.Name)
	if a.Version != "" {
		b.WriteString("/")
		b.WriteString(a.Version)
		if a.Build > 0 {
			b.WriteString("/")
			b.WriteString(strconv.Itoa(a.Build))
		}
	}
	return b.String()
}

// VersionARN returns the ARN without its build node.
func (a ARN) VersionARN() ARN {
	a.Build = 0
	return a
}

// Slug derives the ARN name segment from a resource name: lower case,
// spaces become hyphens.
func Slug(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), " ", "-")
}
