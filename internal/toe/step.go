package toe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/goldsmith/goldsmith/internal/toe/module"
)

// stepControl tells the phase loop what to do after a step.
type stepControl int

const (
	ctlNext        stepControl = iota
	ctlAbort                   // failed with onFailure Abort
	ctlCancel                  // the execution was cancelled
	ctlReboot                  // reboot, then continue with the next step
	ctlRebootRerun             // reboot, then run this step again
)

// attemptResult is the outcome of one attempt of a step (all iterations).
type attemptResult struct {
	ok         bool
	msg        string
	exitCode   int
	inputs     any // resolved inputs (last iteration)
	outputs    map[string]any
	iterations []*IterationResult
	failed     []int
	reboot     bool
	rerun      bool
	cancelled  bool
}

func (r *runner) runStep(ctx context.Context, dr *docRun, ph *Phase, st *Step, skipIf bool) (*StepResult, stepControl) {
	res := &StepResult{Name: st.Name, Action: st.Action, TimeoutSeconds: st.TimeoutSeconds, OnFailure: st.OnFailure,
		MaxAttempts: st.MaxAttempts, StartTime: r.opts.Now(), Inputs: jsonString(decodeInputs(st.Inputs)), Outputs: "[]"}
	base := Event{Document: dr.doc.File, Phase: ph.Name, Step: st.Name, Action: st.Action}
	ev := base
	ev.Kind, ev.Status = EventStepStarted, StatusRunning
	r.emit(ev)
	r.printf("[Step %s] %s\n", st.Name, st.Action)
	rs := &resolver{r: r, dr: dr, phase: ph.Name, step: st.Name}
	key := ph.Name + "." + st.Name

	finish := func(status Status, msg string, ctl stepControl) (*StepResult, stepControl) {
		res.Status, res.FailureMessage, res.EndTime = status, msg, r.opts.Now()
		if ent, ok := dr.chain[key]; ok {
			ent.Status = status
		} else {
			dr.chain[key] = &chainEntry{Status: status}
		}
		ev := base
		ev.Kind, ev.Status, ev.Message, ev.Attempt = EventStepFinished, status, msg, res.Attempts
		r.emit(ev)
		if msg != "" && (status == StatusFailed || status == StatusIgnoredFailure) {
			r.printf("Document %s\nPhase %s\nStep %s\nAction %s\nErrorMessage %s\n", dr.doc.File, ph.Name, st.Name, st.Action, r.mask(msg))
		}
		r.printf("[Step %s] %s (%s)\n", st.Name, status, res.EndTime.Sub(res.StartTime).Round(time.Millisecond))
		return res, ctl
	}
	failed := func(msg string) (*StepResult, stepControl) {
		switch st.OnFailure {
		case OnFailureIgnore:
			return finish(StatusIgnoredFailure, msg, ctlNext)
		case OnFailureContinue:
			return finish(StatusFailed, msg, ctlNext)
		}
		return finish(StatusFailed, msg, ctlAbort)
	}

	for _, b := range r.opts.BlockedModules {
		if strings.EqualFold(strings.TrimSpace(b), st.Action) {
			return failed(fmt.Sprintf("action module %s is blocked for this execution", st.Action))
		}
	}
	mod, ok := r.opts.Modules(st.Action)
	if !ok {
		return failed(fmt.Sprintf("unknown action module %q", st.Action))
	}
	if st.If != nil && !skipIf {
		env := condEnv{resolve: func(v *Value) (string, error) { return rs.value(ctx, v) }, workDir: r.opts.WorkDir}
		ok, err := st.If.eval(env)
		if err != nil {
			return failed(fmt.Sprintf("evaluating if: %v", err))
		}
		outcome := st.If.Else
		if ok {
			outcome = st.If.Then
		}
		r.log.Debug("condition evaluated", "step", st.Name, "result", ok, "outcome", outcome)
		switch outcome {
		case OutcomeSkip:
			return finish(StatusSkipped, "", ctlNext)
		case OutcomeAbort:
			return failed(fmt.Sprintf("the if condition evaluated to %t and requested Abort", ok))
		}
	}

	var last attemptResult
	for attempt := 1; attempt <= st.MaxAttempts; attempt++ {
		res.Attempts = attempt
		if attempt > 1 {
			r.printf("[Step %s] attempt %d of %d\n", st.Name, attempt, st.MaxAttempts)
		}
		ev := base
		ev.Kind, ev.Status, ev.Attempt = EventStepAttempt, StatusRunning, attempt
		r.emit(ev)
		last = r.attempt(ctx, rs, mod, st)
		if last.ok || last.reboot || last.cancelled || ctx.Err() != nil {
			break
		}
		r.log.Info("step attempt failed", "step", st.Name, "attempt", attempt, "error", last.msg)
	}
	res.ExitCode = last.exitCode
	res.DetailedOutput = last.iterations
	if st.Loop != nil {
		res.Loop = &LoopResult{Name: st.Loop.Name, Type: "forEach", Iterations: len(last.iterations), FailedIterations: last.failed}
		if st.Loop.For != nil {
			res.Loop.Type = "for"
		}
	} else {
		res.Inputs = jsonString(last.inputs)
	}
	if st.DisableLogging {
		res.Inputs, res.Outputs = "null", "null"
		for _, it := range res.DetailedOutput {
			it.Inputs, it.Outputs = "null", "null"
		}
	} else if last.outputs != nil {
		res.Outputs = jsonString([]map[string]any{last.outputs})
	}
	// later steps may reference this step's inputs and (partial) outputs
	// whatever its status
	dr.chain[key] = &chainEntry{Inputs: last.inputs, Outputs: last.outputs}
	switch {
	case last.cancelled || (ctx.Err() != nil && !last.ok):
		return finish(StatusCancelled, "execution cancelled", ctlCancel)
	case last.reboot && r.opts.noState:
		return failed("a reboot was requested inside a nested document (ExecuteDocument); this is not supported")
	case last.reboot && r.state.Reboots >= r.opts.MaxReboots:
		return failed(fmt.Sprintf("a reboot was requested, but the execution already rebooted %d times", r.state.Reboots))
	case last.reboot && last.rerun:
		return finish(StatusRebootRequested, "", ctlRebootRerun)
	case last.reboot:
		return finish(StatusSuccess, "", ctlReboot)
	case last.ok:
		return finish(StatusSuccess, "", ctlNext)
	}
	return failed(last.msg)
}

