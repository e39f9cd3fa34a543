package module

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// kind is the expected type of one input field.
type kind int

const (
	kString     kind = iota // any scalar, used as text
	kBool                   // true/false (YAML boolean or string)
	kInt                    // non-negative integer
	kStringList             // list of scalars
	kParamList              // list of {name, value} maps (ExecuteDocument)
	kStringMap              // map of scalars (InstallMSI properties)
	kPerm                   // octal permissions text
	kOwner                  // user or group name or numeric id
	kEncoding               // text encoding name
	kAny                    // scalar, list or map (SetRegistry value)
)

func (k kind) String() string {
	switch k {
	case kBool:
		return "a boolean (true or false)"
	case kInt:
		return "a non-negative integer"
	case kStringList:
		return "a list of strings"
	case kParamList:
		return "a list of {name, value} maps"
	case kStringMap:
		return "a map of strings"
	case kPerm:
		return "octal permissions such as \"0755\""
	case kOwner:
		return "a user or group name or numeric id"
	case kEncoding:
		return "an encoding name"
	case kAny:
		return "a value"
	}
	return "a string"
}

// field describes one input key.
type field struct {
	name     string
	kind     kind
	required bool
}

// spec is the set of keys a map (or list item) accepts.
type spec []field

func (s spec) lookup(name string) (field, bool) {
	for _, f := range s {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

// problems accumulates Problems.
type problems []Problem

func (p *problems) add(fieldPath, format string, args ...any) {
	*p = append(*p, Problem{Field: fieldPath, Msg: fmt.Sprintf(format, args...)})
}

// join builds a field path: join("", "path") = "path", join("[0]", "path") = "[0].path".
func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// isExpr reports whether s contains a {{ }} expression whose value is only
// known at run time.
func isExpr(s string) bool {
	i := strings.Index(s, "{{")
	return i >= 0 && strings.Contains(s[i:], "}}")
}

// scalar returns the text of a scalar input. Besides the contract encoding
// (string) it tolerates already-typed Go values.
func scalar(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case uint64:
		return strconv.FormatUint(t, 10), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case json.Number:
		return t.String(), true
	}
	return "", false
}

// describe names the shape of a value for messages.
func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "a map"
	case []any:
		return "a list"
	default:
		if s, ok := scalar(t); ok {
			return strconv.Quote(s)
		}
		return fmt.Sprintf("%T", v)
	}
}

// parseBool accepts true/false in any case.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("must be true or false, got %q", s)
}

// parseNonNegInt parses a non-negative decimal integer.
func parseNonNegInt(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("must be a non-negative integer, got %q", s)
	}
	return n, nil
}

// checkValue validates one value against a kind and reports problems at path.
func checkValue(p *problems, path string, k kind, v any) {
	if k == kAny {
		return
	}
	switch k {
	case kStringList:
		list, ok := v.([]any)
		if !ok {
			p.add(path, "must be %s, got %s", k, describe(v))
			return
		}
		for i, it := range list {
			if _, ok := scalar(it); !ok {
				p.add(fmt.Sprintf("%s[%d]", path, i), "must be a string, got %s", describe(it))
			}
		}
		return
	case kParamList:
		list, ok := v.([]any)
		if !ok {
			p.add(path, "must be %s, got %s", k, describe(v))
			return
		}
		ps := spec{{"name", kString, true}, {"value", kString, true}}
		for i, it := range list {
			checkMap(p, fmt.Sprintf("%s[%d]", path, i), it, ps)
		}
		return
	case kStringMap:
		m, ok := v.(map[string]any)
		if !ok {
			p.add(path, "must be %s, got %s", k, describe(v))
			return
		}
		for key, val := range m {
			if _, ok := scalar(val); !ok {
				p.add(join(path, key), "must be a string, got %s", describe(val))
			}
		}
		return
	}
	s, ok := scalar(v)
	if !ok {
		p.add(path, "must be %s, got %s", k, describe(v))
		return
	}
	if isExpr(s) {
		return
	}
	var err error
	switch k {
	case kBool:
		_, err = parseBool(s)
	case kInt:
		_, err = parseNonNegInt(s)
	case kPerm:
		_, err = ParsePermissions(s)
	case kOwner:
		err = checkOwnerSyntax(s)
	case kEncoding:
		_, err = lookupEncoding(s)
	}
	if err != nil {
		p.add(path, "%v", err)
	}
}

