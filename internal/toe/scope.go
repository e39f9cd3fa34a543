package toe

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goldsmith/goldsmith/internal/osrelease"
)

// chainEntry keeps what later steps can reference of an earlier step.
type chainEntry struct {
	Inputs  any            `json:"inputs"`
	Outputs map[string]any `json:"outputs"`
	Status  Status         `json:"status"`
}

// loopFrame is the current loop iteration.
type loopFrame struct {
	name  string
	index int
	value string
}

// chainRecord is one resolved expression, written to chaining.json.
type chainRecord struct {
	Document   string `json:"document"`
	Phase      string `json:"phase"`
	Step       string `json:"step"`
	Iteration  *int   `json:"iteration,omitempty"`
	Expression string `json:"expression"`
	Value      string `json:"value"`
}

// resolver substitutes expressions for one step (and loop iteration).
type resolver struct {
	r     *runner
	dr    *docRun
	phase string
	step  string
	loop  *loopFrame
}

// maskedValue replaces secret values in logs and chaining.json.
const maskedValue = "********"

func (rs *resolver) str(ctx context.Context, s string) (string, error) {
	return substitute(s, func(e Expr) (string, bool, error) {
		v, ok, secret, err := rs.expr(ctx, e)
		if err != nil || !ok {
			return v, ok, err
		}
		rec := chainRecord{Document: rs.dr.doc.File, Phase: rs.phase, Step: rs.step, Expression: e.Raw, Value: v}
		if secret {
			rec.Value = maskedValue
			rs.r.addSecret(v)
		}
		if rs.loop != nil {
			i := rs.loop.index
			rec.Iteration = &i
		}
		rs.r.recordChain(rec)
		return v, true, nil
	})
}

// value resolves a scalar Value (nil and null resolve to "").
func (rs *resolver) value(ctx context.Context, v *Value) (string, error) {
	if v == nil || v.Kind == KindNull {
		return "", nil
	}
	if v.Kind != KindScalar {
		return "", fmt.Errorf("line %d: expected a scalar, found a %s", v.Line, v.Kind)
	}
	return rs.str(ctx, v.Text)
}

// inputs resolves a step's inputs into the module encoding.
func (rs *resolver) inputs(ctx context.Context, v *Value) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch v.Kind {
	case KindScalar:
		return rs.str(ctx, v.Text)
	case KindList:
		out := make([]any, len(v.Items))
		for i, it := range v.Items {
			x, err := rs.inputs(ctx, it)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case KindMap:
		out := make(map[string]any, len(v.Keys))
		for i, k := range v.Keys {
			x, err := rs.inputs(ctx, v.Vals[i])
			if err != nil {
				return nil, err
			}
			out[k] = x
		}
		return out, nil
	}
	return nil, nil
}

// expr resolves one expression. ok=false leaves it verbatim; secret marks
// values that must not be logged.
func (rs *resolver) expr(ctx context.Context, e Expr) (val string, ok, secret bool, err error) {
	o := &rs.r.opts
	switch e.Kind {
	case ExprVariable:
		v, found := rs.dr.vars[e.Name]
		if !found {
			return "", false, false, fmt.Errorf("%s: unknown parameter or constant %q", e.Raw, e.Name)
		}
		return v, true, false, nil
	case ExprLoop:
		if rs.loop == nil || (e.Name != "loop" && e.Name != rs.loop.name) {
			return "", false, false, nil // loop variables outside their loop stay verbatim
		}
		if e.LoopField == "index" {
			return strconv.Itoa(rs.loop.index), true, false, nil
		}
		return rs.loop.value, true, false, nil
	case ExprChain:
		v, err := rs.chain(e)
		return v, err == nil, false, err
	case ExprEnv:
		v, _ := o.LookupEnv(e.Name)
		return v, true, false, nil
	case ExprContext:
		return rs.context(e.Name), true, false, nil
	case ExprSSM:
		name := e.Name
		if e.Resolve {
			n, found := rs.dr.vars[e.Name]
			if !found {
				return "", false, false, fmt.Errorf("%s: unknown parameter or constant %q", e.Raw, e.Name)
			}
			name = n
		}
		if o.SSM == nil {
			return "", false, false, fmt.Errorf("%s: SSM parameter resolution is not configured", e.Raw)
		}
		v, err := o.SSM(ctx, name)
		if err != nil {
			return "", false, false, fmt.Errorf("%s: resolving SSM parameter %s: %w", e.Raw, name, err)
		}
		if strings.ContainsAny(v, "\r\n") {
			return "", false, false, fmt.Errorf("%s: SSM parameter %s has a multi-line value", e.Raw, name)
		}
		return v, true, true, nil
	case ExprIMDS:
		if o.IMDS == nil {
			return "", false, false, fmt.Errorf("%s: instance metadata is not available", e.Raw)
		}
		v, err := o.IMDS(ctx, e.Name)
		if err != nil {
			return "", false, false, fmt.Errorf("%s: reading instance metadata %s: %w", e.Raw, e.Name, err)
		}
		return v, true, false, nil
	}
	return "", false, false, fmt.Errorf("%s: unsupported expression", e.Raw)
}

