package toe

import (
	"maps"
	"slices"
)

// RunConfig is the AWSTOE `run --config` file: goldsmith toe reads it, and
// the container and VM builds write it for the components they stage.
type RunConfig struct {
	Documents      []ConfigDocument `json:"documents"`
	ExecutionID    string           `json:"executionId,omitempty"`
	ExecutonID     string           `json:"executonId,omitempty"` // misspelt in an AWS example; read too
	LogDirectory   string           `json:"logDirectory,omitempty"`
	StateDirectory string           `json:"stateDirectory,omitempty"`
	Parameters     []NameValue      `json:"parameters,omitempty"`
	Phases         string           `json:"phases,omitempty"`
	Trace          bool             `json:"trace,omitempty"`
}

// ConfigDocument is one document of a RunConfig and its parameters.
type ConfigDocument struct {
	Path       string      `json:"path"`
	Parameters []NameValue `json:"parameters,omitempty"`
}

// NameValue is one parameter.
type NameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// NewConfigDocument is the document at path with params, in name order.
func NewConfigDocument(path string, params map[string]string) ConfigDocument {
	d := ConfigDocument{Path: path}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		d.Parameters = append(d.Parameters, NameValue{Name: k, Value: params[k]})
	}
	return d
}

// ParameterMap is nv as a map (a later name wins).
func ParameterMap(nv []NameValue) map[string]string {
	m := make(map[string]string, len(nv))
	for _, p := range nv {
		m[p.Name] = p.Value
	}
	return m
}
