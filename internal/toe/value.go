package toe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Kind is the shape of a Value.
type Kind int

// Value kinds.
const (
	KindNull Kind = iota
	KindScalar
	KindList
	KindMap
)

func (k Kind) String() string {
	switch k {
	case KindScalar:
		return "scalar"
	case KindList:
		return "list"
	case KindMap:
		return "map"
	default:
		return "null"
	}
}

// Value is a document node that keeps its source position and, for scalars,
// the exact source text (so an unquoted 0755 stays "0755").
type Value struct {
	Kind   Kind
	Text   string // scalar source text (without quotes)
	Tag    string // resolved YAML tag of scalars: !!str, !!int, !!float, !!bool, !!null
	Quoted bool   // the scalar was quoted in the source
	Items  []*Value
	Keys   []string // map keys, in source order
	Vals   []*Value // map values, parallel to Keys
	KeyPos []*Value // positions of the keys (scalars), parallel to Keys
	Line   int
	Column int
}

// Get returns the map entry for key or nil.
func (v *Value) Get(key string) *Value {
	if v == nil || v.Kind != KindMap {
		return nil
	}
	for i, k := range v.Keys {
		if k == key {
			return v.Vals[i]
		}
	}
	return nil
}

// Has reports whether the map has key.
func (v *Value) Has(key string) bool {
	if v == nil || v.Kind != KindMap {
		return false
	}
	for _, k := range v.Keys {
		if k == key {
			return true
		}
	}
	return false
}

// IsNull reports whether v is absent or an explicit null.
func (v *Value) IsNull() bool { return v == nil || v.Kind == KindNull }

// String renders scalars as their text and other values as compact JSON.
func (v *Value) String() string {
	if v == nil {
		return ""
	}
	if v.Kind == KindScalar {
		return v.Text
	}
	if v.Kind == KindNull {
		return ""
	}
	b, _ := json.Marshal(v.Interface())
	return string(b)
}

// Interface converts the value to plain Go data (map[string]any, []any,
// string, bool, int64, float64, nil) for JSON rendering. Scalars keep their
// type when it is unambiguous; octal-looking integers stay strings.
func (v *Value) Interface() any {
	if v == nil {
		return nil
	}
	switch v.Kind {
	case KindScalar:
		switch v.Tag {
		case "!!bool":
			if b, ok := parseBool(v.Text); ok {
				return b
			}
		case "!!int":
			if !strings.HasPrefix(v.Text, "0") || v.Text == "0" {
				if n, err := strconv.ParseInt(v.Text, 10, 64); err == nil {
					return n
				}
			}
		case "!!float":
			if f, err := strconv.ParseFloat(v.Text, 64); err == nil {
				return f
			}
		}
		return v.Text
	case KindList:
		out := make([]any, len(v.Items))
		for i, it := range v.Items {
			out[i] = it.Interface()
		}
		return out
	case KindMap:
		out := make(map[string]any, len(v.Keys))
		for i, k := range v.Keys {
			out[k] = v.Vals[i].Interface()
		}
		return out
	}
	return nil
}

// Clone returns a deep copy of v.
func (v *Value) Clone() *Value {
	if v == nil {
		return nil
	}
	c := *v
	if v.Items != nil {
		c.Items = make([]*Value, len(v.Items))
		for i, it := range v.Items {
			c.Items[i] = it.Clone()
		}
	}
	if v.Keys != nil {
		c.Keys = append([]string(nil), v.Keys...)
		c.KeyPos = append([]*Value(nil), v.KeyPos...)
		c.Vals = make([]*Value, len(v.Vals))
		for i, it := range v.Vals {
			c.Vals[i] = it.Clone()
		}
	}
	return &c
}

