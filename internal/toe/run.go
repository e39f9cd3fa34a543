package toe

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goldsmith/goldsmith/internal/toe/module"
)

// RunOptions configures Run.
type RunOptions struct {
	// Documents run in the given order. When a reboot state for
	// ExecutionID exists, the documents recorded in it are resumed instead
	// (Documents may then be nil; if given they must be the same).
	Documents []*Document
	// Phases filters the phases to run (document order is kept); empty
	// means all phases.
	Phases []string
	// Parameters apply to every document; names a document does not
	// declare are ignored.
	Parameters map[string]string
	// DocumentParameters, when set, holds per-document values (parallel to
	// Documents) that override Parameters.
	DocumentParameters []map[string]string
	// ExecutionID names the execution (default: a new UUID).
	ExecutionID string
	// LogDirectory is the parent of the TOE_<time>_UTC-0_<id> log folder
	// (default ".").
	LogDirectory string
	// StateDirectory keeps the reboot/resume state (default LogDirectory).
	StateDirectory string
	// WorkDir is the working directory of steps (default: current).
	WorkDir string
	// Stdout receives the console output (progress lines, step output and
	// the final JSON summary). Nil discards it; console.log always has it.
	Stdout io.Writer
	// Logger, when set, also receives the application log.
	Logger *slog.Logger
	// OnEvent receives progress events synchronously.
	OnEvent func(Event)
	// Modules finds action modules (default module.Lookup).
	Modules ModuleLookup
	// BlockedModules are refused at run time (e.g. Reboot).
	BlockedModules []string
	S3             module.S3Options
	HTTPClient     *http.Client
	// SSM resolves {{ aws:ssm:... }}; IMDS resolves {{ aws:imds:... }}.
	SSM  func(ctx context.Context, name string) (string, error)
	IMDS func(ctx context.Context, path string) (string, error)
	// LookupEnv resolves {{ env:VAR }} (default os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// Region and AccountID answer {{ context:region }} / accountId.
	Region, AccountID string
	// LoadDocument fetches ExecuteDocument sources that are not local
	// paths (s3:// URIs, component ARNs). Nil refuses them.
	LoadDocument func(ctx context.Context, source string) ([]byte, error)
	// MaxReboots bounds reboots per execution (default 16).
	MaxReboots int
	// Now is the clock (default time.Now).
	Now func() time.Time

	depth     int      // ExecuteDocument nesting depth
	ancestors []string // documents of enclosing executions (cycle check)
	noState   bool     // nested executions keep no reboot state
}

// runner is one execution in progress.
type runner struct {
	opts    RunOptions
	exec    *Execution
	docs    []*docRun
	logDir  string
	console io.Writer
	files   []io.Closer
	log     *slog.Logger
	secrets []string
	chain   []chainRecord
	state   *runState
	aborted bool
}

// docRun is the run state of one document.
type docRun struct {
	doc    *Document
	vars   map[string]string
	chain  map[string]*chainEntry
	result *DocumentResult
}

// Run executes documents phase by phase and step by step. Step failures
// are reported in the returned Execution (Status, FailureMessage); the
// error is for problems that prevent running at all (invalid documents or
// parameters, unwritable log directory, corrupt state).
func Run(ctx context.Context, opts RunOptions) (*Execution, error) {
	r, err := newRunner(opts)
	if err != nil {
		return nil, err
	}
	defer r.close()
	r.execute(ctx)
	return r.exec, r.finish()
}

