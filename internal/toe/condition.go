package toe

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/goldsmith/goldsmith/internal/toe/module"
)

// Condition outcomes (then/else).
const (
	OutcomeExecute = "Execute"
	OutcomeSkip    = "Skip"
	OutcomeAbort   = "Abort"
)

// Condition is a parsed if expression (also the input shape of Assert).
type Condition struct {
	Op       string       // operator: and, or, not, or a comparison operator
	Operand  *Value       // the operator's operand (comparisons)
	Value    *Value       // second operand (binary comparisons)
	Path     *Value       // file for the hash operators
	Children []*Condition // and / or / not
	Then     string       // top level only; default Execute
	Else     string       // top level only; default Skip
	Line     int
	Column   int
}

type opKind int

const (
	opUnary opKind = iota + 1
	opBinary
	opHash
	opLogical
)

var condOps = map[string]opKind{
	"and": opLogical, "or": opLogical, "not": opLogical,
	"stringIsEmpty": opUnary, "stringIsWhitespace": opUnary,
	"binaryExists": opUnary, "fileExists": opUnary, "folderExists": opUnary,
	"stringEquals": opBinary, "stringLessThan": opBinary, "stringLessThanEquals": opBinary,
	"stringGreaterThan": opBinary, "stringGreaterThanEquals": opBinary, "patternMatches": opBinary,
	"numberEquals": opBinary, "numberLessThan": opBinary, "numberLessThanEquals": opBinary,
	"numberGreaterThan": opBinary, "numberGreaterThanEquals": opBinary,
	"fileMD5Equals": opHash, "fileSHA1Equals": opHash, "fileSHA256Equals": opHash, "fileSHA512Equals": opHash,
}

