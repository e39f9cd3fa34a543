package toe

import (
	"fmt"
	"sort"
	"strings"
)

// DocumentError is one problem found in a component document. It names the
// file, the position in the source, the step and the field concerned.
type DocumentError struct {
	File   string // document name as given to ParseDocument
	Line   int    // 1-based line; 0 when unknown
	Column int    // 1-based column; 0 when unknown
	// Where is the structural path of the enclosing element, e.g.
	// "phases[0].steps[2]"; empty for top-level problems.
	Where string
	Step  string // step name, when the problem is inside a step
	Field string // field path relative to Where, e.g. "inputs.commands"
	Msg   string
}

// Error renders the error as
// "doc.yml:12:5: phases[0].steps[2] (InstallX): inputs.commands: must be a list of strings".
func (e *DocumentError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Where != "" {
		b.WriteString(e.Where)
		if e.Step != "" {
			fmt.Fprintf(&b, " (%s)", e.Step)
		}
		b.WriteString(": ")
	} else if e.Step != "" {
		fmt.Fprintf(&b, "step %s: ", e.Step)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ValidationErrors collects several DocumentErrors. It is itself an error and
// unwraps to its elements, so errors.As(err, &*DocumentError) finds the first.
type ValidationErrors []*DocumentError

// Error joins the individual messages, one per line.
func (v ValidationErrors) Error() string {
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Unwrap exposes the individual errors to errors.Is / errors.As.
func (v ValidationErrors) Unwrap() []error {
	out := make([]error, len(v))
	for i, e := range v {
		out[i] = e
	}
	return out
}

// errList accumulates errors for one document.
type errList struct {
	file string
	errs ValidationErrors
}

func (l *errList) add(line, col int, where, step, field, format string, args ...any) {
	l.errs = append(l.errs, &DocumentError{
		File: l.file, Line: line, Column: col, Where: where, Step: step, Field: field,
		Msg: fmt.Sprintf(format, args...),
	})
}

// at records an error located at value v (v may be nil).
func (l *errList) at(v *Value, where, step, field, format string, args ...any) {
	line, col := 0, 0
	if v != nil {
		line, col = v.Line, v.Column
	}
	l.add(line, col, where, step, field, format, args...)
}

func (l *errList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	sort.SliceStable(l.errs, func(i, j int) bool {
		a, b := l.errs[i], l.errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return l.errs
}
