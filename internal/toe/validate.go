package toe

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/goldsmith/goldsmith/internal/toe/module"
)

// ModuleLookup finds an action module by name.
type ModuleLookup func(name string) (module.Module, bool)

// Validate checks parsed documents against the action modules of this
// build (module.Lookup): known actions, module inputs, ExecuteDocument
// restrictions and every {{ }} expression. It returns ValidationErrors.
func Validate(docs ...*Document) error {
	return ValidateWith(module.Lookup, docs...)
}

// ValidateWith is Validate with an explicit module registry.
func ValidateWith(lookup ModuleLookup, docs ...*Document) error {
	var all ValidationErrors
	for _, d := range docs {
		if d == nil {
			continue
		}
		l := &errList{file: d.File}
		validateDocument(l, lookup, d)
		if err := l.err(); err != nil {
			all = append(all, l.errs...)
		}
	}
	if len(all) == 0 {
		return nil
	}
	return all
}

// stepPos identifies a step by phase and step index.
type stepPos struct{ phase, step int }

type docIndex struct {
	vars   map[string]bool
	phases map[string]int
	steps  map[string]map[string]int // phase → step → index
	doc    *Document
}

func newDocIndex(d *Document) *docIndex {
	ix := &docIndex{vars: map[string]bool{}, phases: map[string]int{}, steps: map[string]map[string]int{}, doc: d}
	for _, p := range d.Parameters {
		ix.vars[p.Name] = true
	}
	for _, c := range d.Constants {
		ix.vars[c.Name] = true
	}
	for i, ph := range d.Phases {
		ix.phases[ph.Name] = i
		m := map[string]int{}
		for j, st := range ph.Steps {
			m[st.Name] = j
		}
		ix.steps[ph.Name] = m
	}
	return ix
}

func validateDocument(l *errList, lookup ModuleLookup, d *Document) {
	ix := newDocIndex(d)
	for pi, ph := range d.Phases {
		loopNames := map[string]bool{}
		for si, st := range ph.Steps {
			pos := stepPos{pi, si}
			validateStep(l, lookup, ix, pos, st)
			if st.Loop != nil && st.Loop.Name != "" {
				if loopNames[st.Loop.Name] {
					l.add(st.Loop.Line, st.Loop.Column, st.Where, st.Name, "loop.name", "duplicate loop name %q in phase %q", st.Loop.Name, ph.Name)
				}
				loopNames[st.Loop.Name] = true
			}
		}
	}
}

func validateStep(l *errList, lookup ModuleLookup, ix *docIndex, pos stepPos, st *Step) {
	if st.Action != "" {
		mod, ok := lookup(st.Action)
		if !ok {
			hint := ""
			for _, n := range moduleNames(lookup) {
				if strings.EqualFold(n, st.Action) {
					hint = fmt.Sprintf(" (did you mean %s?)", n)
				}
			}
			l.add(st.Line, st.Column, st.Where, st.Name, "action", "unknown action module %q%s", st.Action, hint)
		} else {
			in := decodeInputs(st.Inputs)
			for _, p := range mod.Check(in) {
				v := locate(st.Inputs, p.Field)
				line, col := st.Line, st.Column
				if v != nil {
					line, col = v.Line, v.Column
				}
				field := "inputs"
				if p.Field != "" {
					if strings.HasPrefix(p.Field, "[") {
						field += p.Field
					} else {
						field += "." + p.Field
					}
				}
				l.add(line, col, st.Where, st.Name, field, "%s", p.Msg)
			}
		}
	}
	if st.Action == "ExecuteDocument" {
		if st.TimeoutSet && st.TimeoutSeconds != -1 {
			l.add(st.Line, st.Column, st.Where, st.Name, "timeoutSeconds", "ExecuteDocument does not support timeoutSeconds (value %d); remove it", st.TimeoutSeconds)
		}
		if st.MaxAttemptsSet && st.MaxAttempts != 1 {
			l.add(st.Line, st.Column, st.Where, st.Name, "maxAttempts", "ExecuteDocument does not support maxAttempts other than 1 (value %d)", st.MaxAttempts)
		}
	}
	// Expressions.
	check := func(v *Value, field string, inLoop, allowChain bool) {
		walkStrings(v, field, func(s *Value, path string) {
			validateExprs(l, ix, pos, st, s, path, inLoop, allowChain)
		})
	}
	check(st.Inputs, "inputs", st.Loop != nil, true)
	if st.If != nil {
		walkCondition(st.If, "if", func(v *Value, field string) { check(v, field, false, true) })
	}
	if lp := st.Loop; lp != nil {
		if lp.For != nil {
			check(lp.For.Start, "loop.for.start", false, false)
			check(lp.For.End, "loop.for.end", false, false)
			check(lp.For.UpdateBy, "loop.for.updateBy", false, false)
		}
		for i, it := range lp.ForEach {
			check(it, fmt.Sprintf("loop.forEach[%d]", i), false, true)
		}
		check(lp.List, "loop.forEach.list", false, true)
	}
}

func moduleNames(lookup ModuleLookup) []string {
	// module.Names is only meaningful for the default registry.
	if _, ok := lookup("ExecuteBash"); ok {
		return module.Names()
	}
	return nil
}

