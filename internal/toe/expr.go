package toe

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ExprKind classifies a {{ }} expression.
type ExprKind int

// Expression kinds.
const (
	ExprVariable ExprKind = iota + 1 // parameter or constant: {{ Name }}
	ExprChain                        // {{ phase.step.outputs.key }} / {{ phase.step.inputs[i].key }}
	ExprLoop                         // {{ loop.value }} / {{ name.index }}
	ExprSSM                          // {{ aws:ssm:/path }} / {{ aws:ssm:resolve(Param) }}
	ExprIMDS                         // {{ aws:imds:path }}
	ExprEnv                          // {{ env:VAR }}
	ExprContext                      // {{ context:key }}
)

// Expr is one parsed {{ }} expression.
type Expr struct {
	Raw        string // the expression including braces, as written
	Start, End int    // byte offsets of Raw in the containing string
	Kind       ExprKind
	Name       string // variable, loop name, env var, SSM path, IMDS path, context key, or resolve() parameter
	Resolve    bool   // SSM: the name is a parameter/constant holding the SSM parameter name
	Phase      string // chaining
	Step       string // chaining
	Field      string // chaining: "inputs" or "outputs"
	Index      int    // chaining: inputs[Index]; -1 when absent
	Key        string // chaining: key path after outputs./inputs[i]. (dot-separated, may be empty for inputs)
	LoopField  string // loop: "index" or "value"
}

var (
	identRe    = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	inputsRe   = regexp.MustCompile(`^inputs(?:\[(\d+)\])?$`)
	ssmResolve = regexp.MustCompile(`^resolve\(\s*([A-Za-z0-9_-]+)\s*\)$`)
	// ContextKeys are the keys accepted in {{ context:<key> }}.
	contextKeys = map[string]bool{"executionId": true, "accountId": true, "region": true, "osPlatform": true,
		"osName": true, "osVersion": true, "date": true, "dateTime": true, "uuid": true, "hostname": true,
		"phase": true, "step": true}
)

// ParseExprs finds and parses every {{ }} expression in s.
func ParseExprs(s string) ([]Expr, error) {
	var out []Expr
	off := 0
	for {
		i := strings.Index(s[off:], "{{")
		if i < 0 {
			return out, nil
		}
		start := off + i
		j := strings.Index(s[start+2:], "}}")
		if j < 0 {
			return out, fmt.Errorf("unterminated expression %q (missing }})", clip(s[start:]))
		}
		end := start + 2 + j + 2
		e, err := parseExpr(s[start:end])
		if err != nil {
			return out, err
		}
		e.Start, e.End = start, end
		out = append(out, e)
		off = end
	}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// parseExpr parses one "{{ body }}".
func parseExpr(raw string) (Expr, error) {
	body := strings.TrimSpace(raw[2 : len(raw)-2])
	e := Expr{Raw: raw, Index: -1}
	bad := func(format string, args ...any) (Expr, error) {
		return e, fmt.Errorf("invalid expression %s: %s", raw, fmt.Sprintf(format, args...))
	}
	if body == "" {
		return bad("empty expression")
	}
	switch {
	case strings.HasPrefix(body, "aws:ssm:"):
		e.Kind = ExprSSM
		rest := strings.TrimSpace(strings.TrimPrefix(body, "aws:ssm:"))
		if m := ssmResolve.FindStringSubmatch(rest); m != nil {
			e.Name, e.Resolve = m[1], true
		} else {
			e.Name = rest
		}
		if e.Name == "" {
			return bad("missing SSM parameter name")
		}
		return e, nil
	case strings.HasPrefix(body, "aws:imds:"):
		e.Kind, e.Name = ExprIMDS, strings.TrimSpace(strings.TrimPrefix(body, "aws:imds:"))
		if e.Name == "" {
			return bad("missing metadata path")
		}
		if strings.HasPrefix(strings.TrimPrefix(e.Name, "/"), "iam/") || strings.HasPrefix(strings.TrimPrefix(e.Name, "/"), "identity-credentials/") {
			return bad("instance credentials cannot be read through aws:imds")
		}
		return e, nil
	case strings.HasPrefix(body, "env:"):
		e.Kind, e.Name = ExprEnv, strings.TrimSpace(strings.TrimPrefix(body, "env:"))
		if !identRe.MatchString(e.Name) {
			return bad("invalid environment variable name %q", e.Name)
		}
		return e, nil
	case strings.HasPrefix(body, "context:"):
		e.Kind, e.Name = ExprContext, strings.TrimSpace(strings.TrimPrefix(body, "context:"))
		if !contextKeys[e.Name] {
			return bad("unknown context key %q", e.Name)
		}
		return e, nil
	}
	parts := strings.Split(body, ".")
	for _, p := range parts {
		if p == "" {
			return bad("empty name segment")
		}
	}
	switch {
	case len(parts) == 1:
		if !identRe.MatchString(body) {
			return bad("%q is not a variable name", body)
		}
		e.Kind, e.Name = ExprVariable, body
	case len(parts) == 2:
		if !identRe.MatchString(parts[0]) || (parts[1] != "index" && parts[1] != "value") {
			return bad("expected <loop>.index or <loop>.value, or <phase>.<step>.outputs.<name>")
		}
		e.Kind, e.Name, e.LoopField = ExprLoop, parts[0], parts[1]
	default:
		if !identRe.MatchString(parts[0]) || !identRe.MatchString(parts[1]) {
			return bad("expected <phase>.<step>.outputs.<name> or <phase>.<step>.inputs[<i>].<name>")
		}
		e.Kind, e.Phase, e.Step = ExprChain, parts[0], parts[1]
		switch m := inputsRe.FindStringSubmatch(parts[2]); {
		case parts[2] == "outputs":
			e.Field = "outputs"
			if len(parts) < 4 {
				return bad("outputs needs a name, e.g. outputs.stdout")
			}
		case m != nil:
			e.Field = "inputs"
			if m[1] != "" {
				n, err := strconv.Atoi(m[1])
				if err != nil {
					return bad("invalid index %q", m[1])
				}
				e.Index = n
			}
		default:
			return bad("the third part must be outputs or inputs[<i>], found %q", parts[2])
		}
		e.Key = strings.Join(parts[3:], ".")
	}
	return e, nil
}

// substitute replaces every expression in s using resolve. resolve returns
// ok=false to leave an expression verbatim. Substituted text is never
// re-scanned.
func substitute(s string, resolve func(e Expr) (string, bool, error)) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	exprs, err := ParseExprs(s)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	last := 0
	for _, e := range exprs {
		b.WriteString(s[last:e.Start])
		v, ok, err := resolve(e)
		if err != nil {
			return "", err
		}
		if ok {
			b.WriteString(v)
		} else {
			b.WriteString(e.Raw)
		}
		last = e.End
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

// walkStrings calls fn for every scalar in v (map keys excluded) with its
// field path relative to v.
func walkStrings(v *Value, path string, fn func(v *Value, path string)) {
	if v == nil {
		return
	}
	switch v.Kind {
	case KindScalar:
		fn(v, path)
	case KindList:
		for i, it := range v.Items {
			walkStrings(it, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case KindMap:
		for i, k := range v.Keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			walkStrings(v.Vals[i], p, fn)
		}
	}
}
