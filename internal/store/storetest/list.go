package storetest

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goldsmith/goldsmith/internal/store"
)

// listFixture returns resources of several kinds whose documented order
// differs from every naive one: versions that sort wrongly as text, names
// and accounts that sort differently under locale collations, builds >= 10.
func listFixture() []*store.Resource {
	var rs []*store.Resource
	accounts := []string{"aws", "123456789012", "999988887777", "023456789012"}
	names := []string{"a", "a-b", "a_b", "ab", "a0", "b"}
	versions := []string{"1.9.0", "1.10.0", "1.2.3", "10.0.0", "2.0.0", "0.0.1", "1.9.10", "1.9.9"}
	for _, acct := range accounts {
		for i, name := range names {
			for j, v := range versions {
				if (i+j)%3 == 0 { // keep the set small but irregular
					continue
				}
				for _, build := range []int{1, 2, 10} {
					rs = append(rs, res("component", acct, name, v, build))
				}
				rs = append(rs, res("image-recipe", acct, name, v, 0))
			}
			rs = append(rs, res("infrastructure-configuration", acct, name, "", 0))
		}
	}
	// ARNs that tie on every other column.
	for _, suffix := range []string{"/x1", "/x_1", "/x-1"} {
		r := res("workflow/build", "123456789012", "tie", "1.0.0", 1)
		r.ARN += suffix
		rs = append(rs, r)
	}
	return rs
}

// wantList filters and orders fixture as ListQuery documents.
func wantList(fixture []*store.Resource, q store.ListQuery) []string {
	var out []*store.Resource
	for _, r := range fixture {
		if r.Kind != q.Kind ||
			(len(q.Accounts) > 0 && !slices.Contains(q.Accounts, r.Account)) ||
			(q.Name != "" && r.Name != q.Name) ||
			(q.Version != "" && r.Version != q.Version) {
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *store.Resource) int {
		if c := cmp.Compare(a.Account, b.Account); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		av, bv := versionKey(a.Version), versionKey(b.Version)
		for i := range av {
			if c := cmp.Compare(av[i], bv[i]); c != 0 {
				return c
			}
		}
		if c := cmp.Compare(a.Build, b.Build); c != 0 {
			return c
		}
		return cmp.Compare(a.ARN, b.ARN)
	})
	return arns(out)
}

func versionKey(v string) [3]int {
	var k [3]int
	if v == "" {
		return k
	}
	for i, p := range strings.SplitN(v, ".", 3) {
		k[i], _ = strconv.Atoi(p)
	}
	return k
}

func insertShuffled(t *testing.T, s store.Store, rs []*store.Resource) {
	t.Helper()
	shuffled := slices.Clone(rs)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	insert(t, s, shuffled...)
}

func testListOrder(t *testing.T, newBackend Backend) {
	s, _ := openStore(t, newBackend)
	fixture := listFixture()
	insertShuffled(t, s, fixture)
	for _, kind := range []string{"component", "image-recipe", "infrastructure-configuration", "workflow/build"} {
		t.Run(strings.ReplaceAll(kind, "/", "_"), func(t *testing.T) {
			got := arns(list(t, s, store.ListQuery{Kind: kind}))
			want := wantList(fixture, store.ListQuery{Kind: kind})
			if len(want) == 0 {
				t.Fatal("empty fixture")
			}
			if !slices.Equal(got, want) {
				t.Errorf("List(%s) order wrong at index %d:\n got %v\nwant %v", kind, firstDiff(got, want), got, want)
			}
		})
	}
	t.Run("numeric version order", func(t *testing.T) {
		got := list(t, s, store.ListQuery{Kind: "image-recipe", Accounts: []string{"123456789012"}, Name: "a0"})
		var vs []string
		for _, r := range got {
			vs = append(vs, r.Version)
		}
		want := []string{"0.0.1", "1.2.3", "1.9.0", "1.9.9", "1.9.10", "1.10.0", "2.0.0", "10.0.0"}
		want = slices.DeleteFunc(want, func(v string) bool {
			return !slices.ContainsFunc(fixture, func(r *store.Resource) bool {
				return r.Kind == "image-recipe" && r.Account == "123456789012" && r.Name == "a0" && r.Version == v
			})
		})
		if !slices.Equal(vs, want) {
			t.Errorf("versions = %v, want %v", vs, want)
		}
	})
}

func testListFilters(t *testing.T, newBackend Backend) {
	s, _ := openStore(t, newBackend)
	fixture := listFixture()
	insertShuffled(t, s, fixture)
	tests := []struct {
		name string
		q    store.ListQuery
	}{
		{"kind only", store.ListQuery{Kind: "image-recipe"}},
		{"unknown kind", store.ListQuery{Kind: "lifecycle-policy"}},
		{"one account", store.ListQuery{Kind: "component", Accounts: []string{"aws"}}},
		{"two accounts", store.ListQuery{Kind: "component", Accounts: []string{"999988887777", "aws"}}},
		{"unknown account", store.ListQuery{Kind: "component", Accounts: []string{"111122223333"}}},
		{"name", store.ListQuery{Kind: "component", Name: "a-b"}},
		{"name is exact", store.ListQuery{Kind: "component", Name: "a"}},
		{"name unknown", store.ListQuery{Kind: "component", Name: "a%"}},
		{"version", store.ListQuery{Kind: "component", Version: "1.10.0"}},
		{"version is exact", store.ListQuery{Kind: "component", Version: "1.9.1"}},
		{"name and version", store.ListQuery{Kind: "component", Name: "b", Version: "1.9.0"}},
		{"everything", store.ListQuery{Kind: "component", Accounts: []string{"123456789012", "aws"}, Name: "ab", Version: "2.0.0"}},
		{"unversioned kind", store.ListQuery{Kind: "infrastructure-configuration", Accounts: []string{"123456789012"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := arns(list(t, s, tc.q))
			want := wantList(fixture, tc.q)
			if !equalStrings(got, want) {
				t.Errorf("List(%+v):\n got %v\nwant %v", tc.q, got, want)
			}
		})
	}
	// The ALL-accounts query sees every owner, including "aws".
	if got := list(t, s, store.ListQuery{Kind: "image-recipe", Accounts: nil}); len(got) != len(wantList(fixture, store.ListQuery{Kind: "image-recipe"})) {
		t.Errorf("List with nil Accounts returned %d resources", len(got))
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
