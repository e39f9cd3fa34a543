package service

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/identity"
	"github.com/goldsmith/goldsmith/internal/keystore"
	"github.com/goldsmith/goldsmith/internal/store"
	"github.com/goldsmith/goldsmith/internal/store/sqlite"
	"github.com/goldsmith/goldsmith/internal/toe"
)

// wfService returns a Service on a fresh SQLite store with a key store,
// seeded regions us-east-1 and eu-west-1, and a caller context for
// account 000000000000 in us-east-1.
func wfService(t *testing.T) (*Service, context.Context, store.Store) {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := keystore.Open(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Store: st, Keys: keys, Regions: []string{"us-east-1", "eu-west-1"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := identity.WithCaller(context.Background(), Caller{Account: "000000000000", Region: "us-east-1"})
	return s, ctx, st
}

func wfCode(err error) string {
	var ge *gen.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return ""
}

const wfDoc = `schemaVersion: 1.0
parameters:
  - name: topic
    type: string
    default: arn:aws:sns:us-east-1:000000000000:t
steps:
  - name: Launch
    action: LaunchInstance
    inputs: {waitFor: ssmAgent}
  - name: Approve
    action: WaitForAction
    inputs:
      snsTopicArn.$: $.parameters.topic
  - name: Terminate
    action: TerminateInstance
    onFailure: Continue
    inputs:
      instanceId.$: $.stepOutputs.Launch.instanceId
`

func TestWorkflowEncryptedAtRest(t *testing.T) {
	s, ctx, st := wfService(t)
	out, err := s.CreateWorkflow(ctx, &gen.CreateWorkflowRequest{Name: "Secret Flow", SemanticVersion: "1.0.0",
		Type: gen.WorkflowTypeTEST, Data: wfDoc, KmsKeyId: "alias/wf"})
	if err != nil {
		t.Fatal(err)
	}
	if out.WorkflowBuildVersionArn != "arn:aws:imagebuilder:us-east-1:000000000000:workflow/test/secret-flow/1.0.0/1" {
		t.Fatalf("arn = %s", out.WorkflowBuildVersionArn)
	}
	var raw gen.Workflow
	if err := st.View(ctx, func(tx store.Tx) error {
		r, err := tx.Get(ctx, out.WorkflowBuildVersionArn)
		if err != nil {
			return err
		}
		if r.Kind != "workflow/test" || r.Name != "secret-flow" || r.Version != "1.0.0" || r.Build != 1 {
			t.Errorf("resource = %+v", r)
		}
		return json.Unmarshal(r.Body, &raw)
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw.Data, "WaitForAction") || !strings.HasPrefix(raw.Data, encryptedWorkflowPrefix) || raw.KmsKeyId != "alias/wf" {
		t.Fatalf("stored body holds %q", raw.Data)
	}
	got, err := s.GetWorkflow(ctx, &gen.GetWorkflowRequest{WorkflowBuildVersionArn: out.WorkflowBuildVersionArn})
	if err != nil {
		t.Fatal(err)
	}
	if got.Workflow.Data != wfDoc || got.Workflow.KmsKeyId != "alias/wf" || got.Workflow.Name != "Secret Flow" {
		t.Fatalf("workflow = %+v", got.Workflow)
	}
	// Same content again: refused even though the stored copy is encrypted.
	_, err = s.CreateWorkflow(ctx, &gen.CreateWorkflowRequest{Name: "Secret Flow", SemanticVersion: "1.0.0",
		Type: gen.WorkflowTypeTEST, Data: wfDoc, KmsKeyId: "alias/wf"})
	if wfCode(err) != gen.CodeResourceInUse {
		t.Fatalf("identical create: %v", err)
	}
}

func TestWorkflowNoKeyStore(t *testing.T) {
	s, ctx, _ := wfService(t)
	s.keys = nil
	_, err := s.CreateWorkflow(ctx, &gen.CreateWorkflowRequest{Name: "w", SemanticVersion: "1.0.0",
		Type: gen.WorkflowTypeTEST, Data: wfDoc, KmsKeyId: "alias/wf"})
	if wfCode(err) != gen.CodeInvalidParameterValue || !strings.Contains(err.Error(), "alias/wf") {
		t.Fatalf("err = %v", err)
	}
}

// TestDeleteWorkflowDependency: a resource that references a workflow
// (a pipeline's SetRefs) blocks its deletion, by build or version ARN.
func TestDeleteWorkflowDependency(t *testing.T) {
	s, ctx, st := wfService(t)
	out, err := s.CreateWorkflow(ctx, &gen.CreateWorkflowRequest{Name: "w", SemanticVersion: "1.0.0", Type: gen.WorkflowTypeBUILD, Data: wfDoc})
	if err != nil {
		t.Fatal(err)
	}
	pipeline := "arn:aws:imagebuilder:us-east-1:000000000000:image-pipeline/p"
	for _, ref := range []string{out.WorkflowBuildVersionArn, "arn:aws:imagebuilder:us-east-1:000000000000:workflow/build/w/1.0.0"} {
		if err := st.Update(ctx, func(tx store.Tx) error { return tx.SetRefs(ctx, pipeline, []string{ref}) }); err != nil {
			t.Fatal(err)
		}
		_, err = s.DeleteWorkflow(ctx, &gen.DeleteWorkflowRequest{WorkflowBuildVersionArn: out.WorkflowBuildVersionArn})
		if wfCode(err) != gen.CodeResourceDependency || !strings.Contains(err.Error(), pipeline) {
			t.Fatalf("delete referenced by %s: %v", ref, err)
		}
	}
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.SetRefs(ctx, pipeline, nil) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteWorkflow(ctx, &gen.DeleteWorkflowRequest{WorkflowBuildVersionArn: out.WorkflowBuildVersionArn}); err != nil {
		t.Fatal(err)
	}
}

func TestSeedManagedIdempotent(t *testing.T) {
	s, ctx, st := wfService(t)
	count := func() int {
		n := 0
		if err := st.View(ctx, func(tx store.Tx) error {
			n = 0
			for _, k := range append([]string{kindComponent}, workflowKinds...) {
				rs, err := tx.List(ctx, store.ListQuery{Kind: k, Accounts: []string{"aws"}})
				if err != nil {
					return err
				}
				n += len(rs)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i := range 3 {
		if err := s.SeedManaged(ctx); err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		if n := count(); n != 2*(len(managedWorkflows)+len(managedComponents)) {
			t.Fatalf("after seed %d: %d managed resources", i, n)
		}
	}
	// Another region's copy has its own ARN.
	got, err := s.GetWorkflow(identity.WithCaller(ctx, Caller{Account: "000000000000", Region: "eu-west-1"}),
		&gen.GetWorkflowRequest{WorkflowBuildVersionArn: "arn:aws:imagebuilder:eu-west-1:aws:workflow/distribution/distribute-image/x.x.x"})
	if err != nil || got.Workflow.Arn != "arn:aws:imagebuilder:eu-west-1:aws:workflow/distribution/distribute-image/1.0.0/1" {
		t.Fatalf("GetWorkflow eu-west-1: %+v, %v", got, err)
	}
}

// TestManagedDocuments: the shipped component documents pass awstoe
// validation, the workflow documents the workflow validator for their type.
func TestManagedDocuments(t *testing.T) {
	for _, mc := range managedComponents {
		b, err := managedDocument("components", mc.name)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := toe.ParseDocument(mc.name, b)
		if err != nil {
			t.Fatalf("%s: %v", mc.name, err)
		}
		if err := toe.Validate(doc); err != nil {
			t.Fatalf("%s: %v", mc.name, err)
		}
		info, err := inspectDocument(mc.name, b)
		if err != nil || info.Type != mc.typ {
			t.Errorf("%s: type %v (want %s), %v", mc.name, info, mc.typ, err)
		}
		if doc.Name != mc.name {
			t.Errorf("%s: document name %q", mc.name, doc.Name)
		}
	}
	for _, w := range managedWorkflows {
		b, err := managedDocument("workflows", w.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inspectWorkflow(w.name, w.typ, b); err != nil {
			t.Errorf("%s: %v", w.name, err)
		}
	}
}

func TestWorkflowKind(t *testing.T) {
	for typ, want := range map[gen.WorkflowType]string{gen.WorkflowTypeBUILD: "workflow/build", gen.WorkflowTypeTEST: "workflow/test", gen.WorkflowTypeDISTRIBUTION: "workflow/distribution"} {
		if got := workflowKind(typ); got != want || !isWorkflowKind(got) {
			t.Errorf("workflowKind(%s) = %s", typ, got)
		}
	}
	if isWorkflowKind("component") {
		t.Error("component is a workflow kind")
	}
	if _, ok := workflowARN("arn:aws:imagebuilder:us-east-1:aws:component/x/1.0.0/1"); ok {
		t.Error("component ARN accepted as a workflow ARN")
	}
	if _, ok := workflowARN("arn:aws:imagebuilder:us-east-1:aws:workflow/build/x"); ok {
		t.Error("versionless workflow ARN accepted")
	}
}
