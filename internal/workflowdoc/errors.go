package workflowdoc

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a workflow document, located by line and column
// and named by the step and field concerned.
type Error struct {
	File   string // document name as given to Parse
	Line   int    // 1-based; 0 when unknown
	Column int    // 1-based; 0 when unknown
	Where  string // structural path of the enclosing element, e.g. "steps[2]"
	Step   string // step name, when inside a step
	Field  string // field path relative to Where, e.g. "inputs.instanceId.$"
	Msg    string
}

// Error renders "doc.yaml:12:5: steps[2] (ApplyComponents): inputs.instanceId: msg".
func (e *Error) Error() string {
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
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a document, in document order.
type Errors []*Error

// Error joins the messages with "; ".
func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap lets errors.As find the first *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// maxErrors bounds the problems reported for one document.
const maxErrors = 25

// errList collects errors with the current location context.
type errList struct {
	file string
	errs Errors
}

// scope is where in the document a check runs.
type scope struct {
	where string // "steps[2]", "outputs[0]", "parameters[1]" or ""
	step  string
}

func (l *errList) add(n *yaml.Node, sc scope, field, format string, args ...any) {
	if len(l.errs) >= maxErrors {
		return
	}
	e := &Error{File: l.file, Where: sc.where, Step: sc.step, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	l.errs = append(l.errs, e)
}

func (l *errList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	return l.errs
}
