package service

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// defaultPageSize is used when a List call gives no maxResults.
const defaultPageSize = 25

// sortKey orders resources like the store does and serves as the list
// cursor: account, name, zero-padded version nodes, build, ARN.
func sortKey(r *store.Resource) string {
	v, err := ParseVersion(r.Version, false)
	if err != nil {
		v = Version{}
	}
	return fmt.Sprintf("%s\x00%s\x00%010d.%010d.%010d\x00%010d\x00%s", r.Account, r.Name, v.Major, v.Minor, v.Patch, r.Build, r.ARN)
}

// paginate returns the page after cursor (a sortKey) and the cursor of the
// next page ("" on the last one).
func paginate(rs []*store.Resource, cursor string, maxResults *int32) ([]*store.Resource, string) {
	sort.SliceStable(rs, func(i, j int) bool { return sortKey(rs[i]) < sortKey(rs[j]) })
	start := 0
	if cursor != "" {
		start = sort.Search(len(rs), func(i int) bool { return sortKey(rs[i]) > cursor })
	}
	size := defaultPageSize
	if maxResults != nil {
		size = int(*maxResults)
	}
	end := min(start+size, len(rs))
	page := rs[start:end]
	if end < len(rs) {
		return page, sortKey(rs[end-1])
	}
	return page, ""
}

// listByOwner returns the caller-visible resources of a kind for the
// Ownership of a List call, in the caller's region: Self (the default) is
// the caller's own, Amazon the managed ones, Shared those other accounts
// share with the caller through a resource policy. ThirdParty and
// AWSMarketplace have no resources here.
func listByOwner(ctx context.Context, tx store.Tx, c Caller, kind string, owner gen.Ownership) ([]*store.Resource, error) {
	q := store.ListQuery{Kind: kind}
	switch owner {
	case "", gen.OwnershipSelf:
		q.Accounts = []string{c.Account}
	case gen.OwnershipAmazon:
		q.Accounts = []string{"aws"}
	case gen.OwnershipShared:
	default:
		return nil, nil
	}
	rs, err := tx.List(ctx, q)
	if err != nil {
		return nil, err
	}
	rs = inRegionOf(rs, c)
	if owner == gen.OwnershipShared {
		rs = sharedWith(c, rs)
	}
	return rs, nil
}

// filterSet checks filters against the names a List call supports.
type filterSet map[string][]string

func newFilterSet(fs []gen.Filter, allowed ...string) (filterSet, error) {
	out := filterSet{}
	for _, f := range fs {
		if !slices.Contains(allowed, f.Name) {
			return nil, apiError(gen.CodeInvalidRequest, "filter name %q is not supported; use one of %s", f.Name, strings.Join(allowed, ", "))
		}
		if len(f.Values) == 0 {
			return nil, apiError(gen.CodeInvalidRequest, "filter %q needs at least one value", f.Name)
		}
		out[f.Name] = append(out[f.Name], f.Values...)
	}
	return out, nil
}

// match reports whether any of a resource's values for the filter name is
// among the filter's values (true when the filter is absent).
func (f filterSet) match(name string, have ...string) bool {
	want, ok := f[name]
	if !ok {
		return true
	}
	for _, h := range have {
		if slices.Contains(want, h) {
			return true
		}
	}
	return false
}

// inRegionOf keeps the resources in the caller's region.
func inRegionOf(rs []*store.Resource, c Caller) []*store.Resource { return inRegion(rs, c.Region) }

// newestPerVersion keeps, of resources ordered by version then build, the
// newest build of each version — or, with byName, of each name. Keys carry
// the kind, so several kinds may be merged. The order of first appearance is
// kept.
func newestPerVersion(rs []*store.Resource, byName bool) []*store.Resource {
	latest := map[string]int{}
	var out []*store.Resource
	for _, r := range rs {
		key := r.Kind + "/" + r.Account + "/" + r.Name
		if !byName {
			key += "/" + r.Version
		}
		if i, ok := latest[key]; ok {
			out[i] = r
			continue
		}
		latest[key] = len(out)
		out = append(out, r)
	}
	return out
}