// checkMap validates a map against a spec: presence of required keys,
// unknown keys and value types. It returns the map (nil if v is not one).
func checkMap(p *problems, path string, v any, s spec) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		what := "inputs"
		if path != "" {
			what = "value"
		}
		p.add(path, "%s must be a map, got %s", what, describe(v))
		return nil
	}
	for _, f := range s {
		val, present := m[f.name]
		if !present || val == nil {
			if f.required {
				p.add(join(path, f.name), "is required")
			}
			continue
		}
		checkValue(p, join(path, f.name), f.kind, val)
	}
	for key := range m {
		if _, ok := s.lookup(key); !ok {
			p.add(join(path, key), "unknown input %q (accepted: %s)", key, s.names())
		}
	}
	return m
}

func (s spec) names() string {
	n := make([]string, len(s))
	for i, f := range s {
		n[i] = f.name
	}
	return strings.Join(n, ", ")
}

// checkItems validates list-form inputs: a non-empty list of maps, each
// checked against s and then by extra (which may be nil).
func checkItems(in any, s spec, extra func(p *problems, path string, item map[string]any)) []Problem {
	var p problems
	list, ok := in.([]any)
	if !ok {
		if in == nil {
			p.add("", "inputs are required: a list of items with %s", s.names())
		} else {
			p.add("", "inputs must be a list of items, got %s", describe(in))
		}
		return p
	}
	if len(list) == 0 {
		p.add("", "inputs must contain at least one item")
	}
	for i, it := range list {
		path := fmt.Sprintf("[%d]", i)
		m := checkMap(&p, path, it, s)
		if m != nil && extra != nil {
			extra(&p, path, m)
		}
	}
	return p
}

// checkSingle validates map-form inputs. A nil input is accepted when no
// field is required.
func checkSingle(in any, s spec, extra func(p *problems, m map[string]any)) []Problem {
	var p problems
	if in == nil {
		for _, f := range s {
			if f.required {
				p.add("", "inputs are required (%s)", f.name)
				return p
			}
		}
		if extra != nil {
			extra(&p, map[string]any{})
		}
		return p
	}
	m := checkMap(&p, "", in, s)
	if m != nil && extra != nil {
		extra(&p, m)
	}
	return p
}

// errProblems turns Check problems into an error for Run.
func errProblems(name string, ps []Problem) error {
	if len(ps) == 0 {
		return nil
	}
	msgs := make([]string, len(ps))
	for i, pr := range ps {
		msgs[i] = pr.String()
	}
	return fmt.Errorf("%s: invalid inputs: %s", name, strings.Join(msgs, "; "))
}

// values gives typed access to one (already checked, resolved) input map.
type values map[string]any

func (v values) has(key string) bool { return v[key] != nil }

func (v values) str(key string) string {
	s, _ := scalar(v[key])
	return s
}

func (v values) boolean(key string, def bool) (bool, error) {
	if !v.has(key) {
		return def, nil
	}
	b, err := parseBool(v.str(key))
	if err != nil {
		return false, fmt.Errorf("%s: %w", key, err)
	}
	return b, nil
}

func (v values) integer(key string, def int) (int, error) {
	if !v.has(key) {
		return def, nil
	}
	n, err := parseNonNegInt(v.str(key))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return n, nil
}

func (v values) strings(key string) []string {
	list, _ := v[key].([]any)
	out := make([]string, 0, len(list))
	for _, it := range list {
		s, _ := scalar(it)
		out = append(out, s)
	}
	return out
}

// items returns list-form inputs as values.
func items(in any) ([]values, error) {
	list, ok := in.([]any)
	if !ok {
		return nil, errors.New("inputs must be a list")
	}
	out := make([]values, len(list))
	for i, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("inputs[%d] must be a map", i)
		}
		out[i] = m
	}
	return out, nil
}

// single returns map-form inputs as values (nil inputs = empty map).
func single(in any) (values, error) {
	if in == nil {
		return values{}, nil
	}
	m, ok := in.(map[string]any)
	if !ok {
		return nil, errors.New("inputs must be a map")
	}
	return m, nil
}