func (rs *resolver) chain(e Expr) (string, error) {
	ent, found := rs.dr.chain[e.Phase+"."+e.Step]
	if !found {
		return "", fmt.Errorf("%s: step %s.%s has not run in this execution", e.Raw, e.Phase, e.Step)
	}
	var cur any
	if e.Field == "outputs" {
		cur = ent.Outputs
	} else {
		cur = ent.Inputs
		if e.Index >= 0 {
			list, isList := cur.([]any)
			if !isList || e.Index >= len(list) {
				return "", fmt.Errorf("%s: step %s.%s has no input item %d", e.Raw, e.Phase, e.Step, e.Index)
			}
			cur = list[e.Index]
		}
	}
	if e.Key != "" {
		for _, k := range strings.Split(e.Key, ".") {
			m, isMap := cur.(map[string]any)
			v, has := m[k]
			if !isMap || !has {
				if ent.Status != StatusSuccess && e.Field == "outputs" {
					return "", nil // a skipped or failed step may lack outputs: empty
				}
				return "", fmt.Errorf("%s: step %s.%s has no %s %q", e.Raw, e.Phase, e.Step, strings.TrimSuffix(e.Field, "s"), e.Key)
			}
			cur = v
		}
	}
	return renderValue(cur), nil
}

// renderValue turns an output or input value into substitution text.
func renderValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case fmt.Stringer:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func (rs *resolver) context(key string) string {
	o := &rs.r.opts
	now := o.Now().UTC()
	switch key {
	case "executionId":
		return rs.r.exec.ExecutionID
	case "accountId":
		return o.AccountID
	case "region":
		return o.Region
	case "osPlatform":
		return runtime.GOOS
	case "osName", "osVersion":
		return osRelease(key)
	case "date":
		return now.Format("2006-01-02")
	case "dateTime":
		return now.Format(time.RFC3339)
	case "uuid":
		return newUUID()
	case "hostname":
		h, _ := os.Hostname()
		return h
	case "phase":
		return rs.phase
	case "step":
		return rs.step
	}
	return ""
}

// osRelease reads ID (osName) or VERSION_ID (osVersion) from
// /etc/os-release.
func osRelease(key string) string {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return ""
	}
	field := "ID"
	if key == "osVersion" {
		field = "VERSION_ID"
	}
	return osrelease.Parse(data)[field]
}

// joinOutputs merges the outputs of successful loop iterations: values of
// the same key are joined with newlines, in iteration order.
func joinOutputs(outs []map[string]any) map[string]any {
	if len(outs) == 0 {
		return map[string]any{}
	}
	if len(outs) == 1 {
		return outs[0]
	}
	keys := map[string]bool{}
	for _, o := range outs {
		for k := range o {
			keys[k] = true
		}
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	res := make(map[string]any, len(names))
	for _, k := range names {
		var parts []string
		for _, o := range outs {
			if v, ok := o[k]; ok {
				parts = append(parts, renderValue(v))
			}
		}
		res[k] = strings.Join(parts, "\n")
	}
	return res
}