// ConditionOperators lists every operator accepted in if and Assert.
func ConditionOperators() []string {
	out := make([]string, 0, len(condOps))
	for k := range condOps {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func outcome(l *errList, v *Value, where, step, field string) string {
	if v.Kind != KindScalar {
		l.at(v, where, step, field, "must be Execute, Skip or Abort, found a %s", v.Kind)
		return ""
	}
	for _, o := range []string{OutcomeExecute, OutcomeSkip, OutcomeAbort} {
		if strings.EqualFold(v.Text, o) {
			return o
		}
	}
	l.at(v, where, step, field, "invalid value %q (must be Execute, Skip or Abort)", v.Text)
	return ""
}

// parseCondition parses a condition map. top enables then/else.
func parseCondition(l *errList, v *Value, where, step, field string, top bool) *Condition {
	if v.Kind != KindMap {
		l.at(v, where, step, field, "a condition must be a map with one operator, found a %s", v.Kind)
		return nil
	}
	c := &Condition{Line: v.Line, Column: v.Column}
	if top {
		c.Then, c.Else = OutcomeExecute, OutcomeSkip
	}
	var ops []string
	for i, k := range v.Keys {
		val := v.Vals[i]
		switch k {
		case "value":
			c.Value = val
		case "path":
			c.Path = val
		case "then", "else":
			if !top {
				l.at(v.KeyPos[i], where, step, field+"."+k, "%s is only allowed at the top of the if expression", k)
				continue
			}
			if o := outcome(l, val, where, step, field+"."+k); o != "" {
				if k == "then" {
					c.Then = o
				} else {
					c.Else = o
				}
			}
		default:
			if _, ok := condOps[k]; !ok {
				l.at(v.KeyPos[i], where, step, field+"."+k, "unknown condition operator %q", k)
				continue
			}
			ops = append(ops, k)
			c.Op = k
			c.Operand = val
		}
	}
	if len(ops) != 1 {
		if len(ops) == 0 {
			l.at(v, where, step, field, "the condition has no operator (e.g. stringEquals, and, binaryExists)")
		} else {
			l.at(v, where, step, field, "the condition has %d operators (%s); use and/or to combine them", len(ops), strings.Join(ops, ", "))
		}
		return nil
	}
	f := field + "." + c.Op
	switch condOps[c.Op] {
	case opLogical:
		if c.Value != nil || c.Path != nil {
			l.at(v, where, step, field, "%s does not take value or path", c.Op)
		}
		items := []*Value{c.Operand}
		if c.Operand.Kind == KindList {
			items = c.Operand.Items
		} else if c.Op != "not" {
			l.at(c.Operand, where, step, f, "%s needs a list of conditions, found a %s", c.Op, c.Operand.Kind)
			return nil
		}
		if c.Op == "not" && len(items) != 1 {
			l.at(c.Operand, where, step, f, "not takes exactly one condition, found %d", len(items))
			return nil
		}
		if len(items) == 0 {
			l.at(c.Operand, where, step, f, "%s needs at least one condition", c.Op)
			return nil
		}
		for i, it := range items {
			ch := parseCondition(l, it, where, step, fmt.Sprintf("%s[%d]", f, i), false)
			if ch == nil {
				return nil
			}
			c.Children = append(c.Children, ch)
		}
	case opUnary:
		checkOperand(l, c.Operand, where, step, f)
		if c.Value != nil {
			l.at(c.Value, where, step, field+".value", "%s takes a single operand; value is not allowed", c.Op)
		}
		if c.Path != nil {
			l.at(c.Path, where, step, field+".path", "%s does not take path", c.Op)
		}
	case opBinary:
		checkOperand(l, c.Operand, where, step, f)
		if c.Value == nil {
			l.at(v, where, step, field+".value", "%s needs a value to compare with", c.Op)
		} else {
			checkOperand(l, c.Value, where, step, field+".value")
		}
		if c.Op == "patternMatches" && c.Operand.Kind == KindScalar && !strings.Contains(c.Operand.Text, "{{") {
			if _, err := regexp.Compile(c.Operand.Text); err != nil {
				l.at(c.Operand, where, step, f, "invalid regular expression %q: %v", c.Operand.Text, err)
			}
		}
		if c.Path != nil {
			l.at(c.Path, where, step, field+".path", "%s does not take path", c.Op)
		}
	case opHash:
		checkOperand(l, c.Operand, where, step, f)
		if c.Path == nil {
			l.at(v, where, step, field+".path", "%s needs the file as path", c.Op)
		} else {
			checkOperand(l, c.Path, where, step, field+".path")
		}
		if c.Value != nil {
			l.at(c.Value, where, step, field+".value", "%s takes the file as path, not value", c.Op)
		}
	}
	return c
}

func checkOperand(l *errList, v *Value, where, step, field string) {
	if v.Kind == KindList || v.Kind == KindMap {
		l.at(v, where, step, field, "operand must be a string or number, found a %s", v.Kind)
	}
}

// condEnv supplies operand resolution and file-system probes to Eval.
type condEnv struct {
	resolve func(v *Value) (string, error) // substitutes expressions in an operand
	workDir string
}

// Eval evaluates the condition. Errors are resolution failures (an
// operand expression that cannot be resolved, an unreadable hash file).
func (c *Condition) eval(env condEnv) (bool, error) {
	switch c.Op {
	case "and":
		for _, ch := range c.Children {
			ok, err := ch.eval(env)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case "or":
		for _, ch := range c.Children {
			ok, err := ch.eval(env)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case "not":
		ok, err := c.Children[0].eval(env)
		return !ok, err
	}
	a, err := env.resolve(c.Operand)
	if err != nil {
		return false, err
	}
	switch condOps[c.Op] {
	case opUnary:
		return module.Unary(c.Op, a, env.workDir), nil
	case opBinary:
		b, err := env.resolve(c.Value)
		if err != nil {
			return false, err
		}
		return module.Compare(c.Op, b, a)
	case opHash:
		p, err := env.resolve(c.Path)
		if err != nil {
			return false, err
		}
		return module.FileHashEquals(c.Op, a, absPath(p, env.workDir))
	}
	return false, fmt.Errorf("unknown operator %q", c.Op)
}

func absPath(p, workDir string) string {
	if p == "" || strings.HasPrefix(p, "/") || workDir == "" {
		return p
	}
	return workDir + "/" + p
}