func walkCondition(c *Condition, field string, fn func(v *Value, field string)) {
	if c == nil {
		return
	}
	f := field + "." + c.Op
	if len(c.Children) > 0 {
		for i, ch := range c.Children {
			walkCondition(ch, fmt.Sprintf("%s[%d]", f, i), fn)
		}
		return
	}
	fn(c.Operand, f)
	if c.Value != nil {
		fn(c.Value, field+".value")
	}
	if c.Path != nil {
		fn(c.Path, field+".path")
	}
}

func validateExprs(l *errList, ix *docIndex, pos stepPos, st *Step, v *Value, field string, inLoop, allowChain bool) {
	if v.Kind != KindScalar || !strings.Contains(v.Text, "{{") {
		return
	}
	exprs, err := ParseExprs(v.Text)
	report := func(format string, args ...any) {
		l.at(v, st.Where, st.Name, field, format, args...)
	}
	if err != nil {
		report("%v", err)
	}
	for _, e := range exprs {
		switch e.Kind {
		case ExprVariable:
			if !ix.vars[e.Name] {
				report("%s: unknown parameter or constant %q", e.Raw, e.Name)
			}
		case ExprSSM:
			if e.Resolve && !ix.vars[e.Name] {
				report("%s: unknown parameter or constant %q in resolve()", e.Raw, e.Name)
			}
		case ExprLoop:
			switch {
			case !inLoop:
				if e.Name == "loop" || isLoopName(ix, e.Name) {
					report("%s: loop variable used outside a loop", e.Raw)
				} else {
					report("%s: unknown variable %q", e.Raw, e.Name+"."+e.LoopField)
				}
			case e.Name != "loop" && (st.Loop == nil || st.Loop.Name != e.Name):
				if isLoopName(ix, e.Name) {
					report("%s: loop %q is not this step's loop", e.Raw, e.Name)
				} else {
					report("%s: unknown loop %q (this step's loop is %s)", e.Raw, e.Name, loopLabel(st.Loop))
				}
			}
		case ExprChain:
			if !allowChain {
				report("%s: chaining expressions are not allowed here", e.Raw)
				continue
			}
			validateChain(ix, pos, e, report)
		}
	}
}

func loopLabel(lp *Loop) string {
	if lp == nil || lp.Name == "" {
		return "unnamed; use loop.value"
	}
	return strconv.Quote(lp.Name)
}

func isLoopName(ix *docIndex, name string) bool {
	for _, ph := range ix.doc.Phases {
		for _, st := range ph.Steps {
			if st.Loop != nil && st.Loop.Name == name {
				return true
			}
		}
	}
	return false
}

func validateChain(ix *docIndex, pos stepPos, e Expr, report func(string, ...any)) {
	pi, ok := ix.phases[e.Phase]
	if !ok {
		report("%s: unknown phase %q", e.Raw, e.Phase)
		return
	}
	si, ok := ix.steps[e.Phase][e.Step]
	if !ok {
		report("%s: unknown step %q in phase %q", e.Raw, e.Step, e.Phase)
		return
	}
	if pi > pos.phase || (pi == pos.phase && si >= pos.step) {
		if pi == pos.phase && si == pos.step {
			report("%s: a step cannot reference itself", e.Raw)
		} else {
			report("%s: step %s.%s runs later; only earlier steps can be referenced", e.Raw, e.Phase, e.Step)
		}
		return
	}
	if e.Field != "inputs" {
		return
	}
	ref := ix.doc.Phases[pi].Steps[si]
	in := ref.Inputs
	if e.Index >= 0 {
		if in == nil || in.Kind != KindList {
			report("%s: step %s.%s has no list inputs", e.Raw, e.Phase, e.Step)
			return
		}
		if e.Index >= len(in.Items) {
			report("%s: step %s.%s has only %d input item(s)", e.Raw, e.Phase, e.Step, len(in.Items))
			return
		}
		in = in.Items[e.Index]
	}
	if e.Key != "" && in != nil && in.Kind == KindMap {
		first, _, _ := strings.Cut(e.Key, ".")
		if !in.Has(first) {
			report("%s: step %s.%s has no input %q", e.Raw, e.Phase, e.Step, first)
		}
	}
}

var fieldSegRe = regexp.MustCompile(`\[(\d+)\]|\.?([^.\[\]]+)`)

// locate finds the Value at a module Problem field path such as
// "[0].path" or "commands[2]" (nil when not found).
func locate(v *Value, path string) *Value {
	if v == nil {
		return nil
	}
	cur := v
	for _, m := range fieldSegRe.FindAllStringSubmatch(path, -1) {
		var next *Value
		if m[1] != "" {
			n, _ := strconv.Atoi(m[1])
			if cur.Kind == KindList && n < len(cur.Items) {
				next = cur.Items[n]
			}
		} else {
			next = cur.Get(m[2])
		}
		if next == nil {
			return cur
		}
		cur = next
	}
	return cur
}

// IsValidationError reports whether err carries document errors.
func IsValidationError(err error) bool {
	var de *DocumentError
	return errors.As(err, &de)
}