// attempt runs all iterations of a step once, under the step timeout.
func (r *runner) attempt(ctx context.Context, rs *resolver, mod module.Module, st *Step) attemptResult {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if st.TimeoutSeconds > 0 && st.Action != "Reboot" && st.Action != "ExecuteDocument" {
		actx, cancel = context.WithTimeout(ctx, time.Duration(st.TimeoutSeconds)*time.Second)
	}
	defer cancel()
	timedOut := func() bool {
		return errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	}
	iters := []iteration{{}}
	if st.Loop != nil {
		var err error
		iters, err = st.Loop.iterations(func(v *Value) (string, error) { return rs.value(actx, v) })
		if err != nil {
			return attemptResult{msg: fmt.Sprintf("expanding the loop: %v", err)}
		}
	}
	var out attemptResult
	var outs []map[string]any
	var lastOutputs map[string]any
	for _, it := range iters {
		irs := *rs
		if st.Loop != nil {
			irs.loop = &loopFrame{name: st.Loop.Name, index: it.Index, value: it.Value}
		}
		one := r.runModule(actx, &irs, mod, st)
		out.inputs, out.exitCode, lastOutputs = one.inputs, one.exitCode, one.outputs
		if st.Loop != nil {
			ir := one.iteration
			ir.Index, ir.Value = it.Index, it.Value
			out.iterations = append(out.iterations, ir)
			ev := Event{Kind: EventIterationFinished, Document: rs.dr.doc.File, Phase: rs.phase, Step: st.Name,
				Action: st.Action, Iteration: it.Index, Status: ir.Status, Message: ir.FailureMessage}
			r.emit(ev)
		}
		if one.ok {
			outs = append(outs, one.outputs)
		} else {
			out.failed = append(out.failed, it.Index)
			if out.msg == "" {
				out.msg = one.msg
			}
		}
		if one.reboot {
			out.reboot, out.rerun = true, one.rerun
			break
		}
		if actx.Err() != nil {
			break
		}
	}
	switch {
	case ctx.Err() != nil:
		out.cancelled = true
		out.msg = "execution cancelled"
		return out
	case timedOut():
		what := "step"
		if st.Loop != nil {
			what = "loop"
		}
		out.msg = fmt.Sprintf("the %s timed out after %d seconds", what, st.TimeoutSeconds)
		out.ok = false
		return out
	}
	out.ok = len(out.failed) == 0
	switch {
	case out.ok || st.Loop != nil:
		out.outputs = joinOutputs(outs)
	case len(iters) == 1:
		out.outputs = lastOutputs // a failed single run keeps what the module reported
	}
	if st.Loop != nil && len(out.failed) > 0 {
		idx := make([]string, len(out.failed))
		for i, n := range out.failed {
			idx[i] = fmt.Sprint(n)
		}
		out.msg = fmt.Sprintf("loop iteration(s) %s failed: %s", strings.Join(idx, ", "), out.msg)
	}
	return out
}

