package toe

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// DefaultTimeoutSeconds is the step timeout when timeoutSeconds is not set.
const DefaultTimeoutSeconds = 7200

// OnFailure values.
const (
	OnFailureAbort    = "Abort"
	OnFailureContinue = "Continue"
	OnFailureIgnore   = "Ignore"
)

// Document is a parsed AWSTOE component document. Positions of every
// element are kept so that later validation can point at the source.
type Document struct {
	File          string // name given to ParseDocument (usually the path)
	Name          string
	Description   string
	SchemaVersion string // always normalised to "1.0"
	Parameters    []Parameter
	Constants     []Constant
	Phases        []*Phase
	Source        []byte // the document as given
}

// Parameter is a user-defined document input.
type Parameter struct {
	Name          string
	Type          string // as written: string, integer, boolean, stringList (any case)
	Default       *string
	Description   string
	AllowedValues []string
	Line          int
}

// Constant is an immutable named value.
type Constant struct {
	Name  string
	Type  string
	Value string
	Line  int
}

// Phase is a named list of steps.
type Phase struct {
	Name   string
	Steps  []*Step
	Line   int
	Column int
}

// Step is one action-module invocation.
type Step struct {
	Name           string
	Action         string
	Inputs         *Value // nil when the document has no inputs key
	TimeoutSeconds int    // DefaultTimeoutSeconds unless set; -1 = no timeout
	TimeoutSet     bool
	OnFailure      string // Abort, Continue or Ignore
	MaxAttempts    int    // total attempts, ≥ 1
	MaxAttemptsSet bool
	If             *Condition
	Loop           *Loop
	DisableLogging bool
	Line           int
	Column         int
	Where          string // structural path, e.g. "phases[0].steps[2]"
}

var (
	nameRe      = regexp.MustCompile(`^[A-Za-z0-9_-]{3,128}$`)
	topLevelKey = map[string]bool{"name": true, "description": true, "schemaVersion": true,
		"parameters": true, "constants": true, "phases": true}
	stepKeys = map[string]bool{"name": true, "action": true, "inputs": true, "timeoutSeconds": true,
		"onFailure": true, "maxAttempts": true, "if": true, "loop": true, "disableLogging": true}
	paramTypes = map[string]string{"string": "string", "integer": "integer", "boolean": "boolean", "stringlist": "stringList"}
)

// ParseDocument parses a component document (YAML or JSON) and checks
// everything that does not depend on the action modules: top-level keys,
// schemaVersion, parameters, constants, phases and the shape of every step
// (including if and loop). Problems are reported as *DocumentError or
// ValidationErrors carrying the file, line, field and offending value.
func ParseDocument(name string, data []byte) (*Document, error) {
	root, err := parseTree(name, data)
	if err != nil {
		if _, ok := err.(*DocumentError); ok {
			return nil, err
		}
		return nil, &DocumentError{File: name, Msg: err.Error()}
	}
	return parseDocumentValue(name, root, data)
}

// parseDocumentValue builds the model from a parsed tree.
func parseDocumentValue(name string, root *Value, data []byte) (*Document, error) {
	l := &errList{file: name}
	doc := &Document{File: name, Source: append([]byte(nil), data...)}
	if root.Kind != KindMap {
		l.at(root, "", "", "", "a component document must be a YAML mapping, found a %s", root.Kind)
		return nil, l.err()
	}
	for i, k := range root.Keys {
		if !topLevelKey[k] {
			l.at(root.KeyPos[i], "", "", k, "unknown top-level key %q (allowed: name, description, schemaVersion, parameters, constants, phases)", k)
		}
	}
	doc.Name = scalarField(l, root, "name", "", "")
	doc.Description = scalarField(l, root, "description", "", "")
	parseSchemaVersion(l, root, doc)
	names := map[string]string{}
	parseParameters(l, root.Get("parameters"), doc, names)
	parseConstants(l, root.Get("constants"), doc, names)
	parsePhases(l, root, doc)
	if err := l.err(); err != nil {
		return nil, err
	}
	return doc, nil
}

// scalarField returns the text of an optional scalar map entry, reporting
// non-scalars.
func scalarField(l *errList, m *Value, key, where, step string) string {
	v := m.Get(key)
	if v.IsNull() {
		return ""
	}
	if v.Kind != KindScalar {
		l.at(v, where, step, key, "must be a string, found a %s", v.Kind)
		return ""
	}
	return v.Text
}

func parseSchemaVersion(l *errList, root *Value, doc *Document) {
	v := root.Get("schemaVersion")
	if v.IsNull() {
		l.at(root, "", "", "schemaVersion", "required key is missing (use schemaVersion: 1.0)")
		return
	}
	if v.Kind != KindScalar {
		l.at(v, "", "", "schemaVersion", "must be 1.0, found a %s", v.Kind)
		return
	}
	switch strings.TrimSpace(v.Text) {
	case "1.0", "1", "1.00":
		doc.SchemaVersion = "1.0"
	default:
		l.at(v, "", "", "schemaVersion", "unsupported value %q (only 1.0 exists)", v.Text)
	}
}

