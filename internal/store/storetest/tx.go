package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/goldsmith/goldsmith/internal/store"
)

// seed holds the rows writeEverything touches.
type seed struct {
	existing, other *store.Resource
}

func newSeed(t *testing.T, s store.Store) seed {
	t.Helper()
	sd := seed{
		existing: res("component", "123456789012", "existing", "1.0.0", 1),
		other:    res("component", "123456789012", "other", "1.0.0", 1),
	}
	insert(t, s, sd.existing, sd.other)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.SetRefs(t.Context(), sd.other.ARN, []string{"ref-target"}) })
	return sd
}

var (
	newRes = res("component", "123456789012", "new", "1.0.0", 1)
	newRec = &store.IdempotencyRecord{Account: "123456789012", Operation: "CreateComponent", Token: "tok",
		RequestHash: "h", Response: []byte(`{}`), Created: t0}
)

// writeEverything performs one of every write inside tx.
func (sd seed) writeEverything(ctx context.Context, tx store.Tx) error {
	if err := tx.Insert(ctx, newRes); err != nil {
		return err
	}
	if err := tx.SetRefs(ctx, newRes.ARN, []string{sd.existing.ARN}); err != nil {
		return err
	}
	if err := tx.PutIdempotency(ctx, newRec); err != nil {
		return err
	}
	changed := *sd.existing
	changed.Body = []byte(`{"changed":true}`)
	if err := tx.Replace(ctx, &changed); err != nil {
		return err
	}
	if err := tx.SetRefs(ctx, sd.other.ARN, nil); err != nil {
		return err
	}
	return tx.Delete(ctx, sd.other.ARN)
}

// checkUntouched fails the test if any write of writeEverything persisted.
func (sd seed) checkUntouched(t *testing.T, s store.Store) {
	t.Helper()
	wantNotFound(t, s, newRes.ARN)
	if d := diffResource(get(t, s, sd.existing.ARN), normalized(sd.existing)); d != "" {
		t.Errorf("Replace persisted: %s", d)
	}
	if d := diffResource(get(t, s, sd.other.ARN), normalized(sd.other)); d != "" {
		t.Errorf("Delete persisted: %s", d)
	}
	if got := refsTo(t, s, sd.existing.ARN); len(got) != 0 {
		t.Errorf("SetRefs persisted: RefsTo = %v", got)
	}
	if got := refsTo(t, s, "ref-target"); !equalStrings(got, []string{sd.other.ARN}) {
		t.Errorf("SetRefs(nil) or Delete persisted: RefsTo = %v", got)
	}
	err := s.View(t.Context(), func(tx store.Tx) error {
		_, err := tx.GetIdempotency(t.Context(), newRec.Account, newRec.Operation, newRec.Token)
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutIdempotency persisted: GetIdempotency = %v", err)
	}
}

// checkUsable makes sure the store still works, more times than any
// sensible connection pool is large (a leaked connection or a transaction
// left open would make this hang, so it runs under a deadline).
func checkUsable(t *testing.T, s store.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for i := range 40 {
		r := res("image", "123456789012", "usable", "1.0.0", i+1)
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, r) }); err != nil {
			t.Fatalf("Update %d afterwards: %v", i, err)
		}
		if err := s.View(ctx, func(tx store.Tx) error { _, err := tx.Get(ctx, r.ARN); return err }); err != nil {
			t.Fatalf("View %d afterwards: %v", i, err)
		}
	}
}

func testRollbackOnError(t *testing.T, newBackend Backend) {
	s, _ := openStore(t, newBackend)
	sd := newSeed(t, s)
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := sd.writeEverything(t.Context(), tx); err != nil {
			t.Fatalf("writeEverything: %v", err)
		}
		return fmt.Errorf("wrapped: %w", boom)
	})
	if !errors.Is(err, boom) {
		t.Errorf("Update = %v, want the error fn returned", err)
	}
	sd.checkUntouched(t, s)

	// An error returned by View reaches the caller too.
	if err := s.View(t.Context(), func(store.Tx) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("View = %v, want the error fn returned", err)
	}
	checkUsable(t, s)
}

func testRollbackOnPanic(t *testing.T, newBackend Backend) {
	s, _ := openStore(t, newBackend)
	sd := newSeed(t, s)
	type sentinel struct{ msg string }
	for _, kind := range []string{"Update", "View"} {
		func() {
			defer func() {
				p := recover()
				if p != (sentinel{kind}) {
					t.Errorf("%s: recovered %#v, want the panic value re-raised", kind, p)
				}
			}()
			run := s.Update
			if kind == "View" {
				run = s.View
			}
			_ = run(t.Context(), func(tx store.Tx) error {
				if kind == "Update" {
					if err := sd.writeEverything(t.Context(), tx); err != nil {
						t.Errorf("writeEverything: %v", err)
					}
				}
				panic(sentinel{kind})
			})
			t.Errorf("%s returned instead of panicking", kind)
		}()
	}
	sd.checkUntouched(t, s)
	checkUsable(t, s)
}

