// Package workflowdoc parses and validates Image Builder workflow documents
// (BUILD, TEST and DISTRIBUTION workflows; documents.md §2): the schema,
// parameters, steps and their actions and inputs, `.$` JSONPath references
// and `{{ }}` interpolations, `if` conditions, onFailure, timeouts and
// outputs. Every problem is reported with its line, step and field.
package workflowdoc

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Limits of a workflow document (documents.md §2.1).
const (
	MaxSteps      = 15
	MaxParameters = 25
	MaxOutputs    = 25
	// maxNodes bounds the nodes visited, aliases expanded (alias bombs).
	maxNodes = 200000
)

// Document is a parsed, validated workflow document.
type Document struct {
	Name          string
	Description   string
	SchemaVersion string
	Parameters    []Parameter
	Steps         []Step
	Outputs       []Output
	// Warnings are accepted oddities, e.g. a bare JSONPath in an input
	// without the `.$` suffix (resolved anyway).
	Warnings Errors
}

// Parameter is a declared workflow parameter.
type Parameter struct {
	Name        string
	Type        string // string, integer, boolean or stringList
	Description string
	// Default holds the default rendered as strings (one element for a
	// scalar, the list for stringList); nil when the caller must supply a
	// value.
	Default []string
	Line    int
}

// Step is one workflow step.
type Step struct {
	Name        string
	Action      string
	Description string
	OnFailure   string // Abort (default) or Continue
	// TimeoutSeconds is the effective timeout: the document's value or
	// the action's default.
	TimeoutSeconds int
	TimeoutSet     bool
	// RollbackEnabled is "true", "false" or a JSONPath to a boolean.
	RollbackEnabled string
	If              *Condition // nil: always runs
	Inputs          *yaml.Node // the inputs mapping as written (nil: none)
	Line, Column    int
}

// Output is a workflow output: a JSONPath evaluated after the last step.
type Output struct {
	Name  string
	Value string
	Line  int
}

// Condition is a parsed `if`: a logical operator with children, or a
// comparison of Operand with Value.
type Condition struct {
	Op       string // and, or, not, booleanEquals, numberEquals, ..., stringEquals
	Children []*Condition
	Operand  string // comparison literal as written
	Value    string // comparison value: usually a JSONPath
}