// StringValue builds a scalar string Value (used for synthesised inputs).
func StringValue(s string) *Value {
	return &Value{Kind: KindScalar, Tag: "!!str", Text: s, Quoted: true}
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// parseTree parses YAML (or JSON) into a Value tree. Only a single document
// is allowed.
func parseTree(file string, data []byte) (*Value, error) {
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, &DocumentError{File: file, Msg: "document contains a NUL byte"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	err := dec.Decode(&root)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &DocumentError{File: file, Line: 1, Column: 1, Msg: "document is empty"}
		}
		trimmed := bytes.TrimSpace(data)
		if len(trimmed) > 0 && trimmed[0] == '{' {
			if v, jerr := parseJSONTree(data); jerr == nil {
				return v, nil
			}
		}
		return nil, yamlError(file, err, data)
	}
	var extra yaml.Node
	if err2 := dec.Decode(&extra); err2 == nil {
		return nil, &DocumentError{File: file, Line: extra.Line, Column: extra.Column,
			Msg: "more than one YAML document in the stream; a component document is a single mapping"}
	} else if !errors.Is(err2, io.EOF) {
		return nil, yamlError(file, err2, data)
	}
	c := &converter{}
	v, err := c.convert(&root, 0)
	if err != nil {
		return nil, &DocumentError{File: file, Msg: err.Error()}
	}
	return v, nil
}

// yamlLine splits a yaml.v3 message such as
// "yaml: line 12: did not find expected key" into line and text.
func yamlLine(msg string) (int, string) {
	rest, ok := strings.CutPrefix(msg, "yaml: line ")
	if !ok {
		return 0, strings.TrimPrefix(msg, "yaml: ")
	}
	num, tail, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, msg
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return 0, msg
	}
	return n, strings.TrimSpace(tail)
}

func yamlError(file string, err error, data []byte) *DocumentError {
	line, msg := yamlLine(err.Error())
	col := 0
	if line == 0 {
		// yaml.v3 reports unknown aliases without a position; find it.
		if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
			name, _, _ = strings.Cut(name, "'")
			if i := bytes.Index(data, []byte("*"+name)); i >= 0 {
				line = bytes.Count(data[:i], []byte("\n")) + 1
				col = i - bytes.LastIndexByte(data[:i], '\n')
				msg += " (an unquoted * starts a YAML alias; quote the value)"
			}
		}
	}
	return &DocumentError{File: file, Line: line, Column: col, Msg: "invalid YAML: " + msg}
}

const maxDepth = 200

// converter turns yaml.Node trees into Values, bounding the size that
// alias expansion can produce.
type converter struct{ nodes int }

const maxNodes = 1 << 20

func (c *converter) convert(n *yaml.Node, depth int) (*Value, error) {
	c.nodes++
	if c.nodes > maxNodes {
		return nil, fmt.Errorf("line %d: document too large (more than %d nodes after alias expansion)", n.Line, maxNodes)
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("line %d: document nested deeper than %d levels", n.Line, maxDepth)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return &Value{Kind: KindNull, Line: n.Line, Column: n.Column}, nil
		}
		return c.convert(n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, fmt.Errorf("line %d: unknown alias", n.Line)
		}
		v, err := c.convert(n.Alias, depth+1)
		if err != nil {
			return nil, err
		}
		v.Line, v.Column = n.Line, n.Column
		return v, nil
	case yaml.ScalarNode:
		tag := n.ShortTag()
		if tag == "!!null" {
			return &Value{Kind: KindNull, Text: n.Value, Tag: tag, Line: n.Line, Column: n.Column}, nil
		}
		return &Value{Kind: KindScalar, Text: n.Value, Tag: tag,
			Quoted: n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0,
			Line:   n.Line, Column: n.Column}, nil
	case yaml.SequenceNode:
		v := &Value{Kind: KindList, Line: n.Line, Column: n.Column, Items: make([]*Value, 0, len(n.Content))}
		for _, item := range n.Content {
			cv, err := c.convert(item, depth+1)
			if err != nil {
				return nil, err
			}
			v.Items = append(v.Items, cv)
		}
		return v, nil
	case yaml.MappingNode:
		v := &Value{Kind: KindMap, Line: n.Line, Column: n.Column}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kv, err := c.convert(k, depth+1)
			if err != nil {
				return nil, err
			}
			if kv.Kind == KindList || kv.Kind == KindMap {
				return nil, fmt.Errorf("line %d: complex mapping keys are not supported", k.Line)
			}
			vv, err := c.convert(val, depth+1)
			if err != nil {
				return nil, err
			}
			v.Keys = append(v.Keys, kv.Text)
			v.KeyPos = append(v.KeyPos, kv)
			v.Vals = append(v.Vals, vv)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node kind %d", n.Line, n.Kind)
}