// namedEntry unpacks a list item of the form "- Name: {…}".
func namedEntry(l *errList, item *Value, where, what string) (string, *Value, bool) {
	if item.Kind != KindMap || len(item.Keys) != 1 {
		l.at(item, where, "", "", "each %s must be a single-key map (- Name: {type: …}), found a %s", what, describe(item))
		return "", nil, false
	}
	return item.Keys[0], item.Vals[0], true
}

func describe(v *Value) string {
	if v.Kind == KindMap {
		return fmt.Sprintf("map with %d keys", len(v.Keys))
	}
	return v.Kind.String()
}

func checkName(l *errList, pos *Value, where, what, name string, names map[string]string) {
	if !nameRe.MatchString(name) {
		l.at(pos, where, "", "", "%s name %q must be 3-128 characters of A-Z, a-z, 0-9, _ and -", what, name)
	}
	if prev, dup := names[name]; dup {
		l.at(pos, where, "", "", "%s name %q is already used by a %s", what, name, prev)
	}
	names[name] = what
}

func parseParameters(l *errList, list *Value, doc *Document, names map[string]string) {
	if list.IsNull() {
		return
	}
	if list.Kind != KindList {
		l.at(list, "", "", "parameters", "must be a list, found a %s", list.Kind)
		return
	}
	for i, item := range list.Items {
		where := fmt.Sprintf("parameters[%d]", i)
		name, body, ok := namedEntry(l, item, where, "parameter")
		if !ok {
			continue
		}
		checkName(l, item.KeyPos[0], where, "parameter", name, names)
		p := Parameter{Name: name, Line: item.Line}
		if body.Kind != KindMap {
			l.at(body, where, "", name, "parameter definition must be a map with type, default and description, found a %s", body.Kind)
			doc.Parameters = append(doc.Parameters, p)
			continue
		}
		for j, k := range body.Keys {
			switch k {
			case "type", "default", "description", "allowedValues":
			default:
				l.at(body.KeyPos[j], where, "", name+"."+k, "unknown parameter key %q (allowed: type, default, description, allowedValues)", k)
			}
		}
		t := body.Get("type")
		switch {
		case t.IsNull():
			l.at(body, where, "", name+".type", "required key is missing")
		case t.Kind != KindScalar:
			l.at(t, where, "", name+".type", "must be a string, found a %s", t.Kind)
		default:
			if _, ok := paramTypes[strings.ToLower(t.Text)]; !ok {
				l.at(t, where, "", name+".type", "unsupported type %q (allowed: string, integer, boolean, stringList)", t.Text)
			}
			p.Type = t.Text
		}
		if d := body.Get("default"); d != nil {
			s, ok := parameterValueText(l, d, where, name+".default")
			if ok {
				p.Default = &s
				if err := checkParamValue(p, s); err != nil {
					l.at(d, where, "", name+".default", "%v", err)
				}
			}
		}
		p.Description = scalarField(l, body, "description", where, "")
		if av := body.Get("allowedValues"); !av.IsNull() {
			if av.Kind != KindList {
				l.at(av, where, "", name+".allowedValues", "must be a list, found a %s", av.Kind)
			} else {
				for _, it := range av.Items {
					if it.Kind != KindScalar {
						l.at(it, where, "", name+".allowedValues", "items must be scalars, found a %s", it.Kind)
						continue
					}
					p.AllowedValues = append(p.AllowedValues, it.Text)
				}
			}
		}
		doc.Parameters = append(doc.Parameters, p)
	}
}

// parameterValueText renders a default value: scalars as text, a list
// (stringList) joined with commas.
func parameterValueText(l *errList, v *Value, where, field string) (string, bool) {
	switch v.Kind {
	case KindNull:
		return "", true
	case KindScalar:
		return v.Text, true
	case KindList:
		parts := make([]string, 0, len(v.Items))
		for _, it := range v.Items {
			if it.Kind != KindScalar {
				l.at(it, where, "", field, "list items must be scalars, found a %s", it.Kind)
				return "", false
			}
			parts = append(parts, it.Text)
		}
		return strings.Join(parts, ","), true
	}
	l.at(v, where, "", field, "must be a scalar, found a %s", v.Kind)
	return "", false
}

