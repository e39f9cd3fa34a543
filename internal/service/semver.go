package service

import (
	"fmt"
	"strconv"
	"strings"
)

// Wildcard marks an `x` node of a semantic version selector.
const Wildcard = -1

// maxVersionNode is the largest value of one version node (2^30-1).
const maxVersionNode = 1<<30 - 1

// Version is a semantic version major.minor.patch whose nodes may be
// Wildcard in selectors.
type Version struct{ Major, Minor, Patch int }

// ParseVersion parses "major.minor.patch". With wildcards allowed, nodes may
// be `x`, but every node to the right of the first `x` must also be `x`.
func ParseVersion(s string, wildcards bool) (Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("version %q must have the form <major>.<minor>.<patch>", s)
	}
	var nodes [3]int
	seenX := false
	for i, p := range parts {
		if p == "x" {
			if !wildcards {
				return Version{}, fmt.Errorf("version %q must not contain wildcards", s)
			}
			seenX = true
			nodes[i] = Wildcard
			continue
		}
		if seenX {
			return Version{}, fmt.Errorf("version %q: every node after the first 'x' must also be 'x'", s)
		}
		if p == "" || len(p) > 10 || strings.TrimLeft(p, "0123456789") != "" {
			return Version{}, fmt.Errorf("version %q: node %q is not a non-negative integer", s, p)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n > maxVersionNode {
			return Version{}, fmt.Errorf("version %q: node %q exceeds %d", s, p, maxVersionNode)
		}
		nodes[i] = n
	}
	return Version{nodes[0], nodes[1], nodes[2]}, nil
}

// String renders the version with `x` for wildcards.
func (v Version) String() string {
	node := func(n int) string {
		if n == Wildcard {
			return "x"
		}
		return strconv.Itoa(n)
	}
	return node(v.Major) + "." + node(v.Minor) + "." + node(v.Patch)
}

// IsWildcard reports whether any node is `x`.
func (v Version) IsWildcard() bool {
	return v.Major == Wildcard || v.Minor == Wildcard || v.Patch == Wildcard
}

// Matches reports whether the concrete version c satisfies selector v.
func (v Version) Matches(c Version) bool {
	ok := func(sel, n int) bool { return sel == Wildcard || sel == n }
	return ok(v.Major, c.Major) && ok(v.Minor, c.Minor) && ok(v.Patch, c.Patch)
}

// Compare orders concrete versions node by node (-1, 0, 1).
func (v Version) Compare(o Version) int {
	for _, d := range [3]int{v.Major - o.Major, v.Minor - o.Minor, v.Patch - o.Patch} {
		if d < 0 {
			return -1
		}
		if d > 0 {
			return 1
		}
	}
	return 0
}