func testViewIsReadOnly(t *testing.T, newBackend Backend) {
	s, _ := openStore(t, newBackend)
	sd := newSeed(t, s)
	writes := []struct {
		name string
		fn   func(tx store.Tx) error
	}{
		{"Insert", func(tx store.Tx) error { return tx.Insert(t.Context(), newRes) }},
		{"Replace", func(tx store.Tx) error {
			c := *sd.existing
			c.Body = []byte(`{"changed":true}`)
			return tx.Replace(t.Context(), &c)
		}},
		{"Delete", func(tx store.Tx) error { return tx.Delete(t.Context(), sd.other.ARN) }},
		{"SetRefs", func(tx store.Tx) error { return tx.SetRefs(t.Context(), newRes.ARN, []string{sd.existing.ARN}) }},
		{"PutIdempotency", func(tx store.Tx) error { return tx.PutIdempotency(t.Context(), newRec) }},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			var inner error
			err := s.View(t.Context(), func(tx store.Tx) error {
				inner = w.fn(tx)
				return nil
			})
			if inner == nil && err == nil {
				t.Errorf("%s inside View succeeded", w.name)
			}
		})
	}
	sd.checkUntouched(t, s)
	checkUsable(t, s)
}

// nextBuild is the read-modify-write the service does to create a build.
func nextBuild(ctx context.Context, s store.Store, name string) (int, error) {
	var build int
	err := s.Update(ctx, func(tx store.Tx) error {
		n, err := tx.MaxBuild(ctx, "component", "123456789012", name, "1.0.0")
		if err != nil {
			return err
		}
		build = n + 1
		return tx.Insert(ctx, res("component", "123456789012", name, "1.0.0", build))
	})
	return build, err
}

// concurrentBuilds runs workers goroutines, each creating perWorker builds
// through stores[i%len(stores)], with readers running alongside.
func concurrentBuilds(t *testing.T, stores []store.Store, workers, perWorker int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		builds []int
		errs   []error
	)
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for i := range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := stores[i%len(stores)].View(ctx, func(tx store.Tx) error {
					_, err := tx.List(ctx, store.ListQuery{Kind: "component"})
					return err
				})
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("reader: %w", err))
					mu.Unlock()
					return
				}
			}
		})
	}
	for i := range workers {
		wg.Go(func() {
			for range perWorker {
				b, err := nextBuild(ctx, stores[i%len(stores)], "concurrent")
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("worker %d: %w", i, err))
				} else {
					builds = append(builds, b)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	slices.Sort(builds)
	n := workers * perWorker
	want := make([]int, n)
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(builds, want) {
		t.Errorf("builds = %v, want 1..%d", builds, n)
	}
	var got []*store.Resource
	mustView(t, stores[0], func(tx store.Tx) error {
		var err error
		got, err = tx.List(t.Context(), store.ListQuery{Kind: "component", Name: "concurrent"})
		return err
	})
	for i, r := range got {
		if r.Build != i+1 {
			t.Errorf("stored builds: index %d has build %d", i, r.Build)
		}
	}
	if len(got) != n {
		t.Errorf("stored %d builds, want %d", len(got), n)
	}
}

func testConcurrentBuilds(t *testing.T, newBackend Backend) {
	s, _ := openStore(t, newBackend)
	concurrentBuilds(t, []store.Store{s}, 8, 5)
}

// testConcurrentBuildsTwoStores is two servers sharing one database.
func testConcurrentBuildsTwoStores(t *testing.T, newBackend Backend) {
	s1, open := openStore(t, newBackend)
	s2 := mustOpen(t, open)
	concurrentBuilds(t, []store.Store{s1, s2}, 8, 5)
}

func testContextCancellation(t *testing.T, newBackend Backend) {
	s, _ := openStore(t, newBackend)
	sd := newSeed(t, s)
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()

	t.Run("before Update", func(t *testing.T) {
		err := s.Update(cancelled, func(tx store.Tx) error { return sd.writeEverything(cancelled, tx) })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Update = %v, want context.Canceled", err)
		}
		sd.checkUntouched(t, s)
	})
	t.Run("before View", func(t *testing.T) {
		err := s.View(cancelled, func(tx store.Tx) error { _, err := tx.Get(cancelled, sd.existing.ARN); return err })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("View = %v, want context.Canceled", err)
		}
	})
	t.Run("during Update", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := sd.writeEverything(ctx, tx); err != nil {
				return err
			}
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Update = %v, want context.Canceled", err)
		}
		sd.checkUntouched(t, s)
	})
	t.Run("Tx method", func(t *testing.T) {
		ops := []struct {
			name string
			fn   func(tx store.Tx) error
		}{
			{"Get", func(tx store.Tx) error { _, err := tx.Get(cancelled, sd.existing.ARN); return err }},
			{"Insert", func(tx store.Tx) error { return tx.Insert(cancelled, newRes) }},
			{"List", func(tx store.Tx) error { _, err := tx.List(cancelled, store.ListQuery{Kind: "component"}); return err }},
			{"MaxBuild", func(tx store.Tx) error {
				_, err := tx.MaxBuild(cancelled, "component", "123456789012", "existing", "1.0.0")
				return err
			}},
			{"RefsTo", func(tx store.Tx) error { _, err := tx.RefsTo(cancelled, "ref-target"); return err }},
		}
		for _, op := range ops {
			var inner error
			err := s.Update(t.Context(), func(tx store.Tx) error {
				inner = op.fn(tx)
				return inner
			})
			if !errors.Is(inner, context.Canceled) {
				t.Errorf("%s with a cancelled context = %v, want context.Canceled", op.name, inner)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Update returning the %s error = %v, want context.Canceled", op.name, err)
			}
		}
		sd.checkUntouched(t, s)
	})
	t.Run("deadline while another writer holds the lock", func(t *testing.T) {
		holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- s.Update(t.Context(), func(tx store.Tx) error {
				if _, err := tx.MaxBuild(t.Context(), "component", "123456789012", "existing", "1.0.0"); err != nil {
					return err
				}
				close(holding)
				<-release
				return tx.Insert(t.Context(), res("image", "123456789012", "held", "1.0.0", 1))
			})
		}()
		select {
		case <-holding:
		case err := <-done:
			t.Fatalf("holding Update: %v", err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := nextBuild(ctx, s, "waiting")
		close(release)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Update waiting for the lock = %v, want context.DeadlineExceeded", err)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("Update returned %v after its deadline", el)
		}
		if err := <-done; err != nil {
			t.Errorf("holding Update: %v", err)
		}
		get(t, s, arnOf("image", "123456789012", "held", "1.0.0", 1))
		wantNotFound(t, s, arnOf("component", "123456789012", "waiting", "1.0.0", 1))
	})
	checkUsable(t, s)
}

