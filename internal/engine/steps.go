package engine

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/engine/containerbuild"
	"github.com/goldsmith/goldsmith/internal/store"
)

// stepTimeoutSeconds is the timeout recorded on every step: the build wall clock.
var stepTimeoutSeconds = int32(buildWallClock / time.Second)

// execLog records one workflow execution and its steps as the stage
// reports them.
type execLog struct {
	b     *imageBuild
	ctx   context.Context // for the writes: not cancelled with the build
	stage int

	mu    sync.Mutex
	x     Execution
	steps map[string]*stepRec // running steps by name
	n     int
	err   error // the first failed write
}

type stepRec struct {
	index int
	s     StepExecution
}

// newExecution is a RUNNING execution of the stage, not written yet: its
// record goes with the stage's start (runStage).
func (b *imageBuild) newExecution(ctx context.Context, st stage, retried bool) *execLog {
	l := &execLog{b: b, ctx: context.WithoutCancel(ctx), stage: st.index, steps: map[string]*stepRec{}}
	l.x = Execution{
		WorkflowExecutionMetadata: gen.WorkflowExecutionMetadata{
			WorkflowBuildVersionArn: b.workflowARN(st), WorkflowExecutionId: newExecutionID(), Type: st.typ,
			Status: gen.WorkflowExecutionStatusRUNNING, TotalStepCount: ptr(int32(0)),
			TotalStepsSucceeded: ptr(int32(0)), TotalStepsFailed: ptr(int32(0)), TotalStepsSkipped: ptr(int32(0)),
			StartTime: timestamp(time.Now()),
		},
		ImageBuildVersionArn: b.arn,
	}
	if retried {
		l.x.Retried = ptr(true)
	}
	return l
}

func (l *execLog) executionRecord() record {
	now := time.Now().UTC()
	return record{&store.Resource{ARN: l.x.WorkflowExecutionId, Kind: KindExecution, Account: l.b.account,
		Name: l.b.arn, Build: l.stage, Created: now, Updated: now}, &l.x}
}

// on is the containerbuild step callback: it writes the step and the
// execution's counts, before the step runs (RUNNING: a step whose start
// cannot be written does not run), or with the build's next write (its
// final status).
func (l *execLog) on(st containerbuild.Step) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	rec := l.steps[st.Name]
	if rec == nil {
		l.n++
		rec = &stepRec{index: l.n, s: StepExecution{
			WorkflowStepMetadata: gen.WorkflowStepMetadata{StepExecutionId: newStepID(), Name: st.Name,
				Action: st.Action},
			WorkflowExecutionId: l.x.WorkflowExecutionId, WorkflowBuildVersionArn: l.x.WorkflowBuildVersionArn,
			ImageBuildVersionArn: l.b.arn, OnFailure: "Abort", TimeoutSeconds: ptr(stepTimeoutSeconds),
		}}
		*l.x.TotalStepCount++
	}
	s := &rec.s
	s.Status = gen.WorkflowStepExecutionStatus(st.Status)
	s.StartTime = timestamp(st.Start)
	s.Inputs, s.Outputs = jsonText(st.Inputs), jsonText(st.Outputs)
	s.Message = nil
	if st.Message != "" {
		s.Message = ptr(st.Message)
	}
	if st.Status == containerbuild.StatusRunning {
		l.steps[st.Name] = rec
	} else {
		delete(l.steps, st.Name)
		s.EndTime = timestamp(st.End)
		s.RollbackStatus = gen.WorkflowStepExecutionRollbackStatusSKIPPED
		switch st.Status {
		case containerbuild.StatusCompleted:
			*l.x.TotalStepsSucceeded++
		case containerbuild.StatusSkipped:
			*l.x.TotalStepsSkipped++
		default:
			*l.x.TotalStepsFailed++
		}
	}
	// The step and the execution's counts change together.
	now := time.Now().UTC()
	step := record{&store.Resource{ARN: rec.s.StepExecutionId, Kind: KindStep, Account: l.b.account,
		Name: l.x.WorkflowExecutionId, Build: rec.index, Created: now, Updated: now}, &rec.s}
	var err error
	if st.Status == containerbuild.StatusRunning {
		err = l.b.write(l.ctx, step, l.executionRecord())
	} else {
		err = l.b.hold(step, l.executionRecord())
	}
	l.record(err)
	return err
}

func (l *execLog) record(err error) {
	if err != nil && l.err == nil {
		l.err = err
		l.b.e.log.Error("recording a build step", "arn", l.b.arn, "err", err)
	}
}

func (l *execLog) writeErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// end sets the execution's final status; the record goes with the build's
// next write.
func (l *execLog) end(status gen.WorkflowExecutionStatus, msg string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.x.Status = status
	l.x.EndTime = timestamp(time.Now())
	if msg != "" {
		l.x.Message = ptr(msg)
	}
	return l.b.hold(l.executionRecord())
}

// interrupted marks an execution a stopped server left RUNNING, and its
// RUNNING steps, FAILED.
func (b *imageBuild) interrupted(ctx context.Context, x *Execution) error {
	msg := errStopping.Error()
	var steps []*StepExecution
	err := b.e.o.Store.View(ctx, func(tx store.Tx) error {
		var err error
		steps, err = Steps(ctx, tx, b.account, x.WorkflowExecutionId)
		return err
	})
	if err != nil {
		return err
	}
	now := timestamp(time.Now())
	var recs []record
	for _, s := range steps {
		if s.Status != gen.WorkflowStepExecutionStatusRUNNING && s.Status != gen.WorkflowStepExecutionStatusCANCELLED {
			continue
		}
		s.Status, s.Message, s.EndTime = gen.WorkflowStepExecutionStatusFAILED, ptr(msg), now
		recs = append(recs, record{&store.Resource{ARN: s.StepExecutionId, Kind: KindStep}, s})
	}
	x.Status, x.Message, x.EndTime = gen.WorkflowExecutionStatusFAILED, ptr(msg), now
	recs = append(recs, record{&store.Resource{ARN: x.WorkflowExecutionId, Kind: KindExecution}, x})
	return b.write(ctx, recs...)
}

// jsonText encodes a step's inputs or outputs for the API ("" when none).
func jsonText(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	data, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	return string(data)
}
