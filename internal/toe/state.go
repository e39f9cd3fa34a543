package toe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

const stateVersion = 1

// runState is persisted when a step requests a reboot; a later Run with
// the same execution id resumes from it.
type runState struct {
	Version     int           `json:"version"`
	ExecutionID string        `json:"executionId"`
	LogDir      string        `json:"logDir"`
	Phases      []string      `json:"phases"`
	Documents   []stateDoc    `json:"documents"`
	Next        statePos      `json:"next"`
	Reboots     int           `json:"reboots"`
	Execution   *Execution    `json:"execution"`
	Chaining    []chainRecord `json:"chaining"`
}

type stateDoc struct {
	File   string                 `json:"file"`
	Source []byte                 `json:"source"`
	Vars   map[string]string      `json:"vars"`
	Chain  map[string]*chainEntry `json:"chain"`
}

// statePos is where a resumed execution continues.
type statePos struct {
	Doc    int  `json:"document"`
	Phase  int  `json:"phase"`
	Step   int  `json:"step"`
	SkipIf bool `json:"skipIf"` // the step is re-run after exit 194: its if is not evaluated again
}

// StatePath is the reboot state file of an execution.
func StatePath(stateDir, executionID string) string {
	return filepath.Join(stateDir, "toe-state-"+executionID+".json")
}

func loadState(dir, id string) (*runState, error) {
	data, err := os.ReadFile(StatePath(dir, id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading reboot state: %w", err)
	}
	var st runState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("reading reboot state %s: %w", StatePath(dir, id), err)
	}
	if st.Version != stateVersion || st.Execution == nil {
		return nil, fmt.Errorf("reboot state %s has an unsupported format", StatePath(dir, id))
	}
	return &st, nil
}

func removeState(dir, id string) error {
	err := os.Remove(StatePath(dir, id))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing reboot state: %w", err)
	}
	return nil
}

func (r *runner) saveState() error {
	st := r.state
	st.Execution = r.exec
	st.Chaining = r.chain
	st.Documents = st.Documents[:0]
	for _, dr := range r.docs {
		st.Documents = append(st.Documents, stateDoc{File: dr.doc.File, Source: dr.doc.Source, Vars: dr.vars, Chain: dr.chain})
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding reboot state: %w", err)
	}
	if err := os.MkdirAll(r.opts.StateDirectory, 0o755); err != nil {
		return fmt.Errorf("creating state directory: %w", err)
	}
	if err := writeFileAtomic(StatePath(r.opts.StateDirectory, st.ExecutionID), data); err != nil {
		return fmt.Errorf("writing reboot state: %w", err)
	}
	return nil
}

// requestReboot stops the execution so that the caller can reboot.
func (r *runner) requestReboot(pr *PhaseResult, next statePos) {
	r.state.Next = next
	r.state.Reboots++
	now := r.opts.Now()
	pr.Status, pr.EndTime = StatusRebootRequested, now
	dr := r.docs[next.Doc]
	dr.result.Status, dr.result.EndTime = StatusRebootRequested, now
	r.exec.Status = StatusRebootRequested
	r.exec.FailureMessage = ""
	r.log.Info("reboot requested", "next", fmt.Sprintf("%+v", next), "reboots", r.state.Reboots)
	r.emit(Event{Kind: EventExecutionFinished, Status: StatusRebootRequested,
		Message: "a reboot was requested; run again with the same execution id after the reboot to resume"})
	r.printf("A reboot was requested. Reboot, then run again with --execution-id %s to resume.\n", r.exec.ExecutionID)
}

// resume restores an execution from its reboot state.
func (r *runner) resume(st *runState) error {
	o := &r.opts
	if len(o.Documents) > 0 {
		if len(o.Documents) != len(st.Documents) {
			return fmt.Errorf("execution %s is waiting to resume after a reboot with %d document(s), not %d; use a new execution id or remove %s",
				st.ExecutionID, len(st.Documents), len(o.Documents), StatePath(o.StateDirectory, st.ExecutionID))
		}
		for i, d := range o.Documents {
			if !bytes.Equal(d.Source, st.Documents[i].Source) {
				return fmt.Errorf("execution %s is waiting to resume after a reboot with a different version of %s; use a new execution id or remove %s",
					st.ExecutionID, st.Documents[i].File, StatePath(o.StateDirectory, st.ExecutionID))
			}
		}
	}
	r.exec = st.Execution
	r.exec.Status = StatusRunning
	r.state = st
	r.logDir = st.LogDir
	r.chain = st.Chaining
	o.Phases = st.Phases
	docs := make([]*Document, 0, len(st.Documents))
	for i, sd := range st.Documents {
		d, err := ParseDocument(sd.File, sd.Source)
		if err != nil {
			return fmt.Errorf("resuming execution %s: %w", st.ExecutionID, err)
		}
		docs = append(docs, d)
		dr := &docRun{doc: d, vars: sd.Vars, chain: sd.Chain}
		if dr.chain == nil {
			dr.chain = map[string]*chainEntry{}
		}
		if i < len(r.exec.Documents) {
			dr.result = r.exec.Documents[i]
			if i == st.Next.Doc {
				dr.result.Status = StatusRunning
			}
		}
		r.docs = append(r.docs, dr)
	}
	o.Documents = docs
	if err := os.MkdirAll(r.logDir, 0o755); err != nil {
		return fmt.Errorf("log folder: %w", err)
	}
	if err := r.openLogs(true); err != nil {
		return err
	}
	r.log.Info("resuming after reboot", "next", fmt.Sprintf("%+v", st.Next), "reboots", st.Reboots)
	return nil
}
