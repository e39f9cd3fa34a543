package containerbuild

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goldsmith/goldsmith/internal/toe"
)

// stagedComponent ties a staged document path (as toe reports it in
// detailedoutput.json) to its component.
type stagedComponent struct {
	path string
	comp Component
}

// latestDetailedOutput returns the newest detailedoutput.json in the toe log
// folders (TOE_<time>_<id>) under dir, "" when there is none.
func latestDetailedOutput(dir string) string {
	found, _ := filepath.Glob(filepath.Join(dir, "TOE_*", toe.DetailedOutputFile))
	if len(found) == 0 {
		return ""
	}
	slices.SortFunc(found, func(a, b string) int {
		ai, _ := os.Stat(a)
		bi, _ := os.Stat(b)
		if ai == nil || bi == nil {
			return strings.Compare(a, b)
		}
		return ai.ModTime().Compare(bi.ModTime())
	})
	return found[len(found)-1]
}

// toeFailure reads a toe detailedoutput.json and describes its first
// failure: the component (by name and ARN), the phase, the step and its
// action, and toe's failure message. It returns "" when the file is
// missing, unreadable or reports no failure.
func toeFailure(file string, staged []stagedComponent) string {
	if file == "" {
		return ""
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	return describeFailure(data, staged)
}

// describeFailure is toeFailure on the file's content.
func describeFailure(data []byte, staged []stagedComponent) string {
	var ex toe.Execution
	if err := json.Unmarshal(data, &ex); err != nil {
		return ""
	}
	for _, d := range ex.Documents {
		if d == nil || d.Status.Succeeded() {
			continue
		}
		comp := componentName(d, staged)
		for _, ph := range d.Phases {
			if ph == nil || ph.Status.Succeeded() {
				continue
			}
			for _, st := range ph.Steps {
				if st == nil || st.Status.Succeeded() || st.Status == toe.StatusIgnoredFailure {
					continue
				}
				msg := firstNonEmpty(st.FailureMessage, ph.FailureMessage, d.FailureMessage, string(st.Status))
				return fmt.Sprintf("component %s failed in phase %s at step %s (%s): %s",
					comp, ph.Name, st.Name, st.Action, msg)
			}
			return fmt.Sprintf("component %s failed in phase %s: %s", comp, ph.Name,
				firstNonEmpty(ph.FailureMessage, d.FailureMessage, string(ph.Status)))
		}
		return fmt.Sprintf("component %s failed: %s", comp, firstNonEmpty(d.FailureMessage, string(d.Status)))
	}
	if !ex.Status.Succeeded() && ex.Status != "" {
		return "toe run " + strings.ToLower(string(ex.Status)) + ": " + firstNonEmpty(ex.FailureMessage, "no detail")
	}
	return ""
}

func componentName(d *toe.DocumentResult, staged []stagedComponent) string {
	for _, s := range staged {
		if s.path == d.FilePath {
			if s.comp.ARN != "" {
				return fmt.Sprintf("%q (%s)", s.comp.Name, s.comp.ARN)
			}
			return fmt.Sprintf("%q", s.comp.Name)
		}
	}
	return fmt.Sprintf("%q (%s)", d.Name, d.FilePath)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return strings.TrimSpace(x)
		}
	}
	return ""
}

// componentError is a build failure caused by a component: its message is
// the toe failure (the RUN's output is in the logs), and it wraps the
// build's error.
type componentError struct {
	desc, logs string
	err        error
}

func (e *componentError) Error() string {
	return e.desc + " (logs: " + e.logs + ")"
}

func (e *componentError) Unwrap() error { return e.err }
