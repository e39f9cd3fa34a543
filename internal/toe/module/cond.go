package module

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
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

// opKind classifies the comparison operators of AWSTOE conditions.
type opKind int

const (
	opUnary   opKind = iota // operand only: stringIsEmpty, fileExists, …
	opBinary                // operand + value
	opHash                  // digest operand + path
	opLogical               // and, or, not
)

var conditionOps = map[string]opKind{
	"stringIsEmpty": opUnary, "stringIsWhitespace": opUnary,
	"binaryExists": opUnary, "fileExists": opUnary, "folderExists": opUnary,
	"stringEquals": opBinary, "stringLessThan": opBinary, "stringLessThanEquals": opBinary,
	"stringGreaterThan": opBinary, "stringGreaterThanEquals": opBinary, "patternMatches": opBinary,
	"numberEquals": opBinary, "numberLessThan": opBinary, "numberLessThanEquals": opBinary,
	"numberGreaterThan": opBinary, "numberGreaterThanEquals": opBinary,
	"fileMD5Equals": opHash, "fileSHA1Equals": opHash, "fileSHA256Equals": opHash, "fileSHA512Equals": opHash,
	"and": opLogical, "or": opLogical, "not": opLogical,
}

// conditionOperator finds the single operator key of an expression map.
func conditionOperator(m map[string]any) (string, []string) {
	var ops []string
	for k := range m {
		if _, ok := conditionOps[k]; ok {
			ops = append(ops, k)
		}
	}
	sort.Strings(ops)
	if len(ops) == 1 {
		return ops[0], ops
	}
	return "", ops
}

// CheckCondition validates one AWSTOE condition expression (the inputs of
// Assert, or an `if` without its then/else keys). path prefixes the Field
// of the returned problems.
func CheckCondition(v any, path string) []Problem {
	var p problems
	checkCond(&p, path, v, 0)
	return p
}

func checkCond(p *problems, path string, v any, depth int) {
	if depth > 50 {
		p.add(path, "condition nested too deeply")
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		p.add(path, "condition must be a map with one operator, got %s", describe(v))
		return
	}
	op, ops := conditionOperator(m)
	if op == "" {
		if len(ops) == 0 {
			p.add(path, "condition has no operator (e.g. stringEquals, fileExists, and)")
		} else {
			p.add(path, "condition must have exactly one operator, got %s", strings.Join(ops, ", "))
		}
		return
	}
	kind := conditionOps[op]
	allowed := map[string]bool{op: true}
	switch kind {
	case opBinary:
		allowed["value"] = true
		if _, ok := m["value"]; !ok {
			p.add(join(path, "value"), "is required by %s", op)
		}
	case opHash:
		allowed["path"] = true
		if _, ok := m["path"]; !ok {
			p.add(join(path, "path"), "is required by %s", op)
		}
	}
	for k := range m {
		if !allowed[k] {
			p.add(join(path, k), "unexpected key %q in a %s condition", k, op)
		}
	}
	switch kind {
	case opLogical:
		sub := m[op]
		if op == "not" {
			if l, ok := sub.([]any); ok {
				if len(l) != 1 {
					p.add(join(path, op), "not takes one expression, got %d", len(l))
					return
				}
				sub = l[0]
				checkCond(p, join(path, op)+"[0]", sub, depth+1)
				return
			}
			checkCond(p, join(path, op), sub, depth+1)
			return
		}
		l, ok := sub.([]any)
		if !ok || len(l) == 0 {
			p.add(join(path, op), "%s takes a non-empty list of expressions, got %s", op, describe(sub))
			return
		}
		for i, it := range l {
			checkCond(p, fmt.Sprintf("%s[%d]", join(path, op), i), it, depth+1)
		}
	default:
		for _, k := range []string{op, "value", "path"} {
			val, present := m[k]
			if !present || !allowed[k] {
				continue
			}
			s, ok := scalar(val)
			if !ok && val != nil {
				p.add(join(path, k), "must be a string or number, got %s", describe(val))
				continue
			}
			if k == op && op == "patternMatches" && !isExpr(s) {
				if _, err := regexp.Compile(s); err != nil {
					p.add(join(path, k), "invalid regular expression %q: %v", s, err)
				}
			}
		}
	}
}

// EvalCondition evaluates a resolved condition expression.
func EvalCondition(v any) (bool, error) {
	if ps := CheckCondition(v, ""); len(ps) > 0 {
		return false, errProblems("condition", ps)
	}
	return evalCond(v.(map[string]any))
}

func evalCond(m map[string]any) (bool, error) {
	op, _ := conditionOperator(m)
	operand, _ := scalar(m[op])
	value, _ := scalar(m["value"])
	switch op {
	case "and", "or":
		for _, it := range m[op].([]any) {
			r, err := evalCond(it.(map[string]any))
			if err != nil {
				return false, err
			}
			if op == "and" && !r {
				return false, nil
			}
			if op == "or" && r {
				return true, nil
			}
		}
		return op == "and", nil
	case "not":
		sub := m[op]
		if l, ok := sub.([]any); ok {
			sub = l[0]
		}
		r, err := evalCond(sub.(map[string]any))
		return !r, err
	case "stringIsEmpty", "stringIsWhitespace", "binaryExists", "fileExists", "folderExists":
		return Unary(op, operand, ""), nil
	case "fileMD5Equals", "fileSHA1Equals", "fileSHA256Equals", "fileSHA512Equals":
		file, _ := scalar(m["path"])
		return FileHashEquals(op, operand, file)
	}
	return Compare(op, value, operand)
}

