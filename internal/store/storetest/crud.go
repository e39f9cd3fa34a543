package storetest

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goldsmith/goldsmith/internal/store"
)

func testRoundTrip(t *testing.T, newBackend Backend) {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	full := res("component", "123456789012", "hello-world_1", "1.2.3", 7)
	full.Tags = map[string]string{"team": "build", "empty": "", "unicode ✓": "naïve \"quoted\"", "k:with/odd=chars": "v"}
	full.Policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["111122223333"]},"Action":["imagebuilder:GetComponent"],"Resource":["*"]}]}`
	full.Body = []byte(`{"name":"hello-world_1","data":"line1\nline2\u0000 ✓"}`)

	bin := res("image", "aws", "bin", "10.20.30", 1)
	bin.Body = binary
	bin.Created = time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	bin.Updated = time.Date(2100, 1, 1, 0, 0, 0, 1000000, time.Local)

	unversioned := &store.Resource{
		ARN:     arnOf("infrastructure-configuration", "123456789012", "infra", "", 0),
		Kind:    "infrastructure-configuration",
		Account: "123456789012",
		Name:    "infra",
		Created: time.UnixMilli(0),
		Updated: time.UnixMilli(1),
		Body:    []byte{},
	}

	large := res("workflow/build", "123456789012", "large", "0.0.1", 1)
	large.Body = bytes.Repeat([]byte(`{"step":"x"},`), 100_000) // 1.3 MB
	large.Tags = map[string]string{}
	for i := range 50 {
		large.Tags[strings.Repeat("k", i+1)] = strings.Repeat("v", 256)
	}

	tests := []struct {
		name string
		r    *store.Resource
	}{
		{"every field", full},
		{"binary body and extreme times", bin},
		{"unversioned, no tags, empty body", unversioned},
		{"nil body", func() *store.Resource {
			r := res("image-pipeline", "123456789012", "p", "", 0)
			r.Body = nil
			r.Tags = nil
			return r
		}()},
		{"large body and many tags", large},
	}
	s, _ := openStore(t, newBackend)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := normalized(tc.r)
			mustUpdate(t, s, func(tx store.Tx) error {
				if err := tx.Insert(t.Context(), tc.r); err != nil {
					return err
				}
				got, err := tx.Get(t.Context(), tc.r.ARN)
				if err != nil {
					return err
				}
				if d := diffResource(got, want); d != "" {
					t.Errorf("Get in the inserting Update: %s", d)
				}
				return nil
			})
			if d := diffResource(get(t, s, tc.r.ARN), want); d != "" {
				t.Errorf("Get after commit: %s", d)
			}
			got := list(t, s, store.ListQuery{Kind: tc.r.Kind, Name: tc.r.Name})
			if len(got) != 1 {
				t.Fatalf("List = %v, want one resource", arns(got))
			}
			if d := diffResource(got[0], want); d != "" {
				t.Errorf("List: %s", d)
			}
		})
	}

	t.Run("returned resource is a copy", func(t *testing.T) {
		r := get(t, s, full.ARN)
		r.Body[0] = 'X'
		r.Tags["team"] = "changed"
		if d := diffResource(get(t, s, full.ARN), normalized(full)); d != "" {
			t.Errorf("after mutating a returned resource: %s", d)
		}
	})
}

func testInsertDuplicate(t *testing.T, newBackend Backend) {
	s, _ := openStore(t, newBackend)
	orig := res("component", "123456789012", "dup", "1.0.0", 1)
	insert(t, s, orig)

	other := res("component", "123456789012", "other", "1.0.0", 1)
	dup := res("image", "999988887777", "changed", "2.0.0", 9) // different everything but the ARN
	dup.ARN = orig.ARN
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Insert(t.Context(), dup); !errors.Is(err, store.ErrExists) {
			t.Errorf("Insert duplicate = %v, want ErrExists", err)
		}
		// The transaction must stay usable after ErrExists.
		return tx.Insert(t.Context(), other)
	})
	if d := diffResource(get(t, s, orig.ARN), normalized(orig)); d != "" {
		t.Errorf("original changed by a duplicate Insert: %s", d)
	}
	if d := diffResource(get(t, s, other.ARN), normalized(other)); d != "" {
		t.Errorf("Insert after ErrExists in the same Update: %s", d)
	}

	// Duplicate within one transaction.
	x := res("component", "123456789012", "x", "1.0.0", 1)
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Insert(t.Context(), x); err != nil {
			return err
		}
		return tx.Insert(t.Context(), x)
	})
	if !errors.Is(err, store.ErrExists) {
		t.Errorf("Insert twice in one Update = %v, want ErrExists", err)
	}
	wantNotFound(t, s, x.ARN)
}

func testNotFound(t *testing.T, newBackend Backend) {
	s, _ := openStore(t, newBackend)
	present := res("component", "123456789012", "present", "1.0.0", 1)
	insert(t, s, present)
	missing := res("component", "123456789012", "missing", "1.0.0", 1)
	tests := []struct {
		name string
		op   func(tx store.Tx) error
	}{
		{"Get", func(tx store.Tx) error { _, err := tx.Get(t.Context(), missing.ARN); return err }},
		{"Get ARN prefix", func(tx store.Tx) error {
			_, err := tx.Get(t.Context(), strings.TrimSuffix(present.ARN, "/1"))
			return err
		}},
		{"Replace", func(tx store.Tx) error { return tx.Replace(t.Context(), missing) }},
		{"Delete", func(tx store.Tx) error { return tx.Delete(t.Context(), missing.ARN) }},
		{"GetIdempotency", func(tx store.Tx) error {
			_, err := tx.GetIdempotency(t.Context(), "123456789012", "CreateComponent", "tok")
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(t.Context(), tc.op)
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s = %v, want ErrNotFound", tc.name, err)
			}
		})
	}
	wantNotFound(t, s, missing.ARN)
}

func testReplace(t *testing.T, newBackend Backend) {
	s, _ := openStore(t, newBackend)
	orig := res("image-recipe", "123456789012", "recipe", "1.0.0", 0)
	orig.Policy = `{"old":true}`
	orig.Tags = map[string]string{"a": "1", "b": "2"}
	neighbour := res("image-recipe", "123456789012", "recipe", "1.0.1", 0)
	insert(t, s, orig, neighbour)

	tests := []struct {
		name   string
		change func(r *store.Resource)
	}{
		{"body updated tags policy", func(r *store.Resource) {
			r.Body = []byte(`{"new":1}`)
			r.Updated = t0.Add(48*time.Hour + 777*time.Microsecond)
			r.Tags = map[string]string{"c": "3"}
			r.Policy = `{"new":true}`
		}},
		{"clear tags and policy", func(r *store.Resource) {
			r.Tags = nil
			r.Policy = ""
			r.Body = []byte(`{}`)
		}},
		{"indexed fields are ignored", func(r *store.Resource) {
			r.Kind = "component"
			r.Account = "999988887777"
			r.Name = "renamed"
			r.Version = "9.9.9"
			r.Build = 42
			r.Created = t0.Add(-1000 * time.Hour)
			r.Tags = map[string]string{"d": "4"}
		}},
	}
	cur := normalized(orig)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := normalized(cur)
			tc.change(in)
			mustUpdate(t, s, func(tx store.Tx) error { return tx.Replace(t.Context(), in) })
			want := normalized(cur)
			want.Body, want.Updated, want.Tags, want.Policy = in.Body, msUTC(in.Updated), in.Tags, in.Policy
			if d := diffResource(get(t, s, orig.ARN), want); d != "" {
				t.Errorf("after Replace: %s", d)
			}
			cur = want
			if got := list(t, s, store.ListQuery{Kind: "image-recipe", Name: "recipe"}); !equalStrings(arns(got), []string{orig.ARN, neighbour.ARN}) {
				t.Errorf("List after Replace = %v", arns(got))
			}
			if d := diffResource(get(t, s, neighbour.ARN), normalized(neighbour)); d != "" {
				t.Errorf("neighbour changed: %s", d)
			}
		})
	}
}

func testDelete(t *testing.T, newBackend Backend) {
	s, _ := openStore(t, newBackend)
	a := res("image-recipe", "123456789012", "a", "1.0.0", 0)
	b := res("component", "123456789012", "b", "1.0.0", 1)
	c := res("image-pipeline", "123456789012", "c", "", 0)
	insert(t, s, a, b, c)
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.SetRefs(t.Context(), a.ARN, []string{b.ARN}); err != nil {
			return err
		}
		return tx.SetRefs(t.Context(), c.ARN, []string{a.ARN, b.ARN})
	})

	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Delete(t.Context(), a.ARN); err != nil {
			return err
		}
		if _, err := tx.Get(t.Context(), a.ARN); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get in the deleting Update = %v, want ErrNotFound", err)
		}
		if err := tx.Delete(t.Context(), a.ARN); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second Delete = %v, want ErrNotFound", err)
		}
		return nil
	})
	wantNotFound(t, s, a.ARN)
	if got, want := refsTo(t, s, b.ARN), []string{c.ARN}; !equalStrings(got, want) {
		t.Errorf("RefsTo(b) after deleting a = %v, want %v (a's outgoing refs removed)", got, want)
	}
	// References held by others to the deleted resource are the service's
	// business; the store keeps them.
	if got, want := refsTo(t, s, a.ARN), []string{c.ARN}; !equalStrings(got, want) {
		t.Errorf("RefsTo(a) after deleting a = %v, want %v", got, want)
	}
	if got := list(t, s, store.ListQuery{Kind: "component"}); !equalStrings(arns(got), []string{b.ARN}) {
		t.Errorf("List(component) = %v", arns(got))
	}
	// The ARN can be reused after Delete.
	insert(t, s, a)
	if d := diffResource(get(t, s, a.ARN), normalized(a)); d != "" {
		t.Errorf("re-inserted: %s", d)
	}
	if got := refsTo(t, s, b.ARN); !equalStrings(got, []string{c.ARN}) {
		t.Errorf("RefsTo(b) after re-inserting a = %v: refs must not come back", got)
	}
}

func testMaxBuild(t *testing.T, newBackend Backend) {
	s, _ := openStore(t, newBackend)
	insert(t, s,
		res("component", "123456789012", "c", "1.0.0", 1),
		res("component", "123456789012", "c", "1.0.0", 3),
		res("component", "123456789012", "c", "1.0.0", 2),
		res("component", "123456789012", "c", "1.0.1", 9),
		res("component", "123456789012", "c", "10.0.0", 11),
		res("component", "123456789012", "c-other", "1.0.0", 8),
		res("component", "999988887777", "c", "1.0.0", 7),
		res("image", "123456789012", "c", "1.0.0", 6),
	)
	tests := []struct {
		kind, account, name, version string
		want                         int
	}{
		{"component", "123456789012", "c", "1.0.0", 3},
		{"component", "123456789012", "c", "1.0.1", 9},
		{"component", "123456789012", "c", "10.0.0", 11},
		{"component", "123456789012", "c", "1.0.2", 0},
		{"component", "123456789012", "c-other", "1.0.0", 8},
		{"component", "999988887777", "c", "1.0.0", 7},
		{"image", "123456789012", "c", "1.0.0", 6},
		{"workflow/build", "123456789012", "c", "1.0.0", 0},
		{"component", "111122223333", "c", "1.0.0", 0},
	}
	for _, tc := range tests {
		var got int
		mustView(t, s, func(tx store.Tx) error {
			var err error
			got, err = tx.MaxBuild(t.Context(), tc.kind, tc.account, tc.name, tc.version)
			return err
		})
		if got != tc.want {
			t.Errorf("MaxBuild(%s, %s, %s, %s) = %d, want %d", tc.kind, tc.account, tc.name, tc.version, got, tc.want)
		}
	}
}

func testRefs(t *testing.T, newBackend Backend) {
	s, _ := openStore(t, newBackend)
	const (
		a       = "arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/a/1.0.0"
		b       = "arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/b/1.0.0"
		d       = "arn:aws:imagebuilder:us-east-1:123456789012:image-pipeline/d"
		comp    = "arn:aws:imagebuilder:us-east-1:123456789012:component/c/1.0.0/1"
		pattern = "arn:aws:imagebuilder:us-east-1:123456789012:component/c/x.x.x"
		other   = "arn:aws:imagebuilder:us-east-1:aws:component/update-linux/1.0.2/1"
	)
	steps := []struct {
		name  string
		from  string
		to    []string
		check map[string][]string // to -> want RefsTo
	}{
		{"first set", b, []string{comp, pattern, comp}, map[string][]string{comp: {b}, pattern: {b}, other: nil}},
		{"second referrer sorted", a, []string{comp, other}, map[string][]string{comp: {a, b}, other: {a}}},
		{"third referrer", d, []string{a}, map[string][]string{a: {d}, comp: {a, b}}},
		{"replace, not add", b, []string{other}, map[string][]string{comp: {a}, pattern: nil, other: {a, b}}},
		{"clear with nil", a, nil, map[string][]string{comp: nil, other: {b}, a: {d}}},
		{"clear with empty", b, []string{}, map[string][]string{other: nil}},
		{"patterns match exactly", b, []string{pattern}, map[string][]string{pattern: {b}, comp: nil}},
	}
	for _, st := range steps {
		mustUpdate(t, s, func(tx store.Tx) error { return tx.SetRefs(t.Context(), st.from, st.to) })
		for to, want := range st.check {
			if got := refsTo(t, s, to); !equalStrings(got, want) {
				t.Errorf("%s: RefsTo(%s) = %v, want %v", st.name, to, got, want)
			}
		}
	}
	// SetRefs and RefsTo in the same transaction.
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.SetRefs(t.Context(), a, []string{pattern}); err != nil {
			return err
		}
		got, err := tx.RefsTo(t.Context(), pattern)
		if err != nil {
			return err
		}
		if want := []string{a, b}; !equalStrings(got, want) {
			t.Errorf("RefsTo in the same Update = %v, want %v", got, want)
		}
		return nil
	})
}

func testIdempotency(t *testing.T, newBackend Backend) {
	s, _ := openStore(t, newBackend)
	rec := &store.IdempotencyRecord{
		Account:     "123456789012",
		Operation:   "CreateComponent",
		Token:       "7d938679-0b6a-4a3c-9f3f-7c1c1f0e2f11",
		RequestHash: "sha256:0f1e2d",
		Response:    []byte(`{"requestId":"r1","componentBuildVersionArn":"arn:..."}`),
		Created:     t0,
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutIdempotency(t.Context(), rec) })

	var got *store.IdempotencyRecord
	mustView(t, s, func(tx store.Tx) error {
		var err error
		got, err = tx.GetIdempotency(t.Context(), rec.Account, rec.Operation, rec.Token)
		return err
	})
	if got.Account != rec.Account || got.Operation != rec.Operation || got.Token != rec.Token ||
		got.RequestHash != rec.RequestHash || !bytes.Equal(got.Response, rec.Response) ||
		!got.Created.Equal(msUTC(rec.Created)) || got.Created.Location() != time.UTC {
		t.Errorf("GetIdempotency = %+v, want %+v (Created %v UTC)", got, rec, msUTC(rec.Created))
	}

	dup := *rec
	dup.RequestHash, dup.Response = "other", []byte(`{}`)
	other := *rec
	other.Token = "another-token"
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.PutIdempotency(t.Context(), &dup); !errors.Is(err, store.ErrExists) {
			t.Errorf("PutIdempotency duplicate = %v, want ErrExists", err)
		}
		return tx.PutIdempotency(t.Context(), &other) // still usable
	})
	mustView(t, s, func(tx store.Tx) error {
		g, err := tx.GetIdempotency(t.Context(), rec.Account, rec.Operation, rec.Token)
		if err != nil {
			return err
		}
		if g.RequestHash != rec.RequestHash {
			t.Errorf("record overwritten by a duplicate Put: %+v", g)
		}
		return nil
	})

	missing := []struct{ account, operation, token string }{
		{"999988887777", rec.Operation, rec.Token},
		{rec.Account, "CreateImage", rec.Token},
		{rec.Account, rec.Operation, "nope"},
	}
	for _, m := range missing {
		err := s.View(t.Context(), func(tx store.Tx) error {
			_, err := tx.GetIdempotency(t.Context(), m.account, m.operation, m.token)
			return err
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetIdempotency(%s, %s, %s) = %v, want ErrNotFound", m.account, m.operation, m.token, err)
		}
	}
}