// checkParamValue checks a value against the parameter's type and allowed
// values. Values that contain expressions are not checked.
func checkParamValue(p Parameter, s string) error {
	if strings.Contains(s, "{{") {
		return nil
	}
	switch paramTypes[strings.ToLower(p.Type)] {
	case "integer":
		if _, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err != nil {
			return fmt.Errorf("value %q of parameter %s is not an integer", s, p.Name)
		}
	case "boolean":
		if _, ok := parseBool(s); !ok {
			return fmt.Errorf("value %q of parameter %s is not a boolean (true or false)", s, p.Name)
		}
	}
	if len(p.AllowedValues) > 0 {
		for _, a := range p.AllowedValues {
			if a == s {
				return nil
			}
		}
		return fmt.Errorf("value %q of parameter %s is not one of the allowed values %s", s, p.Name, strings.Join(p.AllowedValues, ", "))
	}
	return nil
}

func parseConstants(l *errList, list *Value, doc *Document, names map[string]string) {
	if list.IsNull() {
		return
	}
	if list.Kind != KindList {
		l.at(list, "", "", "constants", "must be a list, found a %s", list.Kind)
		return
	}
	for i, item := range list.Items {
		where := fmt.Sprintf("constants[%d]", i)
		name, body, ok := namedEntry(l, item, where, "constant")
		if !ok {
			continue
		}
		checkName(l, item.KeyPos[0], where, "constant", name, names)
		c := Constant{Name: name, Line: item.Line}
		if body.Kind != KindMap {
			l.at(body, where, "", name, "constant definition must be a map with type and value, found a %s", body.Kind)
			continue
		}
		for j, k := range body.Keys {
			if k != "type" && k != "value" && k != "description" {
				l.at(body.KeyPos[j], where, "", name+"."+k, "unknown constant key %q (allowed: type, value)", k)
			}
		}
		t := body.Get("type")
		switch {
		case t.IsNull():
			l.at(body, where, "", name+".type", "required key is missing")
		case t.Kind != KindScalar || !strings.EqualFold(t.Text, "string"):
			l.at(t, where, "", name+".type", "unsupported constant type %q (only string)", t.String())
		default:
			c.Type = t.Text
		}
		v := body.Get("value")
		switch {
		case v == nil:
			l.at(body, where, "", name+".value", "required key is missing")
		case v.Kind == KindNull:
			c.Value = ""
		case v.Kind != KindScalar:
			l.at(v, where, "", name+".value", "must be a string, found a %s", v.Kind)
		default:
			c.Value = v.Text
		}
		doc.Constants = append(doc.Constants, c)
	}
}

func parsePhases(l *errList, root *Value, doc *Document) {
	phases := root.Get("phases")
	if phases.IsNull() {
		l.at(root, "", "", "phases", "required key is missing")
		return
	}
	if phases.Kind != KindList {
		l.at(phases, "", "", "phases", "must be a list of {name, steps}, found a %s", phases.Kind)
		return
	}
	seen := map[string]bool{}
	standard := false
	for i, pv := range phases.Items {
		where := fmt.Sprintf("phases[%d]", i)
		if pv.Kind != KindMap {
			l.at(pv, where, "", "", "a phase must be a map with name and steps, found a %s", pv.Kind)
			continue
		}
		for j, k := range pv.Keys {
			if k != "name" && k != "steps" {
				l.at(pv.KeyPos[j], where, "", k, "unknown phase key %q (allowed: name, steps)", k)
			}
		}
		ph := &Phase{Line: pv.Line, Column: pv.Column}
		nv := pv.Get("name")
		switch {
		case nv.IsNull():
			l.at(pv, where, "", "name", "required key is missing")
		case nv.Kind != KindScalar || nv.Text == "":
			l.at(nv, where, "", "name", "must be a non-empty string")
		default:
			ph.Name = nv.Text
			if seen[ph.Name] {
				l.at(nv, where, "", "name", "duplicate phase name %q", ph.Name)
			}
			seen[ph.Name] = true
			switch ph.Name {
			case "build", "validate", "test":
				standard = true
			default:
				if !nameRe.MatchString(ph.Name) {
					l.at(nv, where, "", "name", "phase name %q must be 3-128 characters of A-Z, a-z, 0-9, _ and -", ph.Name)
				}
			}
		}
		sv := pv.Get("steps")
		switch {
		case sv.IsNull():
			l.at(pv, where, "", "steps", "required key is missing (a phase needs at least one step)")
		case sv.Kind != KindList:
			l.at(sv, where, "", "steps", "must be a list of steps, found a %s", sv.Kind)
		case len(sv.Items) == 0:
			l.at(sv, where, "", "steps", "a phase needs at least one step")
		default:
			stepNames := map[string]bool{}
			for j, stv := range sv.Items {
				st := parseStep(l, stv, fmt.Sprintf("%s.steps[%d]", where, j))
				if st == nil {
					continue
				}
				if st.Name != "" {
					if stepNames[st.Name] {
						l.at(stv.Get("name"), st.Where, st.Name, "name", "duplicate step name %q in phase %q", st.Name, ph.Name)
					}
					stepNames[st.Name] = true
				}
				ph.Steps = append(ph.Steps, st)
			}
		}
		doc.Phases = append(doc.Phases, ph)
	}
	if len(phases.Items) > 0 && !standard {
		l.at(phases, "", "", "phases", "the document needs at least one of the phases build, validate or test")
	}
}