func newRunner(opts RunOptions) (*runner, error) {
	if opts.Modules == nil {
		opts.Modules = module.Lookup
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.LogDirectory == "" {
		opts.LogDirectory = "."
	}
	if opts.StateDirectory == "" {
		opts.StateDirectory = opts.LogDirectory
	}
	if opts.MaxReboots == 0 {
		opts.MaxReboots = 16
	}
	if opts.ExecutionID == "" {
		opts.ExecutionID = newUUID()
	}
	if strings.ContainsAny(opts.ExecutionID, `/\`) || opts.ExecutionID == "." || opts.ExecutionID == ".." {
		return nil, fmt.Errorf("invalid execution id %q", opts.ExecutionID)
	}
	r := &runner{opts: opts}
	st, err := loadState(opts.StateDirectory, opts.ExecutionID)
	if err != nil {
		return nil, err
	}
	if st != nil {
		if err := r.resume(st); err != nil {
			return nil, err
		}
	} else if err := r.start(); err != nil {
		return nil, err
	}
	return r, nil
}

// start prepares a fresh execution.
func (r *runner) start() error {
	o := &r.opts
	if err := ValidateWith(o.Modules, o.Documents...); err != nil {
		return err
	}
	for i, d := range o.Documents {
		params := o.Parameters
		if i < len(o.DocumentParameters) && len(o.DocumentParameters[i]) > 0 {
			params = map[string]string{}
			for k, v := range o.Parameters {
				params[k] = v
			}
			for k, v := range o.DocumentParameters[i] {
				params[k] = v
			}
		}
		vars, err := documentVars(d, params)
		if err != nil {
			return err
		}
		r.docs = append(r.docs, &docRun{doc: d, vars: vars, chain: map[string]*chainEntry{}})
	}
	now := o.Now()
	r.exec = &Execution{ExecutionID: o.ExecutionID, Status: StatusRunning, StartTime: now, Documents: []*DocumentResult{}}
	r.logDir = filepath.Join(o.LogDirectory, fmt.Sprintf("TOE_%s_UTC-0_%s", now.UTC().Format("2006-01-02_15-04-05"), o.ExecutionID))
	if err := os.MkdirAll(r.logDir, 0o755); err != nil {
		return fmt.Errorf("creating log folder: %w", err)
	}
	if err := r.openLogs(false); err != nil {
		return err
	}
	if err := r.writeDocumentCopy(); err != nil {
		return err
	}
	r.state = &runState{Version: stateVersion, ExecutionID: o.ExecutionID, LogDir: r.logDir, Phases: o.Phases}
	return nil
}

// documentVars builds the parameter and constant values of one document.
func documentVars(d *Document, supplied map[string]string) (map[string]string, error) {
	vars := map[string]string{}
	for _, c := range d.Constants {
		vars[c.Name] = c.Value
	}
	for _, p := range d.Parameters {
		v, ok := supplied[p.Name]
		switch {
		case ok && v == "":
			return nil, fmt.Errorf("%s: parameter %s: an empty value is not allowed", d.File, p.Name)
		case ok:
		case p.Default != nil:
			v = *p.Default
		}
		if ok {
			if err := checkParamValue(p, v); err != nil {
				return nil, fmt.Errorf("%s: %w", d.File, err)
			}
		}
		vars[p.Name] = v
	}
	return vars, nil
}

func (r *runner) emit(ev Event) {
	ev.Time = r.opts.Now()
	ev.ExecutionID = r.exec.ExecutionID
	r.log.Debug("event", "kind", ev.Kind, "document", ev.Document, "phase", ev.Phase, "step", ev.Step,
		"status", ev.Status, "attempt", ev.Attempt, "message", ev.Message)
	if r.opts.OnEvent != nil {
		r.opts.OnEvent(ev)
	}
}

func (r *runner) printf(format string, args ...any) {
	fmt.Fprintf(r.console, format, args...)
}

func (r *runner) wantPhase(name string) bool {
	if len(r.opts.Phases) == 0 {
		return true
	}
	for _, p := range r.opts.Phases {
		if strings.TrimSpace(p) == name {
			return true
		}
	}
	return false
}

// execute runs from the recorded position (0/0/0 for a fresh run).
func (r *runner) execute(ctx context.Context) {
	pos := r.state.Next
	resuming := r.state.Reboots > 0
	if !resuming {
		r.emit(Event{Kind: EventExecutionStarted, Status: StatusRunning})
		r.printf("goldsmith toe: execution %s\nLogs: %s\n", r.exec.ExecutionID, r.logDir)
	} else {
		r.emit(Event{Kind: EventExecutionStarted, Status: StatusRunning, Message: "resumed after a reboot"})
		r.printf("goldsmith toe: resuming execution %s after a reboot\n", r.exec.ExecutionID)
	}
	for di := pos.Doc; di < len(r.docs) && !r.aborted; di++ {
		dr := r.docs[di]
		if dr.result == nil {
			dr.result = &DocumentResult{Name: dr.doc.Name, FilePath: dr.doc.File, Description: dr.doc.Description,
				Status: StatusRunning, StartTime: r.opts.Now(), Phases: []*PhaseResult{}}
			r.exec.Documents = append(r.exec.Documents, dr.result)
			r.emit(Event{Kind: EventDocumentStarted, Document: dr.doc.File, Status: StatusRunning})
			r.printf("[Document %s]\n", dr.doc.File)
		}
		firstPhase := 0
		if di == pos.Doc {
			firstPhase = pos.Phase
		}
		for pi := firstPhase; pi < len(dr.doc.Phases) && !r.aborted; pi++ {
			ph := dr.doc.Phases[pi]
			if !r.wantPhase(ph.Name) {
				continue
			}
			firstStep, skipIf := 0, false
			if di == pos.Doc && pi == pos.Phase && resuming {
				firstStep, skipIf = pos.Step, pos.SkipIf
			}
			if stop := r.runPhase(ctx, di, pi, firstStep, skipIf); stop {
				return
			}
		}
		r.finishDocument(dr)
	}
}

// runPhase runs one phase from step first. It returns true when the
// execution must stop now (reboot requested).
func (r *runner) runPhase(ctx context.Context, di, pi, first int, skipIf bool) bool {
	dr := r.docs[di]
	ph := dr.doc.Phases[pi]
	var pr *PhaseResult
	if n := len(dr.result.Phases); first > 0 || (n > 0 && dr.result.Phases[n-1].Status == StatusRebootRequested) {
		pr = dr.result.Phases[n-1]
		pr.Status = StatusRunning
		// a step that asked for a reboot-and-rerun is replaced by its rerun
		if k := len(pr.Steps); k > 0 && pr.Steps[k-1].Status == StatusRebootRequested {
			pr.Steps = pr.Steps[:k-1]
		}
	} else {
		pr = &PhaseResult{Name: ph.Name, Status: StatusRunning, StartTime: r.opts.Now(), Steps: []*StepResult{}}
		dr.result.Phases = append(dr.result.Phases, pr)
		r.emit(Event{Kind: EventPhaseStarted, Document: dr.doc.File, Phase: ph.Name, Status: StatusRunning})
		r.printf("[Phase %s]\n", ph.Name)
	}
	for si := first; si < len(ph.Steps); si++ {
		st := ph.Steps[si]
		if ctx.Err() != nil {
			pr.Steps = append(pr.Steps, r.cancelledStep(st))
			r.aborted = true
			break
		}
		res, ctl := r.runStep(ctx, dr, ph, st, skipIf && si == first)
		pr.Steps = append(pr.Steps, res)
		switch ctl {
		case ctlAbort, ctlCancel:
			r.aborted = true
		case ctlReboot, ctlRebootRerun:
			next := statePos{Doc: di, Phase: pi, Step: si + 1}
			if ctl == ctlRebootRerun {
				next = statePos{Doc: di, Phase: pi, Step: si, SkipIf: true}
			}
			r.requestReboot(pr, next)
			return true
		}
		if r.aborted {
			break
		}
	}
	pr.EndTime = r.opts.Now()
	pr.Status, pr.FailureMessage = aggregateSteps(pr.Steps)
	r.emit(Event{Kind: EventPhaseFinished, Document: dr.doc.File, Phase: ph.Name, Status: pr.Status, Message: pr.FailureMessage})
	r.printf("[Phase %s] %s\n", ph.Name, pr.Status)
	return false
}

func (r *runner) cancelledStep(st *Step) *StepResult {
	now := r.opts.Now()
	return &StepResult{Name: st.Name, Action: st.Action, Status: StatusCancelled, FailureMessage: "execution cancelled",
		TimeoutSeconds: st.TimeoutSeconds, OnFailure: st.OnFailure, MaxAttempts: st.MaxAttempts,
		StartTime: now, EndTime: now, Inputs: "null", Outputs: "[]"}
}

func (r *runner) finishDocument(dr *docRun) {
	dr.result.EndTime = r.opts.Now()
	dr.result.Status, dr.result.FailureMessage = aggregatePhases(dr.result.Phases)
	r.emit(Event{Kind: EventDocumentFinished, Document: dr.doc.File, Status: dr.result.Status, Message: dr.result.FailureMessage})
	r.printf("[Document %s] %s\n", dr.doc.File, dr.result.Status)
}

// statusRank orders statuses for aggregation (higher wins).
func statusRank(s Status) int {
	switch s {
	case StatusRebootRequested:
		return 6
	case StatusCancelled:
		return 5
	case StatusFailed:
		return 4
	case StatusIgnoredFailure, StatusSuccessWithIgnoredFailure:
		return 3
	case StatusRunning:
		return 2
	}
	return 0
}

func aggregate(statuses []Status, msgs []string) (Status, string) {
	best, msg := StatusSuccess, ""
	for i, s := range statuses {
		if statusRank(s) > statusRank(best) {
			best = s
		}
		if msg == "" && (s == StatusFailed || s == StatusCancelled) && msgs[i] != "" {
			msg = msgs[i]
		}
	}
	if best == StatusIgnoredFailure {
		best = StatusSuccessWithIgnoredFailure
	}
	if best == StatusRunning {
		best = StatusSuccess
	}
	return best, msg
}

func aggregateSteps(steps []*StepResult) (Status, string) {
	st, ms := make([]Status, len(steps)), make([]string, len(steps))
	for i, s := range steps {
		st[i] = s.Status
		if s.FailureMessage != "" {
			ms[i] = fmt.Sprintf("step %s failed: %s", s.Name, s.FailureMessage)
		}
	}
	return aggregate(st, ms)
}

func aggregatePhases(phases []*PhaseResult) (Status, string) {
	st, ms := make([]Status, len(phases)), make([]string, len(phases))
	for i, p := range phases {
		st[i] = p.Status
		if p.FailureMessage != "" {
			ms[i] = fmt.Sprintf("phase %s: %s", p.Name, p.FailureMessage)
		}
	}
	return aggregate(st, ms)
}

func aggregateDocuments(docs []*DocumentResult) (Status, string) {
	st, ms := make([]Status, len(docs)), make([]string, len(docs))
	for i, d := range docs {
		st[i] = d.Status
		if d.FailureMessage != "" {
			ms[i] = fmt.Sprintf("document %s: %s", d.FilePath, d.FailureMessage)
		}
	}
	return aggregate(st, ms)
}

// finish computes the execution status, writes the output files and the
// state (or removes it) and prints the summary.
func (r *runner) finish() error {
	e := r.exec
	e.EndTime = r.opts.Now()
	if e.Status != StatusRebootRequested {
		e.Status, e.FailureMessage = aggregateDocuments(e.Documents)
	}
	e.ExecutedStepCount, e.FailedStepCount, e.IgnoredFailedStepCount = 0, 0, 0
	for _, d := range e.Documents {
		for _, p := range d.Phases {
			for _, s := range p.Steps {
				switch s.Status {
				case StatusSuccess:
					e.ExecutedStepCount++
				case StatusFailed:
					e.ExecutedStepCount++
					e.FailedStepCount++
				case StatusIgnoredFailure:
					e.ExecutedStepCount++
					e.IgnoredFailedStepCount++
				}
			}
		}
	}
	e.LogURL = r.logDir
	if e.Status != StatusRebootRequested {
		r.emit(Event{Kind: EventExecutionFinished, Status: e.Status, Message: e.FailureMessage})
	}
	var errs []error
	errs = append(errs, r.writeOutputs())
	if e.Status == StatusRebootRequested {
		errs = append(errs, r.saveState())
	} else if !r.opts.noState {
		errs = append(errs, removeState(r.opts.StateDirectory, e.ExecutionID))
	}
	r.printf("%s\n", jsonString(e.Summary()))
	return errors.Join(errs...)
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