var (
	stepNameRe  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-_]{1,99}$`)
	topKeys     = []string{"name", "description", "schemaVersion", "parameters", "steps", "outputs"}
	stepKeys    = []string{"name", "action", "description", "inputs", "if", "onFailure", "rollbackEnabled", "timeoutSeconds"}
	paramKeys   = []string{"name", "type", "default", "description"}
	outputKeys  = []string{"name", "value"}
	paramTypes  = map[string]string{"string": "string", "integer": "integer", "boolean": "boolean", "stringlist": "stringList"}
	comparisons = []string{"booleanEquals", "numberEquals", "numberGreaterThan", "numberGreaterThanEquals",
		"numberLessThan", "numberLessThanEquals", "stringEquals"}
)

// Parse parses a workflow document (YAML or JSON) and validates everything
// that does not depend on the workflow's type. Problems come back as
// Errors (each an *Error with line, step and field).
func Parse(file string, data []byte) (*Document, error) {
	l := &errList{file: file}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		l.errs = append(l.errs, yamlError(file, err))
		return nil, l.err()
	}
	p := &parser{l: l, budget: maxNodes}
	if root.Kind == 0 || len(root.Content) == 0 {
		l.add(nil, scope{}, "", "the document is empty")
		return nil, l.err()
	}
	top := p.deref(root.Content[0])
	if top.Kind != yaml.MappingNode {
		l.add(top, scope{}, "", "a workflow document must be a mapping with schemaVersion and steps, found %s", describe(top))
		return nil, l.err()
	}
	doc := &Document{}
	p.doc = doc
	p.checkKeys(top, scope{}, "", topKeys)
	doc.Name = p.scalar(top, "name", scope{})
	doc.Description = p.scalar(top, "description", scope{})
	p.schemaVersion(top)
	p.parameters(p.get(top, "parameters"))
	p.parseSteps(top)
	p.outputs(p.get(top, "outputs"))
	if p.budget <= 0 {
		l.add(top, scope{}, "", "the document is too large once aliases are expanded")
	}
	if err := l.err(); err != nil {
		return nil, err
	}
	doc.Warnings = p.warnings.errs
	return doc, nil
}

// CheckType validates the document against the workflow type (BUILD, TEST
// or DISTRIBUTION): the stages each action may run in.
func (d *Document) CheckType(file, typ string) error {
	l := &errList{file: file}
	for i, st := range d.Steps {
		a, ok := actions[st.Action]
		if !ok {
			continue
		}
		allowed := false
		for _, s := range a.Stages {
			if s == typ {
				allowed = true
			}
		}
		if !allowed {
			n := &yaml.Node{Line: st.Line, Column: st.Column}
			l.add(n, scope{where: fmt.Sprintf("steps[%d]", i), step: st.Name}, "action",
				"action %s is not allowed in a %s workflow (allowed in: %s)", st.Action, typ, strings.Join(a.Stages, ", "))
		}
	}
	return l.err()
}

// yamlError turns a YAML syntax error into a located Error.
var yamlLineRe = regexp.MustCompile(`line (\d+)`)

func yamlError(file string, err error) *Error {
	e := &Error{File: file, Msg: "not valid YAML or JSON: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		e.Msg = "not valid YAML or JSON: " + te.Errors[0]
	}
	if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
	}
	return e
}

type parser struct {
	l        *errList
	warnings errList
	doc      *Document
	budget   int
	params   map[string]*Parameter
	steps    map[string]int // step name → index
	actionOf map[string]string
	// rawStepNames are every step name in the document, for messages.
	rawStepNames map[string]bool
}

// deref follows aliases (bounded by the node budget).
func (p *parser) deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && p.budget > 0 {
		p.budget--
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return p.deref(n.Content[0])
	}
	return n
}

// pairs returns the key and value nodes of a mapping.
func (p *parser) pairs(m *yaml.Node) (keys, values []*yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		p.budget--
		keys = append(keys, m.Content[i])
		values = append(values, p.deref(m.Content[i+1]))
	}
	return keys, values
}

// get returns the value of key in mapping m (nil when absent).
func (p *parser) get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return p.deref(m.Content[i+1])
		}
	}
	return nil
}

// checkKeys reports keys of m that are not allowed, and duplicates.
func (p *parser) checkKeys(m *yaml.Node, sc scope, prefix string, allowed []string) {
	seen := map[string]bool{}
	keys, _ := p.pairs(m)
	for _, k := range keys {
		if seen[k.Value] {
			p.l.add(k, sc, prefix+k.Value, "duplicate key %q", k.Value)
		}
		seen[k.Value] = true
		ok := false
		for _, a := range allowed {
			if a == k.Value {
				ok = true
			}
		}
		if ok {
			continue
		}
		hint := ""
		if k.Value == "timeoutInSeconds" {
			hint = "; the key is timeoutSeconds"
		}
		p.l.add(k, sc, prefix+k.Value, "unknown key %q (allowed: %s)%s", k.Value, strings.Join(allowed, ", "), hint)
	}
}

// scalar returns an optional scalar entry's text, reporting non-scalars.
func (p *parser) scalar(m *yaml.Node, key string, sc scope) string {
	v := p.get(m, key)
	if v == nil {
		return ""
	}
	if v.Kind != yaml.ScalarNode {
		p.l.add(v, sc, key, "must be a string, found %s", describe(v))
		return ""
	}
	return v.Value
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

func (p *parser) schemaVersion(top *yaml.Node) {
	v := p.get(top, "schemaVersion")
	switch {
	case v == nil:
		p.l.add(top, scope{}, "schemaVersion", "is required (schemaVersion: 1.0)")
	case v.Kind != yaml.ScalarNode:
		p.l.add(v, scope{}, "schemaVersion", "must be 1.0, found %s", describe(v))
	case v.Value == "1.0" || v.Value == "1":
		p.doc.SchemaVersion = "1.0"
	default:
		p.l.add(v, scope{}, "schemaVersion", "%q is not supported; the only schema version is 1.0", v.Value)
	}
}

func (p *parser) parameters(n *yaml.Node) {
	p.params = map[string]*Parameter{}
	if n == nil || n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.l.add(n, scope{}, "parameters", "must be a list of parameters, found %s", describe(n))
		return
	}
	if len(n.Content) > MaxParameters {
		p.l.add(n, scope{}, "parameters", "%d parameters declared; at most %d are allowed", len(n.Content), MaxParameters)
	}
	for i, item := range n.Content {
		item = p.deref(item)
		sc := scope{where: fmt.Sprintf("parameters[%d]", i)}
		if item.Kind != yaml.MappingNode {
			p.l.add(item, sc, "", "a parameter must be a mapping with name and type, found %s", describe(item))
			continue
		}
		p.checkKeys(item, sc, "", paramKeys)
		par := Parameter{Name: p.scalar(item, "name", sc), Description: p.scalar(item, "description", sc), Line: item.Line}
		switch {
		case p.get(item, "name") == nil:
			p.l.add(item, sc, "name", "is required")
		case par.Name == "" || len(par.Name) > 128:
			p.l.add(p.get(item, "name"), sc, "name", "%q must be 1 to 128 characters", par.Name)
		case p.params[par.Name] != nil:
			p.l.add(p.get(item, "name"), sc, "name", "parameter %q is declared twice", par.Name)
		}
		if len(par.Description) > 1024 {
			p.l.add(p.get(item, "description"), sc, "description", "is %d characters; at most 1024 are allowed", len(par.Description))
		}
		sc.step = par.Name
		par.Type = "string" // a missing type means string (documents.md §2.1)
		if t := p.get(item, "type"); t != nil {
			canon, ok := paramTypes[strings.ToLower(t.Value)]
			if t.Kind != yaml.ScalarNode || !ok {
				p.l.add(t, sc, "type", "%s is not a parameter type; use string, integer, boolean or stringList", describe(t))
			} else {
				par.Type = canon
			}
		}
		if d := p.get(item, "default"); d != nil {
			par.Default = p.defaultValue(d, par.Type, sc)
		}
		if par.Name != "" && p.params[par.Name] == nil {
			p.params[par.Name] = &par
		}
		p.doc.Parameters = append(p.doc.Parameters, par)
	}
}

// defaultValue checks a parameter default against its type and renders it
// as strings.
func (p *parser) defaultValue(d *yaml.Node, typ string, sc scope) []string {
	if typ == "stringList" {
		if d.Kind == yaml.ScalarNode {
			return []string{d.Value}
		}
		if d.Kind != yaml.SequenceNode {
			p.l.add(d, sc, "default", "a stringList default must be a list of strings, found %s", describe(d))
			return nil
		}
		out := []string{}
		for _, e := range d.Content {
			e = p.deref(e)
			if e.Kind != yaml.ScalarNode {
				p.l.add(e, sc, "default", "a stringList default must be a list of strings, found %s in it", describe(e))
				return nil
			}
			out = append(out, e.Value)
		}
		return out
	}
	if d.Kind != yaml.ScalarNode || d.Tag == "!!null" {
		p.l.add(d, sc, "default", "a %s default must be a single value, found %s", typ, describe(d))
		return nil
	}
	switch typ {
	case "boolean":
		if _, ok := parseBool(d.Value); !ok {
			p.l.add(d, sc, "default", "%q is not a boolean (true or false)", d.Value)
		}
	case "integer":
		if _, err := strconv.ParseInt(d.Value, 10, 64); err != nil {
			p.l.add(d, sc, "default", "%q is not an integer", d.Value)
		}
	}
	if len(d.Value) > 1024 {
		p.l.add(d, sc, "default", "is %d characters; at most 1024 are allowed", len(d.Value))
	}
	return []string{d.Value}
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

func (p *parser) parseSteps(top *yaml.Node) {
	n := p.get(top, "steps")
	p.steps = map[string]int{}
	p.actionOf = map[string]string{}
	switch {
	case n == nil:
		p.l.add(top, scope{}, "steps", "is required: a list of 1 to %d steps", MaxSteps)
		return
	case n.Kind != yaml.SequenceNode:
		p.l.add(n, scope{}, "steps", "must be a list of steps, found %s", describe(n))
		return
	case len(n.Content) == 0:
		p.l.add(n, scope{}, "steps", "needs at least one step")
		return
	case len(n.Content) > MaxSteps:
		p.l.add(n, scope{}, "steps", "%d steps; at most %d are allowed", len(n.Content), MaxSteps)
	}
	p.rawStepNames = map[string]bool{}
	for _, item := range n.Content {
		if nm := p.get(p.deref(item), "name"); nm != nil {
			p.rawStepNames[nm.Value] = true
		}
	}
	var containerDist, amiDist *Step
	for i, item := range n.Content {
		item = p.deref(item)
		sc := scope{where: fmt.Sprintf("steps[%d]", i)}
		if item.Kind != yaml.MappingNode {
			p.l.add(item, sc, "", "a step must be a mapping with name and action, found %s", describe(item))
			continue
		}
		st := p.step(item, i, sc)
		if st.Name != "" {
			if _, dup := p.steps[st.Name]; !dup {
				p.steps[st.Name] = i
				p.actionOf[st.Name] = st.Action
			}
		}
		if st.Action == "DistributeContainerImage" && containerDist == nil {
			containerDist = &p.doc.Steps[len(p.doc.Steps)-1]
		}
		for _, a := range amiDistributionActions {
			if st.Action == a && amiDist == nil {
				amiDist = &p.doc.Steps[len(p.doc.Steps)-1]
			}
		}
	}
	if containerDist != nil && amiDist != nil {
		later := containerDist
		if amiDist.Line > later.Line {
			later = amiDist
		}
		p.l.add(&yaml.Node{Line: later.Line, Column: later.Column}, scope{where: "steps", step: later.Name}, "action",
			"DistributeContainerImage (step %s) cannot be combined with %s (step %s) in one workflow",
			containerDist.Name, amiDist.Action, amiDist.Name)
	}
}

func (p *parser) step(item *yaml.Node, i int, sc scope) Step {
	st := Step{Line: item.Line, Column: item.Column, OnFailure: "Abort", RollbackEnabled: "true"}
	st.Name = p.scalar(item, "name", sc)
	sc.step = st.Name
	p.checkKeys(item, sc, "", stepKeys)
	nameNode := p.get(item, "name")
	switch {
	case nameNode == nil:
		p.l.add(item, sc, "name", "is required")
	case !stepNameRe.MatchString(st.Name):
		p.l.add(nameNode, sc, "name", "%q must start with a letter and have 2 to 100 letters, digits, '-' or '_'", st.Name)
	default:
		if j, dup := p.steps[st.Name]; dup {
			p.l.add(nameNode, sc, "name", "step name %q is already used by steps[%d]", st.Name, j)
		}
	}
	st.Description = p.scalar(item, "description", sc)
	if len(st.Description) > 1024 {
		p.l.add(p.get(item, "description"), sc, "description", "is %d characters; at most 1024 are allowed", len(st.Description))
	}
	st.Action = p.scalar(item, "action", sc)
	a, known := actions[st.Action]
	actNode := p.get(item, "action")
	switch {
	case actNode == nil:
		p.l.add(item, sc, "action", "is required")
	case st.Action == "":
		p.l.add(actNode, sc, "action", "is required: one of %s", strings.Join(Actions(), ", "))
	case !known:
		p.l.add(actNode, sc, "action", "%q is not a workflow step action (one of %s)", st.Action, strings.Join(Actions(), ", "))
	}
	if f := p.get(item, "onFailure"); f != nil {
		switch strings.ToLower(f.Value) {
		case "abort":
			st.OnFailure = "Abort"
		case "continue":
			st.OnFailure = "Continue"
		default:
			p.l.add(f, sc, "onFailure", "%s is not allowed; use Abort or Continue", describe(f))
		}
	}
	if r := p.get(item, "rollbackEnabled"); r != nil {
		if b, ok := parseBool(r.Value); ok && r.Kind == yaml.ScalarNode {
			st.RollbackEnabled = strconv.FormatBool(b)
		} else if r.Kind == yaml.ScalarNode && strings.HasPrefix(r.Value, "$") {
			st.RollbackEnabled = r.Value
			p.reference(r, r.Value, sc, "rollbackEnabled", i)
		} else {
			p.l.add(r, sc, "rollbackEnabled", "%s must be true, false or a JSONPath to a boolean", describe(r))
		}
	}
	if known {
		st.TimeoutSeconds = a.DefaultTimeout
	}
	if t := p.get(item, "timeoutSeconds"); t != nil {
		v, err := strconv.Atoi(t.Value)
		switch {
		case t.Kind != yaml.ScalarNode || err != nil:
			p.l.add(t, sc, "timeoutSeconds", "%s is not a whole number of seconds", describe(t))
		case v < 1:
			p.l.add(t, sc, "timeoutSeconds", "%d must be at least 1", v)
		case known && v > a.MaxTimeout:
			p.l.add(t, sc, "timeoutSeconds", "%d exceeds the maximum of %d seconds for %s", v, a.MaxTimeout, st.Action)
		default:
			st.TimeoutSeconds, st.TimeoutSet = v, true
		}
	}
	if c := p.get(item, "if"); c != nil {
		st.If = p.condition(c, sc, "if", i, 0)
	}
	in := p.get(item, "inputs")
	if in != nil && in.Tag != "!!null" {
		if in.Kind != yaml.MappingNode {
			p.l.add(in, sc, "inputs", "must be a mapping, found %s", describe(in))
			in = nil
		} else {
			st.Inputs = in
		}
	} else {
		in = nil
	}
	if known {
		p.inputs(a, in, item, sc, i)
	} else if in != nil {
		p.dynamic(in, sc, "inputs", i)
	}
	p.doc.Steps = append(p.doc.Steps, st)
	return st
}

// inputs checks a step's inputs against its action: known names, required
// ones present, value shapes, and every dynamic reference.
func (p *parser) inputs(a *ActionSpec, in, item *yaml.Node, sc scope, idx int) {
	given := map[string]*yaml.Node{}
	if in != nil {
		keys, values := p.pairs(in)
		for j, k := range keys {
			base, dyn := strings.CutSuffix(k.Value, ".$")
			field := "inputs." + k.Value
			spec, ok := a.Inputs[base]
			if !ok {
				p.l.add(k, sc, field, "unknown input %q for %s (inputs: %s)", base, a.Name, inputNames(a))
				continue
			}
			if prev, twice := given[base]; twice {
				p.l.add(k, sc, field, "input %q is given twice (line %d)", base, prev.Line)
			}
			given[base] = k
			v := values[j]
			if dyn {
				p.dynamicValue(v, sc, field, idx)
				continue
			}
			p.checkValue(spec, v, sc, field, idx)
			p.dynamic(v, sc, field, idx)
		}
	}
	for _, name := range inputNamesSorted(a) {
		if a.Inputs[name].required && given[name] == nil {
			at := in
			if at == nil {
				at = item
			}
			p.l.add(at, sc, "inputs."+name, "%s requires input %q (or %q with a JSONPath)", a.Name, name, name+".$")
		}
	}
}

func inputNamesSorted(a *ActionSpec) []string {
	out := make([]string, 0, len(a.Inputs))
	for n := range a.Inputs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func inputNames(a *ActionSpec) string {
	if len(a.Inputs) == 0 {
		return "none"
	}
	return strings.Join(inputNamesSorted(a), ", ")
}

// templated reports whether a scalar is resolved at run time or comes
// from an unrendered template ({{ }} interpolation, ${...} placeholders).
func templated(s string) bool { return strings.Contains(s, "{{") || strings.Contains(s, "${") }

// checkValue checks the shape of one literal input value.
func (p *parser) checkValue(spec inputSpec, v *yaml.Node, sc scope, field string, idx int) {
	switch spec.kind {
	case kindString:
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			p.l.add(v, sc, field, "must be a single value, found %s", describe(v))
			return
		}
		if len(spec.enum) > 0 && !templated(v.Value) && !isPath(v.Value) {
			for _, e := range spec.enum {
				if e == v.Value {
					return
				}
			}
			p.l.add(v, sc, field, "%q is not allowed; use %s", v.Value, strings.Join(spec.enum, " or "))
		}
	case kindBool:
		if v.Kind != yaml.ScalarNode {
			p.l.add(v, sc, field, "must be true or false, found %s", describe(v))
			return
		}
		if _, ok := parseBool(v.Value); !ok && !strings.Contains(v.Value, "{{") && !isPath(v.Value) {
			p.l.add(v, sc, field, "%q is not a boolean (true or false)", v.Value)
		}
	case kindStringList:
		if v.Kind == yaml.ScalarNode && (templated(v.Value) || isPath(v.Value)) {
			return
		}
		if v.Kind != yaml.SequenceNode {
			p.l.add(v, sc, field, "must be a list of strings, found %s", describe(v))
			return
		}
		for _, e := range v.Content {
			if e = p.deref(e); e.Kind != yaml.ScalarNode {
				p.l.add(e, sc, field, "must be a list of strings; found %s in it", describe(e))
			}
		}
	case kindStringMap, kindParamMap:
		if v.Kind != yaml.MappingNode {
			p.l.add(v, sc, field, "must be a mapping, found %s", describe(v))
			return
		}
		keys, values := p.pairs(v)
		for j, e := range values {
			f := field + "." + keys[j].Value
			switch {
			case e.Kind == yaml.ScalarNode:
			case spec.kind == kindParamMap && e.Kind == yaml.SequenceNode:
				for _, x := range e.Content {
					if x = p.deref(x); x.Kind != yaml.ScalarNode {
						p.l.add(x, sc, f, "must be a list of strings; found %s in it", describe(x))
					}
				}
			default:
				p.l.add(e, sc, f, "must be a string%s, found %s", map[bool]string{true: " or a list of strings"}[spec.kind == kindParamMap], describe(e))
			}
		}
	case kindMapList:
		if v.Kind != yaml.SequenceNode {
			p.l.add(v, sc, field, "must be a list of mappings, found %s", describe(v))
			return
		}
		if len(v.Content) == 0 {
			p.l.add(v, sc, field, "must not be empty")
		}
		for j, e := range v.Content {
			e = p.deref(e)
			f := fmt.Sprintf("%s[%d]", field, j)
			if e.Kind != yaml.MappingNode {
				p.l.add(e, sc, f, "must be a mapping, found %s", describe(e))
				continue
			}
			seen := map[string]bool{}
			keys, values := p.pairs(e)
			for m, k := range keys {
				base, dyn := strings.CutSuffix(k.Value, ".$")
				fs, ok := spec.fields[base]
				if !ok {
					names := make([]string, 0, len(spec.fields))
					for n := range spec.fields {
						names = append(names, n)
					}
					sort.Strings(names)
					p.l.add(k, sc, f+"."+k.Value, "unknown field %q (fields: %s)", base, strings.Join(names, ", "))
					continue
				}
				seen[base] = true
				if !dyn {
					p.checkValue(fs, values[m], sc, f+"."+k.Value, idx)
				}
			}
			for n, fs := range spec.fields {
				if fs.required && !seen[n] {
					p.l.add(e, sc, f+"."+n, "is required")
				}
			}
		}
	}
}

// dynamic walks a literal value for `.$` keys (nested), `{{ }}`
// interpolations and bare JSONPaths.
func (p *parser) dynamic(v *yaml.Node, sc scope, field string, idx int) {
	if p.budget--; p.budget <= 0 {
		return
	}
	switch v.Kind {
	case yaml.ScalarNode:
		if isPath(v.Value) && knownRoot(v.Value) {
			// A bare JSONPath without `.$` (documents.md §2.3): resolved,
			// with a warning.
			p.reference(v, v.Value, sc, field, idx)
			p.warnings.file = p.l.file
			p.warnings.add(v, sc, field, "%q is a JSONPath in an input without the .$ suffix; write %s.$ to make the reference explicit", v.Value, lastSegment(field))
			return
		}
		p.interpolations(v, v.Value, sc, field, idx)
	case yaml.SequenceNode:
		for j, e := range v.Content {
			p.dynamic(p.deref(e), sc, fmt.Sprintf("%s[%d]", field, j), idx)
		}
	case yaml.MappingNode:
		keys, values := p.pairs(v)
		for j, k := range keys {
			f := field + "." + k.Value
			if strings.HasSuffix(k.Value, ".$") {
				p.dynamicValue(values[j], sc, f, idx)
			} else {
				p.dynamic(values[j], sc, f, idx)
			}
		}
	}
}

func lastSegment(field string) string {
	if i := strings.LastIndex(field, "."); i >= 0 {
		return field[i+1:]
	}
	return field
}

// dynamicValue checks the value of a `.$` key: a JSONPath, or a template
// string with {{ }} interpolations (decision C9).
func (p *parser) dynamicValue(v *yaml.Node, sc scope, field string, idx int) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		p.l.add(v, sc, field, "a .$ input takes a JSONPath string, found %s", describe(v))
		return
	}
	s := strings.TrimSpace(v.Value)
	if strings.HasPrefix(s, "$") {
		p.reference(v, s, sc, field, idx)
		return
	}
	if !strings.Contains(s, "{{") {
		p.l.add(v, sc, field, "%q is neither a JSONPath ($.parameters..., $.stepOutputs..., $.imagebuilder..., $.workflowOutputs...) nor a template with {{ }}", v.Value)
		return
	}
	p.interpolations(v, s, sc, field, idx)
}

var interpRe = regexp.MustCompile(`\{\{\s*(.*?)\s*\}\}`)

// interpolations checks every {{ $.path }} inside a string; Image Builder
// variables like {{ imagebuilder:buildDate }} pass.
func (p *parser) interpolations(v *yaml.Node, s string, sc scope, field string, idx int) {
	for _, m := range interpRe.FindAllStringSubmatch(s, 20) {
		if strings.HasPrefix(m[1], "$") {
			p.reference(v, m[1], sc, field, idx)
		}
	}
}

func isPath(s string) bool { return strings.HasPrefix(s, "$.") }

func knownRoot(s string) bool {
	for _, r := range []string{"$.stepOutputs.", "$.parameters.", "$.imagebuilder.", "$.workflowOutputs."} {
		if strings.HasPrefix(s, r) {
			return true
		}
	}
	return false
}

// pathSegRe matches one JSONPath segment after the root: .name or [index].
var pathSegRe = regexp.MustCompile(`^(?:\.([A-Za-z0-9_-]+)|\[(\d+)\])`)

// ParsePath splits a JSONPath of the supported subset
// ($.root.name(.name|[index])*) into its segments; indexes come back as
// "[n]".
func ParsePath(s string) ([]string, error) {
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("%q does not start with $", s)
	}
	rest := s[1:]
	var segs []string
	for rest != "" {
		m := pathSegRe.FindStringSubmatch(rest)
		if m == nil {
			return nil, fmt.Errorf("%q is not a supported JSONPath: unexpected %q", s, rest)
		}
		if m[1] != "" {
			segs = append(segs, m[1])
		} else {
			segs = append(segs, "["+m[2]+"]")
		}
		rest = rest[len(m[0]):]
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("%q names no value", s)
	}
	return segs, nil
}

// reference checks a JSONPath: its root, a declared parameter, an earlier
// step with that output, a known system variable. idx is the referring
// step's index (len(steps) for outputs).
func (p *parser) reference(n *yaml.Node, path string, sc scope, field string, idx int) {
	segs, err := ParsePath(path)
	if err != nil {
		p.l.add(n, sc, field, "%v", err)
		return
	}
	name := func(i int) (string, bool) {
		if i >= len(segs) || strings.HasPrefix(segs[i], "[") {
			return "", false
		}
		return segs[i], true
	}
	switch segs[0] {
	case "parameters":
		par, ok := name(1)
		if !ok {
			p.l.add(n, sc, field, "%q must name a parameter ($.parameters.<name>)", path)
		} else if p.params[par] == nil {
			p.l.add(n, sc, field, "%q refers to parameter %q, which the document does not declare", path, par)
		}
	case "stepOutputs":
		stepName, ok := name(1)
		out, ok2 := name(2)
		if !ok || !ok2 {
			p.l.add(n, sc, field, "%q must name a step and an output ($.stepOutputs.<step>.<output>)", path)
			return
		}
		j, exists := p.steps[stepName]
		if !exists || j >= idx {
			if exists || p.laterStep(stepName) {
				p.l.add(n, sc, field, "%q refers to step %q, which does not run before this one", path, stepName)
			} else {
				p.l.add(n, sc, field, "%q refers to step %q, which does not exist", path, stepName)
			}
			return
		}
		action := p.actionOf[stepName]
		if a, ok := actions[action]; ok && !a.hasOutput(out) {
			outs := strings.Join(a.Outputs, ", ")
			if outs == "" {
				outs = "none"
			}
			p.l.add(n, sc, field, "%q: step %s (%s) has no output %q (outputs: %s)", path, stepName, action, out, outs)
		}
	case "imagebuilder":
		v, ok := name(1)
		if !ok {
			p.l.add(n, sc, field, "%q must name a system variable ($.imagebuilder.<variable>)", path)
			return
		}
		for _, sv := range systemVariables {
			if strings.EqualFold(sv, v) {
				return
			}
		}
		p.l.add(n, sc, field, "%q: %q is not an Image Builder system variable (one of %s)", path, v, strings.Join(systemVariables, ", "))
	case "workflowOutputs":
		if _, ok := name(1); !ok {
			p.l.add(n, sc, field, "%q must name an output of an earlier workflow ($.workflowOutputs.<name>)", path)
		}
	default:
		p.l.add(n, sc, field, "%q: unknown root %q; use $.parameters, $.stepOutputs, $.imagebuilder or $.workflowOutputs", path, segs[0])
	}
}

// laterStep reports whether a step of that name appears anywhere in the
// raw document (for a better message than "does not exist").
func (p *parser) laterStep(name string) bool {
	return p.rawStepNames != nil && p.rawStepNames[name]
}

// condition parses an `if` (documents.md §2.4): and/or lists (1..10),
// not, or one comparison with value; logical nesting at most 4 deep.
func (p *parser) condition(n *yaml.Node, sc scope, field string, idx, depth int) *Condition {
	if n.Kind != yaml.MappingNode {
		p.l.add(n, sc, field, "a condition must be a mapping (and, or, not or a comparison with value), found %s", describe(n))
		return nil
	}
	keys, values := p.pairs(n)
	var op string
	var opNode, valNode *yaml.Node
	for j, k := range keys {
		switch {
		case k.Value == "value":
			valNode = values[j]
		case k.Value == "and" || k.Value == "or" || k.Value == "not" || contains(comparisons, k.Value):
			if op != "" {
				p.l.add(k, sc, field+"."+k.Value, "a condition has one operator; found %s and %s", op, k.Value)
				continue
			}
			op, opNode = k.Value, values[j]
		default:
			p.l.add(k, sc, field+"."+k.Value, "unknown condition operator %q (and, or, not, %s)", k.Value, strings.Join(comparisons, ", "))
		}
	}
	if op == "" {
		p.l.add(n, sc, field, "the condition has no operator (and, or, not, %s)", strings.Join(comparisons, ", "))
		return nil
	}
	c := &Condition{Op: op}
	f := field + "." + op
	switch op {
	case "and", "or", "not":
		if depth >= 4 {
			p.l.add(opNode, sc, f, "conditions nest at most 4 levels deep")
			return c
		}
		if valNode != nil {
			p.l.add(valNode, sc, field+".value", "value belongs to a comparison, not to %s", op)
		}
		if op == "not" {
			if ch := p.condition(opNode, sc, f, idx, depth+1); ch != nil {
				c.Children = append(c.Children, ch)
			}
			return c
		}
		if opNode.Kind != yaml.SequenceNode || len(opNode.Content) == 0 || len(opNode.Content) > 10 {
			p.l.add(opNode, sc, f, "%s takes a list of 1 to 10 conditions, found %s", op, describe(opNode))
			return c
		}
		for j, e := range opNode.Content {
			if ch := p.condition(p.deref(e), sc, fmt.Sprintf("%s[%d]", f, j), idx, depth+1); ch != nil {
				c.Children = append(c.Children, ch)
			}
		}
		return c
	}
	if opNode.Kind != yaml.ScalarNode || opNode.Tag == "!!null" {
		p.l.add(opNode, sc, f, "%s compares with a single value, found %s", op, describe(opNode))
		return c
	}
	c.Operand = opNode.Value
	switch {
	case op == "booleanEquals":
		if _, ok := parseBool(opNode.Value); !ok {
			p.l.add(opNode, sc, f, "%q is not a boolean (true or false)", opNode.Value)
		}
	case strings.HasPrefix(op, "number"):
		if _, err := strconv.ParseFloat(opNode.Value, 64); err != nil {
			p.l.add(opNode, sc, f, "%q is not a number", opNode.Value)
		}
	}
	if valNode == nil {
		p.l.add(n, sc, field+".value", "%s needs a value to compare (usually a JSONPath)", op)
		return c
	}
	if valNode.Kind != yaml.ScalarNode {
		p.l.add(valNode, sc, field+".value", "must be a single value or JSONPath, found %s", describe(valNode))
		return c
	}
	c.Value = valNode.Value
	if strings.HasPrefix(valNode.Value, "$") {
		p.reference(valNode, valNode.Value, sc, field+".value", idx)
	} else {
		p.interpolations(valNode, valNode.Value, sc, field+".value", idx)
	}
	return c
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p *parser) outputs(n *yaml.Node) {
	if n == nil || n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.l.add(n, scope{}, "outputs", "must be a list of {name, value}, found %s", describe(n))
		return
	}
	if len(n.Content) > MaxOutputs {
		p.l.add(n, scope{}, "outputs", "%d outputs; at most %d are allowed", len(n.Content), MaxOutputs)
	}
	seen := map[string]bool{}
	for i, item := range n.Content {
		item = p.deref(item)
		sc := scope{where: fmt.Sprintf("outputs[%d]", i)}
		if item.Kind != yaml.MappingNode {
			p.l.add(item, sc, "", "an output must be a mapping with name and value, found %s", describe(item))
			continue
		}
		p.checkKeys(item, sc, "", outputKeys)
		o := Output{Name: p.scalar(item, "name", sc), Value: p.scalar(item, "value", sc), Line: item.Line}
		sc.step = o.Name
		switch {
		case p.get(item, "name") == nil || o.Name == "":
			p.l.add(item, sc, "name", "is required")
		case seen[o.Name]:
			p.l.add(p.get(item, "name"), sc, "name", "output %q is declared twice", o.Name)
		}
		seen[o.Name] = true
		v := p.get(item, "value")
		switch {
		case v == nil || o.Value == "":
			p.l.add(item, sc, "value", "is required: a JSONPath such as $.stepOutputs.<step>.<output>")
		case !strings.HasPrefix(strings.TrimSpace(o.Value), "$"):
			p.l.add(v, sc, "value", "%q must be a JSONPath such as $.stepOutputs.<step>.<output>", o.Value)
		default:
			p.reference(v, strings.TrimSpace(o.Value), sc, "value", len(p.doc.Steps))
		}
		p.doc.Outputs = append(p.doc.Outputs, o)
	}
}