// parseJSONTree builds a Value tree from strict JSON, computing positions
// from byte offsets (used when the YAML parser refuses JSON, e.g. because
// of tab indentation).
func parseJSONTree(data []byte) (*Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	pos := func(off int64) (int, int) {
		line, col := 1, 1
		for i := int64(0); i < off && i < int64(len(data)); i++ {
			if data[i] == '\n' {
				line++
				col = 1
			} else {
				col++
			}
		}
		return line, col
	}
	var parse func(depth int) (*Value, error)
	parse = func(depth int) (*Value, error) {
		if depth > maxDepth {
			return nil, errors.New("JSON nested too deeply")
		}
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		// InputOffset points just after the previous token; skip separators.
		for off < int64(len(data)) && strings.ContainsRune(" \t\r\n,:", rune(data[off])) {
			off++
		}
		line, col := pos(off)
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				v := &Value{Kind: KindMap, Line: line, Column: col}
				for dec.More() {
					koff := dec.InputOffset()
					kt, err := dec.Token()
					if err != nil {
						return nil, err
					}
					for koff < int64(len(data)) && strings.ContainsRune(" \t\r\n,:", rune(data[koff])) {
						koff++
					}
					ks, _ := kt.(string)
					kl, kc := pos(koff)
					val, err := parse(depth + 1)
					if err != nil {
						return nil, err
					}
					v.Keys = append(v.Keys, ks)
					v.KeyPos = append(v.KeyPos, &Value{Kind: KindScalar, Text: ks, Tag: "!!str", Line: kl, Column: kc})
					v.Vals = append(v.Vals, val)
				}
				if _, err := dec.Token(); err != nil {
					return nil, err
				}
				return v, nil
			case '[':
				v := &Value{Kind: KindList, Line: line, Column: col}
				for dec.More() {
					it, err := parse(depth + 1)
					if err != nil {
						return nil, err
					}
					v.Items = append(v.Items, it)
				}
				if _, err := dec.Token(); err != nil {
					return nil, err
				}
				return v, nil
			}
		case string:
			return &Value{Kind: KindScalar, Text: t, Tag: "!!str", Quoted: true, Line: line, Column: col}, nil
		case json.Number:
			tag := "!!int"
			if strings.ContainsAny(t.String(), ".eE") {
				tag = "!!float"
			}
			return &Value{Kind: KindScalar, Text: t.String(), Tag: tag, Line: line, Column: col}, nil
		case bool:
			return &Value{Kind: KindScalar, Text: strconv.FormatBool(t), Tag: "!!bool", Line: line, Column: col}, nil
		case nil:
			return &Value{Kind: KindNull, Tag: "!!null", Line: line, Column: col}, nil
		}
		return nil, fmt.Errorf("unexpected JSON token %v", tok)
	}
	v, err := parse(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after JSON document")
	}
	return v, nil
}

// decodeInputs converts an inputs Value to the module encoding:
// map[string]any, []any, string (scalar source text), nil.
func decodeInputs(v *Value) any {
	if v == nil {
		return nil
	}
	switch v.Kind {
	case KindScalar:
		return v.Text
	case KindList:
		out := make([]any, len(v.Items))
		for i, it := range v.Items {
			out[i] = decodeInputs(it)
		}
		return out
	case KindMap:
		out := make(map[string]any, len(v.Keys))
		for i, k := range v.Keys {
			out[k] = decodeInputs(v.Vals[i])
		}
		return out
	}
	return nil
}
