package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// Store kinds of the build records.
const (
	// KindExecution: ARN field "wf-<uuid>", Account = image owner, Name =
	// image ARN, Build = stage index 1..3.
	KindExecution = "workflow-execution"
	// KindStep: ARN field "step-<uuid>", Account = image owner, Name =
	// execution id, Build = step index 1..n.
	KindStep = "workflow-step-execution"
)

// Execution is one workflow execution (one stage of an image build). Its
// JSON is the stored body.
type Execution struct {
	gen.WorkflowExecutionMetadata
	ImageBuildVersionArn string `json:"imageBuildVersionArn"`
}

// StepExecution is one step of a workflow execution. Its JSON is the
// stored body.
type StepExecution struct {
	gen.WorkflowStepMetadata
	WorkflowExecutionId     string `json:"workflowExecutionId"`
	WorkflowBuildVersionArn string `json:"workflowBuildVersionArn"`
	ImageBuildVersionArn    string `json:"imageBuildVersionArn"`
	OnFailure               string `json:"onFailure,omitempty"`
	TimeoutSeconds          *int32 `json:"timeoutSeconds,omitempty"`
}

// timeLayout is the layout of DateTime fields: ISO-8601 UTC with
// milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z"

// timestamp formats a DateTime field.
func timestamp(t time.Time) string {
	return t.UTC().Format(timeLayout)
}

func newExecutionID() string { return "wf-" + uuid.NewString() }
func newStepID() string      { return "step-" + uuid.NewString() }

// Executions returns the workflow executions of an image in stage order
// (a retried stage after the attempts it retries).
func Executions(ctx context.Context, tx store.Tx, account, imageARN string) ([]*Execution, error) {
	rs, err := tx.List(ctx, store.ListQuery{Kind: KindExecution, Accounts: []string{account}, Name: imageARN})
	if err != nil {
		return nil, fmt.Errorf("listing workflow executions of %s: %w", imageARN, err)
	}
	type rec struct {
		x     *Execution
		build int
	}
	recs := make([]rec, 0, len(rs))
	for _, r := range rs {
		x, err := decodeExecution(r)
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec{x, r.Build})
	}
	sort.SliceStable(recs, func(i, j int) bool {
		if recs[i].build != recs[j].build {
			return recs[i].build < recs[j].build
		}
		return recs[i].x.StartTime < recs[j].x.StartTime
	})
	out := make([]*Execution, len(recs))
	for i, r := range recs {
		out[i] = r.x
	}
	return out, nil
}

// ExecutionByID returns the workflow execution with the id, or an error
// wrapping store.ErrNotFound.
func ExecutionByID(ctx context.Context, tx store.Tx, id string) (*Execution, *store.Resource, error) {
	r, err := tx.Get(ctx, id)
	if err == nil && r.Kind != KindExecution {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("workflow execution %s: %w", id, err)
	}
	x, err := decodeExecution(r)
	if err != nil {
		return nil, nil, err
	}
	return x, r, nil
}

// Steps returns the step executions of a workflow execution in step order.
func Steps(ctx context.Context, tx store.Tx, account, executionID string) ([]*StepExecution, error) {
	rs, err := tx.List(ctx, store.ListQuery{Kind: KindStep, Accounts: []string{account}, Name: executionID})
	if err != nil {
		return nil, fmt.Errorf("listing steps of %s: %w", executionID, err)
	}
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Build < rs[j].Build })
	out := make([]*StepExecution, 0, len(rs))
	for _, r := range rs {
		s, err := decodeStep(r)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// StepByID returns the step execution with the id, or an error wrapping
// store.ErrNotFound.
func StepByID(ctx context.Context, tx store.Tx, id string) (*StepExecution, *store.Resource, error) {
	r, err := tx.Get(ctx, id)
	if err == nil && r.Kind != KindStep {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("workflow step execution %s: %w", id, err)
	}
	s, err := decodeStep(r)
	if err != nil {
		return nil, nil, err
	}
	return s, r, nil
}

func decodeExecution(r *store.Resource) (*Execution, error) {
	var x Execution
	if err := json.Unmarshal(r.Body, &x); err != nil {
		return nil, fmt.Errorf("decoding workflow execution %s: %w", r.ARN, err)
	}
	return &x, nil
}

func decodeStep(r *store.Resource) (*StepExecution, error) {
	var s StepExecution
	if err := json.Unmarshal(r.Body, &s); err != nil {
		return nil, fmt.Errorf("decoding workflow step execution %s: %w", r.ARN, err)
	}
	return &s, nil
}

// record is a resource to write and the value its body encodes.
type record struct {
	r *store.Resource
	v any
}

// encodeRecords encodes the records' bodies (from their values as they are
// now) and sets their times when unset.
func encodeRecords(recs []record) ([]*store.Resource, error) {
	out := make([]*store.Resource, len(recs))
	for i, rec := range recs {
		body, err := json.Marshal(rec.v)
		if err != nil {
			return nil, fmt.Errorf("encoding %s %s: %w", rec.r.Kind, rec.r.ARN, err)
		}
		rec.r.Body = body
		if rec.r.Updated.IsZero() {
			rec.r.Updated = time.Now().UTC()
			rec.r.Created = rec.r.Updated
		}
		out[i] = rec.r
	}
	return out, nil
}

// writeResources inserts the resources, or replaces the bodies of those
// stored already.
func writeResources(ctx context.Context, tx store.Tx, rs []*store.Resource) error {
	for _, r := range rs {
		old, err := tx.Get(ctx, r.ARN)
		switch {
		case err == nil:
			cp := *old
			cp.Body, cp.Updated = r.Body, r.Updated
			err = tx.Replace(ctx, &cp)
		case isNotFound(err):
			err = tx.Insert(ctx, r)
		}
		if err != nil {
			return fmt.Errorf("writing %s %s: %w", r.Kind, r.ARN, err)
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
