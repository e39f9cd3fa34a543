package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/artifact/base"
	"github.com/goldsmith/goldsmith/internal/artifact/registry"
	"github.com/goldsmith/goldsmith/internal/engine/containerbuild"
	"github.com/goldsmith/goldsmith/internal/instance/container"
	"github.com/goldsmith/goldsmith/internal/store"
	"github.com/goldsmith/goldsmith/internal/store/postgres"
	"github.com/goldsmith/goldsmith/internal/store/sqlite"
	"github.com/goldsmith/goldsmith/internal/testsupport"
)

const (
	demoARN     = "arn:aws:imagebuilder:us-east-1:000000000000:image/demo/1.0.0/1"
	demoAccount = "000000000000"
	template    = "FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:environments }}}\n{{{ imagebuilder:components }}}"
)

// fakeInputs resolves every image to the same components.
type fakeInputs struct {
	mu  sync.Mutex
	in  ContainerInputs
	err error
}

func (f *fakeInputs) Container(ctx context.Context, arn string) (*ContainerInputs, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	in := f.in
	return &in, nil
}

func (f *fakeInputs) VM(ctx context.Context, arn string) (*VMInputs, error) {
	return nil, errors.New("no VM inputs in the engine tests")
}

// testEnv is one test's store, registry (base pushed as base:latest) and
// directories.
type testEnv struct {
	st            store.Store
	driver, dsn   string
	host          string
	reg           *registry.Registry
	scratch, logs string
	inputs        *fakeInputs
}

