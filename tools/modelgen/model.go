package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// Model is the stripped API model: everything the generator and the server
// need, without documentation text.
type Model struct {
	Metadata   map[string]any        `json:"metadata"`
	Operations map[string]*Operation `json:"operations"`
	Shapes     map[string]*Shape     `json:"shapes"`
	Pagination map[string]*Paginator `json:"pagination"`
}

// Operation is one API operation.
type Operation struct {
	Name string `json:"name"`
	HTTP struct {
		Method     string `json:"method"`
		RequestURI string `json:"requestUri"`
		Code       int    `json:"responseCode,omitempty"`
	} `json:"http"`
	Input  *ShapeRef   `json:"input,omitempty"`
	Output *ShapeRef   `json:"output,omitempty"`
	Errors []*ShapeRef `json:"errors,omitempty"`
}

// ShapeRef points at a shape, with member-level traits.
type ShapeRef struct {
	Shape            string `json:"shape"`
	Location         string `json:"location,omitempty"`
	LocationName     string `json:"locationName,omitempty"`
	IdempotencyToken bool   `json:"idempotencyToken,omitempty"`
	Box              bool   `json:"box,omitempty"`
}

// Shape is one model shape with its constraints.
type Shape struct {
	Type      string               `json:"type"`
	Required  []string             `json:"required,omitempty"`
	Members   map[string]*ShapeRef `json:"members,omitempty"`
	Member    *ShapeRef            `json:"member,omitempty"`
	Key       *ShapeRef            `json:"key,omitempty"`
	Value     *ShapeRef            `json:"value,omitempty"`
	Min       *float64             `json:"min,omitempty"`
	Max       *float64             `json:"max,omitempty"`
	Pattern   string               `json:"pattern,omitempty"`
	Enum      []string             `json:"enum,omitempty"`
	Exception bool                 `json:"exception,omitempty"`
	Error     *struct {
		HTTPStatusCode int  `json:"httpStatusCode"`
		SenderFault    bool `json:"senderFault,omitempty"`
	} `json:"error,omitempty"`
	Fault bool `json:"fault,omitempty"`

	// memberOrder keeps the model's member order (JSON objects lose it).
	MemberOrder []string `json:"memberOrder,omitempty"`
}

// Paginator describes a paginated operation.
type Paginator struct {
	InputToken  string `json:"input_token"`
	OutputToken string `json:"output_token"`
	LimitKey    string `json:"limit_key,omitempty"`
	ResultKey   string `json:"result_key"`
}

func loadModel(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse model %s: %w", path, err)
	}
	for _, s := range m.Shapes {
		if s.Type == "structure" && len(s.MemberOrder) != len(s.Members) {
			return nil, fmt.Errorf("model %s: memberOrder out of step with members", path)
		}
	}
	return &m, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