func parseStep(l *errList, sv *Value, where string) *Step {
	if sv.Kind != KindMap {
		l.at(sv, where, "", "", "a step must be a map with name, action and inputs, found a %s", sv.Kind)
		return nil
	}
	st := &Step{Where: where, Line: sv.Line, Column: sv.Column, OnFailure: OnFailureAbort,
		MaxAttempts: 1, TimeoutSeconds: DefaultTimeoutSeconds}
	if nv := sv.Get("name"); nv != nil && nv.Kind == KindScalar {
		st.Name = nv.Text
	}
	for j, k := range sv.Keys {
		if !stepKeys[k] {
			l.at(sv.KeyPos[j], where, st.Name, k, "unknown step key %q (allowed: name, action, inputs, timeoutSeconds, onFailure, maxAttempts, if, loop, disableLogging)", k)
		}
	}
	nv := sv.Get("name")
	switch {
	case nv.IsNull():
		l.at(sv, where, "", "name", "required key is missing")
	case nv.Kind != KindScalar || nv.Text == "":
		l.at(nv, where, "", "name", "must be a non-empty string")
	case !stepNameRe.MatchString(nv.Text):
		l.at(nv, where, st.Name, "name", "step name %q may only contain A-Z, a-z, 0-9, _ and - (1-128 characters)", nv.Text)
	}
	av := sv.Get("action")
	switch {
	case av.IsNull():
		l.at(sv, where, st.Name, "action", "required key is missing")
	case av.Kind != KindScalar || av.Text == "":
		l.at(av, where, st.Name, "action", "must be a module name")
	default:
		st.Action = av.Text
	}
	if iv := sv.Get("inputs"); iv != nil {
		st.Inputs = iv
	}
	if tv := sv.Get("timeoutSeconds"); !tv.IsNull() {
		n, err := intScalar(tv)
		switch {
		case err != nil:
			l.at(tv, where, st.Name, "timeoutSeconds", "%v", err)
		case n == 0 || n < -1:
			l.at(tv, where, st.Name, "timeoutSeconds", "invalid value %d (a positive number of seconds, or -1 for no timeout)", n)
		default:
			st.TimeoutSeconds, st.TimeoutSet = n, true
		}
	}
	if mv := sv.Get("maxAttempts"); !mv.IsNull() {
		n, err := intScalar(mv)
		switch {
		case err != nil:
			l.at(mv, where, st.Name, "maxAttempts", "%v", err)
		case n < 1:
			l.at(mv, where, st.Name, "maxAttempts", "invalid value %d (must be at least 1)", n)
		default:
			st.MaxAttempts, st.MaxAttemptsSet = n, true
		}
	}
	if ov := sv.Get("onFailure"); !ov.IsNull() {
		switch {
		case ov.Kind != KindScalar:
			l.at(ov, where, st.Name, "onFailure", "must be Abort, Continue or Ignore, found a %s", ov.Kind)
		default:
			switch strings.ToLower(ov.Text) {
			case "abort":
				st.OnFailure = OnFailureAbort
			case "continue":
				st.OnFailure = OnFailureContinue
			case "ignore":
				st.OnFailure = OnFailureIgnore
			default:
				l.at(ov, where, st.Name, "onFailure", "invalid value %q (must be Abort, Continue or Ignore)", ov.Text)
			}
		}
	}
	if dv := sv.Get("disableLogging"); !dv.IsNull() {
		b, ok := parseBool(dv.Text)
		if dv.Kind != KindScalar || !ok {
			l.at(dv, where, st.Name, "disableLogging", "invalid value %q (must be true or false)", dv.String())
		}
		st.DisableLogging = b
	}
	if cv := sv.Get("if"); !cv.IsNull() {
		st.If = parseCondition(l, cv, where, st.Name, "if", true)
	}
	if lv := sv.Get("loop"); !lv.IsNull() {
		st.Loop = parseLoop(l, lv, where, st.Name)
	}
	return st
}

var stepNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// intScalar parses an integer scalar (decimal; a quoted number is accepted).
func intScalar(v *Value) (int, error) {
	if v.Kind != KindScalar {
		return 0, fmt.Errorf("must be an integer, found a %s", v.Kind)
	}
	n, err := strconv.Atoi(strings.TrimSpace(v.Text))
	if err != nil {
		return 0, fmt.Errorf("invalid value %q (must be an integer)", v.Text)
	}
	return n, nil
}