func newTestEnv(t testing.TB, pgAdmin string, comps ...containerbuild.Component) *testEnv {
	t.Helper()
	testsupport.RequireRealBuilds(t)
	ctx := t.Context()
	dir := t.TempDir()
	te := &testEnv{scratch: filepath.Join(dir, "scratch"), logs: filepath.Join(dir, "logs")}
	if pgAdmin == "" {
		te.driver, te.dsn = "sqlite", filepath.Join(dir, "goldsmith.db")
		st, err := sqlite.Open(ctx, te.dsn)
		if err != nil {
			t.Fatal(err)
		}
		te.st = st
	} else {
		te.driver, te.dsn = "postgres", testsupport.FreshDatabase(t, pgAdmin)
		st, err := postgres.Open(ctx, te.dsn)
		if err != nil {
			t.Fatal(err)
		}
		te.st = st
	}
	t.Cleanup(func() { te.st.Close() })
	reg, err := registry.New(ctx, filepath.Join(dir, "registry"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(func() {
		srv.Close()
		reg.Close()
	})
	te.host, te.reg = strings.TrimPrefix(srv.URL, "http://"), reg
	img, err := base.Busybox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(te.host+"/base:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("pushing the base: %v", err)
	}
	te.inputs = &fakeInputs{in: ContainerInputs{Components: comps, ParentRef: te.host + "/base:latest",
		Repository: "demo-out", Tags: []string{"latest"}}}
	t.Cleanup(func() { assertNothingLeft(t, te.scratch) })
	return te
}

// engine makes and starts an engine on te; it is stopped at the end of the test.
func (te *testEnv) engine(t testing.TB) *Engine {
	t.Helper()
	return te.engineWith(t, nil)
}

// engineWith is engine with the options more changes.
func (te *testEnv) engineWith(t testing.TB, more func(*Options)) *Engine {
	t.Helper()
	o := Options{
		Store: te.st, QueueDriver: te.driver, QueueDSN: te.dsn, Inputs: te.inputs, RegistryAddr: te.host,
		GoldsmithBinary: testsupport.GoldsmithBinary(t), ScratchRoot: te.scratch, LogRoot: te.logs,
		Logger: slog.New(slog.DiscardHandler),
	}
	if more != nil {
		more(&o)
	}
	e, err := New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return e
}

// insertImage stores a PENDING image (type DOCKER unless typ says otherwise).
func (te *testEnv) insertImage(t testing.TB, arn string, typ gen.ImageType) {
	t.Helper()
	te.insertImageTemplate(t, arn, typ, template)
}

// insertImageTemplate is insertImage with the recipe's Dockerfile template.
func (te *testEnv) insertImageTemplate(t testing.TB, arn string, typ gen.ImageType, tmpl string) {
	t.Helper()
	img := gen.Image{Arn: arn, Type: typ, Name: "demo", Version: "1.0.0", Platform: gen.PlatformLinux,
		State: &gen.ImageState{Status: gen.ImageStatusPENDING},
		ContainerRecipe: &gen.ContainerRecipe{Name: "demo", Version: "1.0.0", DockerfileTemplateData: tmpl,
			ParentImage: te.host + "/base:latest", ContainerType: gen.ContainerTypeDOCKER}}
	body, err := json.Marshal(struct {
		gen.Image
		Import map[string]string `json:"goldsmithImport"`
	}{img, map[string]string{"description": "kept"}})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := parseImageARN(arn)
	now := time.Now().UTC()
	err = te.st.Update(t.Context(), func(tx store.Tx) error {
		return tx.Insert(t.Context(), &store.Resource{ARN: arn, Kind: imageKind, Account: a.Account, Name: a.Name,
			Version: a.Version, Build: 1, Created: now, Updated: now, Body: body})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (te *testEnv) image(t testing.TB, arn string) *imageDoc {
	t.Helper()
	d, _, err := loadImage(t.Context(), te.st, arn)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// waitFinal polls until the image is AVAILABLE, FAILED or CANCELLED.
func (te *testEnv) waitFinal(t *testing.T, arn string, timeout time.Duration) *imageDoc {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d := te.image(t, arn)
		switch d.status() {
		case gen.ImageStatusAVAILABLE, gen.ImageStatusFAILED, gen.ImageStatusCANCELLED:
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("image still %s after %v", d.status(), timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitStep polls until a step of the image with the name is RUNNING.
func (te *testEnv) waitStep(t *testing.T, arn, step string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, s := range te.allSteps(t, arn) {
			if s.Name == step && s.Status == gen.WorkflowStepExecutionStatusRUNNING {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("step %s never ran", step)
}

func (te *testEnv) executions(t testing.TB, arn string) []*Execution {
	t.Helper()
	var xs []*Execution
	err := te.st.View(t.Context(), func(tx store.Tx) error {
		var err error
		xs, err = Executions(t.Context(), tx, demoAccount, arn)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return xs
}

func (te *testEnv) steps(t testing.TB, execID string) []*StepExecution {
	t.Helper()
	var ss []*StepExecution
	err := te.st.View(t.Context(), func(tx store.Tx) error {
		var err error
		ss, err = Steps(t.Context(), tx, demoAccount, execID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

func (te *testEnv) allSteps(t testing.TB, arn string) []*StepExecution {
	t.Helper()
	var all []*StepExecution
	for _, x := range te.executions(t, arn) {
		all = append(all, te.steps(t, x.WorkflowExecutionId)...)
	}
	return all
}

// summary renders the executions and steps as "TYPE=STATUS[step=STATUS ...]".
func (te *testEnv) summary(t testing.TB, arn string) string {
	t.Helper()
	var b []string
	for _, x := range te.executions(t, arn) {
		var ss []string
		for _, s := range te.steps(t, x.WorkflowExecutionId) {
			ss = append(ss, s.Name+"="+string(s.Status))
		}
		b = append(b, fmt.Sprintf("%s=%s[%s]", x.Type, x.Status, strings.Join(ss, " ")))
	}
	return strings.Join(b, " ")
}

func bashComponent(name, buildCmd, testCmd string) containerbuild.Component {
	doc := "name: " + name + "\nschemaVersion: 1.0\nphases:\n" +
		"  - name: build\n    steps:\n      - name: Run" + name + "\n        action: ExecuteBash\n        inputs:\n          commands:\n" +
		"            - " + buildCmd + "\n"
	if testCmd != "" {
		doc += "  - name: test\n    steps:\n      - name: Check" + name + "\n        action: ExecuteBash\n        inputs:\n          commands:\n" +
			"            - " + testCmd + "\n"
	}
	return containerbuild.Component{ARN: "arn:aws:imagebuilder:us-east-1:000000000000:component/" + name + "/1.0.0/1",
		Name: name, Type: containerbuild.TypeBuild, Document: []byte(doc)}
}

// assertNothingLeft checks that no mount and no goldsmith runc container
// refers to dir.
func assertNothingLeft(tb testing.TB, dir string) {
	tb.Helper()
	mounts, _ := os.ReadFile("/proc/mounts")
	if strings.Contains(string(mounts), dir) {
		tb.Errorf("mounts left under %s", dir)
	}
	out, _ := exec.Command("runc", "--root", container.StateRoot, "list", "--format", "json").Output()
	var list []struct {
		ID     string `json:"id"`
		Bundle string `json:"bundle"`
	}
	_ = json.Unmarshal(out, &list)
	for _, c := range list {
		if strings.HasPrefix(c.ID, container.IDPrefix) && strings.HasPrefix(c.Bundle, dir) {
			tb.Errorf("runc container %s left (bundle %s)", c.ID, c.Bundle)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	testsupport.Cleanup()
	os.Exit(code)
}