func testReopen(t *testing.T, newBackend Backend) {
	open := newBackend(t)
	r := res("image", "123456789012", "persist", "1.2.3", 4)
	r.Tags = map[string]string{"k": "v"}
	r.Policy = `{"p":1}`
	for i := range 3 {
		s, err := open(t.Context())
		if err != nil {
			t.Fatalf("open #%d: %v", i+1, err)
		}
		switch i {
		case 0:
			insert(t, s, r)
			mustUpdate(t, s, func(tx store.Tx) error {
				if err := tx.SetRefs(t.Context(), r.ARN, []string{"target"}); err != nil {
					return err
				}
				return tx.PutIdempotency(t.Context(), newRec)
			})
		default:
			if d := diffResource(get(t, s, r.ARN), normalized(r)); d != "" {
				t.Errorf("after reopen #%d: %s", i, d)
			}
			if got := refsTo(t, s, "target"); !equalStrings(got, []string{r.ARN}) {
				t.Errorf("after reopen #%d: RefsTo = %v", i, got)
			}
			mustView(t, s, func(tx store.Tx) error {
				_, err := tx.GetIdempotency(t.Context(), newRec.Account, newRec.Operation, newRec.Token)
				return err
			})
			if b, err := nextBuild(t.Context(), s, "after-reopen"); err != nil || b != i {
				t.Errorf("after reopen #%d: nextBuild = %d, %v; want %d", i, b, err, i)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatalf("close #%d: %v", i+1, err)
		}
	}
}

func testConcurrentOpen(t *testing.T, newBackend Backend) {
	open := newBackend(t)
	const n = 4
	stores := make([]store.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = open(t.Context()) })
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Errorf("concurrent open #%d: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close #%d: %v", i, err)
			}
		})
	}
	if t.Failed() {
		return
	}
	for i, s := range stores {
		if b, err := nextBuild(t.Context(), s, "shared"); err != nil || b != i+1 {
			t.Errorf("store #%d: nextBuild = %d, %v; want %d", i, b, err, i+1)
		}
	}
	for i, s := range stores {
		if got := list(t, s, store.ListQuery{Kind: "component", Name: "shared"}); len(got) != n {
			t.Errorf("store #%d sees %d builds, want %d", i, len(got), n)
		}
	}
}

// testViewInsideUpdate: fn given to Update may call View, which sees only
// committed data.
func testViewInsideUpdate(t *testing.T, newBackend Backend) {
	s, _ := openStore(t, newBackend)
	r := res("image", "123456789012", "nested", "1.0.0", 1)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Insert(ctx, r); err != nil {
			return err
		}
		err := s.View(ctx, func(v store.Tx) error { _, err := v.Get(ctx, r.ARN); return err })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("View inside Update: Get of the uncommitted resource = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	get(t, s, r.ARN)
}