// Unary evaluates the one-operand conditions; relative paths are taken
// against workDir. Shared by Assert and the engine's `if`.
func Unary(op, operand, workDir string) bool {
	switch op {
	case "stringIsEmpty":
		return operand == ""
	case "stringIsWhitespace":
		return operand != "" && strings.TrimSpace(operand) == ""
	case "binaryExists":
		_, err := exec.LookPath(operand)
		return err == nil
	case "fileExists":
		fi, err := os.Stat(absPath(&Env{WorkDir: workDir}, operand))
		return err == nil && !fi.IsDir()
	case "folderExists":
		fi, err := os.Stat(absPath(&Env{WorkDir: workDir}, operand))
		return err == nil && fi.IsDir()
	}
	return false
}

// Compare evaluates `value <op> operand` for the string, pattern and
// number comparisons (patternMatches: operand is the pattern). Numbers that
// do not parse compare false.
func Compare(op, value, operand string) (bool, error) {
	switch op {
	case "stringEquals":
		return value == operand, nil
	case "stringLessThan":
		return value < operand, nil
	case "stringLessThanEquals":
		return value <= operand, nil
	case "stringGreaterThan":
		return value > operand, nil
	case "stringGreaterThanEquals":
		return value >= operand, nil
	case "patternMatches":
		re, err := regexp.Compile(operand)
		if err != nil {
			return false, fmt.Errorf("patternMatches: invalid regular expression %q: %w", operand, err)
		}
		return re.MatchString(value), nil
	case "numberEquals", "numberLessThan", "numberLessThanEquals", "numberGreaterThan", "numberGreaterThanEquals":
		a, okA := parseNumber(value)
		b, okB := parseNumber(operand)
		if !okA || !okB {
			return false, nil
		}
		c := a.Cmp(b)
		switch op {
		case "numberEquals":
			return c == 0, nil
		case "numberLessThan":
			return c < 0, nil
		case "numberLessThanEquals":
			return c <= 0, nil
		case "numberGreaterThan":
			return c > 0, nil
		default:
			return c >= 0, nil
		}
	}
	return false, fmt.Errorf("unknown operator %q", op)
}

// FileHashEquals evaluates fileMD5Equals, fileSHA1Equals, fileSHA256Equals
// and fileSHA512Equals: a missing file is false, not an error.
func FileHashEquals(op, want, path string) (bool, error) {
	algo := strings.TrimSuffix(strings.TrimPrefix(op, "file"), "Equals")
	sum, err := fileDigest(path, algo)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	return strings.EqualFold(sum, strings.TrimSpace(want)), nil
}

// describeCond renders a condition compactly for failure messages.
func describeCond(m map[string]any) string {
	op, _ := conditionOperator(m)
	switch conditionOps[op] {
	case opLogical:
		return op + "(…)"
	case opBinary:
		a, _ := scalar(m[op])
		v, _ := scalar(m["value"])
		return fmt.Sprintf("%s %q, value %q", op, a, v)
	case opHash:
		a, _ := scalar(m[op])
		p, _ := scalar(m["path"])
		return fmt.Sprintf("%s %q, path %q", op, a, p)
	}
	a, _ := scalar(m[op])
	return fmt.Sprintf("%s %q", op, a)
}

var numberText = regexp.MustCompile(`^[-+]?([0-9]+[.])?[0-9]+$`)

// parseNumber converts a decimal string to an arbitrary-precision float.
func parseNumber(s string) (*big.Float, bool) {
	s = strings.TrimSpace(s)
	if !numberText.MatchString(s) {
		return nil, false
	}
	f, _, err := big.ParseFloat(s, 10, 256, big.ToNearestEven)
	return f, err == nil
}

// newHash returns a hash for MD5, SHA1, SHA256 or SHA512 (case-insensitive).
func newHash(algo string) (hash.Hash, error) {
	switch strings.ToUpper(strings.ReplaceAll(algo, "-", "")) {
	case "MD5":
		return md5.New(), nil
	case "SHA1":
		return sha1.New(), nil
	case "SHA256":
		return sha256.New(), nil
	case "SHA512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("unsupported algorithm %q (accepted: MD5, SHA1, SHA256, SHA512)", algo)
}

// fileDigest returns the lower-case hex digest of a file.
func fileDigest(path, algo string) (string, error) {
	h, err := newHash(algo)
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ---------------------------------------------------------------------- Assert

type assertModule struct{}

func (assertModule) Name() string { return "Assert" }

func (assertModule) Check(in any) []Problem {
	if in == nil {
		return []Problem{{Msg: "inputs are required: one condition expression"}}
	}
	return CheckCondition(in, "")
}

// Run succeeds iff the condition holds.
func (m assertModule) Run(_ context.Context, _ *Env, in any) (Result, error) {
	if err := errProblems(m.Name(), m.Check(in)); err != nil {
		return Result{}, err
	}
	ok, err := EvalCondition(in)
	if err != nil {
		return Result{}, fmt.Errorf("action Assert: %w", err)
	}
	if !ok {
		return Result{}, fmt.Errorf("action Assert: condition is false: %s", describeCond(in.(map[string]any)))
	}
	return Result{}, nil
}