// moduleRun is the outcome of one module invocation.
type moduleRun struct {
	ok        bool
	msg       string
	exitCode  int
	inputs    any
	outputs   map[string]any
	reboot    bool
	rerun     bool
	iteration *IterationResult
}

func (r *runner) runModule(ctx context.Context, rs *resolver, mod module.Module, st *Step) moduleRun {
	ir := &IterationResult{Status: StatusRunning, StartTime: r.opts.Now(), Inputs: "null", Outputs: "[]"}
	one := moduleRun{iteration: ir}
	done := func() moduleRun {
		ir.EndTime, ir.ExitCode = r.opts.Now(), one.exitCode
		switch {
		case one.ok:
			ir.Status = StatusSuccess
			ir.Outputs = jsonString([]map[string]any{one.outputs})
		default:
			ir.Status, ir.FailureMessage = StatusFailed, one.msg
		}
		return one
	}
	in, err := rs.inputs(ctx, st.Inputs)
	if err != nil {
		one.msg = fmt.Sprintf("resolving inputs: %v", err)
		return done()
	}
	one.inputs = in
	ir.Inputs = jsonString(in)
	tmp, err := os.MkdirTemp("", "toe-step-")
	if err != nil {
		one.msg = fmt.Sprintf("creating the step's temporary folder: %v", err)
		return done()
	}
	defer os.RemoveAll(tmp)
	var stdout, stderr io.Writer = r.maskWriter(r.console), r.maskWriter(r.console)
	if st.DisableLogging {
		stdout, stderr = io.Discard, io.Discard
	}
	env := &module.Env{
		Stdout: stdout, Stderr: stderr,
		Logger:      r.log.With("document", rs.dr.doc.File, "phase", rs.phase, "step", st.Name),
		WorkDir:     r.opts.WorkDir,
		TempDir:     tmp,
		S3:          r.opts.S3,
		HTTPClient:  r.opts.HTTPClient,
		RunDocument: r.runDocumentFunc(rs.dr.doc),
	}
	result, err := mod.Run(ctx, env, in)
	one.exitCode, one.outputs = result.ExitCode, result.Outputs
	if one.outputs == nil {
		one.outputs = map[string]any{}
	}
	switch {
	case result.Reboot:
		one.ok, one.reboot, one.rerun = true, true, result.RetryStepAfterReboot
	case err != nil:
		one.msg = err.Error()
	case result.ExitCode != 0:
		one.msg = fmt.Sprintf("exit code %d", result.ExitCode)
	default:
		one.ok = true
	}
	return done()
}
