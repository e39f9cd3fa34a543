package toe

import (
	"crypto/md5"  //nolint:gosec // file digests requested by documents
	"crypto/sha1" //nolint:gosec // file digests requested by documents
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
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
		return evalUnary(c.Op, a, env.workDir), nil
	case opBinary:
		b, err := env.resolve(c.Value)
		if err != nil {
			return false, err
		}
		return evalBinary(c.Op, a, b)
	case opHash:
		p, err := env.resolve(c.Path)
		if err != nil {
			return false, err
		}
		return evalHash(c.Op, a, absPath(p, env.workDir))
	}
	return false, fmt.Errorf("unknown operator %q", c.Op)
}

func absPath(p, workDir string) string {
	if p == "" || strings.HasPrefix(p, "/") || workDir == "" {
		return p
	}
	return workDir + "/" + p
}

func evalUnary(op, a, workDir string) bool {
	switch op {
	case "stringIsEmpty":
		return a == ""
	case "stringIsWhitespace":
		return strings.TrimSpace(a) == "" && a != ""
	case "binaryExists":
		_, err := exec.LookPath(a)
		return err == nil
	case "fileExists":
		fi, err := os.Stat(absPath(a, workDir))
		return err == nil && !fi.IsDir()
	case "folderExists":
		fi, err := os.Stat(absPath(a, workDir))
		return err == nil && fi.IsDir()
	}
	return false
}

var numberRe = regexp.MustCompile(`^[-+]?([0-9]+[.])?[0-9]+$`)

func parseNumber(s string) (*big.Float, bool) {
	s = strings.TrimSpace(s)
	if !numberRe.MatchString(s) {
		return nil, false
	}
	f, _, err := big.ParseFloat(s, 10, 256, big.ToNearestEven)
	return f, err == nil
}

// evalBinary compares a (the operator's operand) with b (value). For
// patternMatches a is the pattern and b the tested string.
func evalBinary(op, a, b string) (bool, error) {
	switch op {
	case "stringEquals":
		return b == a, nil
	case "stringLessThan":
		return b < a, nil
	case "stringLessThanEquals":
		return b <= a, nil
	case "stringGreaterThan":
		return b > a, nil
	case "stringGreaterThanEquals":
		return b >= a, nil
	case "patternMatches":
		re, err := regexp.Compile(a)
		if err != nil {
			return false, fmt.Errorf("patternMatches: invalid regular expression %q: %w", a, err)
		}
		return re.MatchString(b), nil
	}
	x, ok1 := parseNumber(a)
	y, ok2 := parseNumber(b)
	if !ok1 || !ok2 {
		return false, nil
	}
	c := y.Cmp(x)
	switch op {
	case "numberEquals":
		return c == 0, nil
	case "numberLessThan":
		return c < 0, nil
	case "numberLessThanEquals":
		return c <= 0, nil
	case "numberGreaterThan":
		return c > 0, nil
	case "numberGreaterThanEquals":
		return c >= 0, nil
	}
	return false, fmt.Errorf("unknown operator %q", op)
}

func evalHash(op, want, path string) (bool, error) {
	var h hash.Hash
	switch op {
	case "fileMD5Equals":
		h = md5.New() //nolint:gosec
	case "fileSHA1Equals":
		h = sha1.New() //nolint:gosec
	case "fileSHA256Equals":
		h = sha256.New()
	case "fileSHA512Equals":
		h = sha512.New()
	default:
		return false, fmt.Errorf("unknown operator %q", op)
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("%s: %w", op, err)
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return false, fmt.Errorf("%s: reading %s: %w", op, path, err)
	}
	return strings.EqualFold(hex.EncodeToString(h.Sum(nil)), strings.TrimSpace(want)), nil
}
