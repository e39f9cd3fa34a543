package engine

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
	"github.com/goldsmith/goldsmith/internal/store/sqlite"
)

// TestHeldRecords: records held go with the build's next write, the
// latest version of each; an image update that does not happen writes
// them on their own (not the records that came with it); a write that
// fails keeps them for the next one.
func TestHeldRecords(t *testing.T) {
	type op struct {
		hold    []record
		write   []record // written with the held ones
		update  string   // "": no update; else the state the update requires
		wantErr error
		stored  map[string]string // step id → stored status after the op ("": absent)
	}
	tests := []struct {
		name string
		ops  []op
		want map[string]string // step id → stored status ("": absent)
	}{
		{"held until the next write", []op{
			{hold: []record{step("step-a", "COMPLETED")}, stored: map[string]string{"step-a": ""}},
			{write: []record{step("step-b", "RUNNING")}},
		}, map[string]string{"step-a": "COMPLETED", "step-b": "RUNNING"}},
		{"the latest version of a record", []op{
			{hold: []record{step("step-a", "RUNNING")}},
			{hold: []record{step("step-a", "FAILED")}},
			{write: nil},
		}, map[string]string{"step-a": "FAILED"}},
		{"with an image update", []op{
			{hold: []record{step("step-a", "COMPLETED")}},
			{update: "PENDING", write: []record{step("step-b", "RUNNING")}},
		}, map[string]string{"step-a": "COMPLETED", "step-b": "RUNNING"}},
		{"an update that does not happen", []op{
			{hold: []record{step("step-a", "COMPLETED")}},
			{update: "BUILDING", write: []record{step("step-b", "RUNNING")}, wantErr: errStateChanged},
		}, map[string]string{"step-a": "COMPLETED", "step-b": ""}},
		{"nothing held, nothing written", []op{{write: nil}}, map[string]string{"step-a": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			b, st := heldBuild(t)
			for i, o := range tt.ops {
				if err := b.hold(o.hold...); err != nil {
					t.Fatal(err)
				}
				for id, want := range o.stored {
					if got := storedStatus(t, st, id); got != want {
						t.Fatalf("op %d: %s is %q, want %q", i, id, got, want)
					}
				}
				if o.hold != nil {
					continue
				}
				var err error
				if o.update == "" {
					err = b.write(ctx, o.write...)
				} else {
					_, err = b.update(ctx, []gen.ImageStatus{gen.ImageStatus(o.update)}, func(d *imageDoc) error {
						d.State = &gen.ImageState{Status: gen.ImageStatusBUILDING}
						return nil
					}, o.write...)
				}
				if !errors.Is(err, o.wantErr) && !(err == nil && o.wantErr == nil) {
					t.Fatalf("op %d: %v, want %v", i, err, o.wantErr)
				}
			}
			for id, want := range tt.want {
				if got := storedStatus(t, st, id); got != want {
					t.Errorf("%s is %q, want %q", id, got, want)
				}
			}
		})
	}
}

// TestHeldRecordsSurviveAFailedWrite: a write whose transaction fails
// keeps what was held for the next one.
func TestHeldRecordsSurviveAFailedWrite(t *testing.T) {
	ctx := t.Context()
	b, st := heldBuild(t)
	if err := b.hold(step("step-a", "COMPLETED")); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.write(cancelled); err == nil {
		t.Fatal("a write with a cancelled context succeeded")
	}
	if got := storedStatus(t, st, "step-a"); got != "" {
		t.Fatalf("step-a is %q after a failed write", got)
	}
	if err := b.write(ctx); err != nil {
		t.Fatal(err)
	}
	if got := storedStatus(t, st, "step-a"); got != "COMPLETED" {
		t.Fatalf("step-a is %q, want COMPLETED", got)
	}
}

const heldARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/held/1.0.0/1"

// heldBuild is a build of a PENDING image heldARN on a fresh SQLite store.
func heldBuild(t *testing.T) (*imageBuild, store.Store) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	insertImage(t, st, heldARN)
	return &imageBuild{e: &Engine{o: Options{Store: st}}, arn: heldARN, account: "123456789012"}, st
}

// step is a step record of execution wf-1.
func step(id, status string) record {
	return record{&store.Resource{ARN: id, Kind: KindStep, Account: "123456789012", Name: "wf-1"},
		&StepExecution{WorkflowStepMetadata: gen.WorkflowStepMetadata{StepExecutionId: id,
			Status: gen.WorkflowStepExecutionStatus(status)}}}
}

func insertImage(t *testing.T, st store.Store, arn string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"arn": arn, "state": map[string]string{"status": "PENDING"}})
	now := time.Now().UTC()
	err := st.Update(t.Context(), func(tx store.Tx) error {
		return tx.Insert(t.Context(), &store.Resource{ARN: arn, Kind: imageKind, Account: "123456789012",
			Name: "held", Version: "1.0.0", Build: 1, Created: now, Updated: now, Body: body})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// storedStatus is the status of the stored step record id ("" when absent).
func storedStatus(t *testing.T, st store.Store, id string) string {
	t.Helper()
	var status string
	err := st.View(t.Context(), func(tx store.Tx) error {
		s, _, err := StepByID(t.Context(), tx, id)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		status = string(s.Status)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return status
}

// TestHeldStart: a stage's start goes with the build's next write; a start
// that fails fails that write (the records held are written all the same,
// not the write's own) and is dropped; a dropped start writes nothing.
func TestHeldStart(t *testing.T) {
	startIn := func(state gen.ImageStatus, fail error) func(context.Context, store.Tx) error {
		return func(ctx context.Context, tx store.Tx) error {
			if fail != nil {
				return fail
			}
			_, err := updateImageIn(ctx, tx, heldARN, nil, func(d *imageDoc) error {
				d.State = &gen.ImageState{Status: state}
				return nil
			})
			return err
		}
	}
	tests := []struct {
		name      string
		fail      error
		drop      bool
		wantErr   error
		wantState gen.ImageStatus
		want      map[string]string
	}{
		{"with the next write", nil, false, nil, gen.ImageStatusTESTING, map[string]string{"step-a": "COMPLETED", "step-b": "RUNNING"}},
		{"a start that fails", errCancelled, false, errCancelled, gen.ImageStatusPENDING, map[string]string{"step-a": "COMPLETED", "step-b": ""}},
		{"dropped", nil, true, nil, gen.ImageStatusPENDING, map[string]string{"step-a": "COMPLETED", "step-b": "RUNNING"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			b, st := heldBuild(t)
			if err := b.hold(step("step-a", "COMPLETED")); err != nil {
				t.Fatal(err)
			}
			b.holdStart(startIn(gen.ImageStatusTESTING, tt.fail))
			if tt.drop {
				b.dropStart()
			}
			if err := b.write(ctx, step("step-b", "RUNNING")); !errors.Is(err, tt.wantErr) && !(err == nil && tt.wantErr == nil) {
				t.Fatalf("write = %v, want %v", err, tt.wantErr)
			}
			for id, want := range tt.want {
				if got := storedStatus(t, st, id); got != want {
					t.Errorf("%s is %q, want %q", id, got, want)
				}
			}
			d, _, err := loadImage(ctx, st, heldARN)
			if err != nil || d.status() != tt.wantState {
				t.Fatalf("image %v (%v), want %s", d.status(), err, tt.wantState)
			}
			if err := b.write(ctx, step("step-c", "RUNNING")); err != nil {
				t.Fatalf("the next write: %v", err)
			}
		})
	}
}
