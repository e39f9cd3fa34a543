package service

import (
	"strings"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/toe"
)

// documentInfo is what the service needs to know about a component
// document at create time.
type documentInfo struct {
	Type       gen.ComponentType
	Parameters []gen.ComponentParameterDetail
}

// inspectDocument parses a component document (YAML or JSON) and validates
// it as `awstoe validate` does; errors name the line, step and field.
func inspectDocument(name string, data []byte) (*documentInfo, error) {
	doc, err := toe.ParseDocument(name, data)
	if err != nil {
		return nil, err
	}
	// Actions, their inputs and every {{ }} expression, as awstoe validate.
	if err := toe.Validate(doc); err != nil {
		return nil, err
	}
	info := &documentInfo{Type: gen.ComponentTypeBUILD}
	onlyTest := len(doc.Phases) > 0
	for _, p := range doc.Phases {
		if p.Name != "test" {
			onlyTest = false
		}
	}
	if onlyTest {
		info.Type = gen.ComponentTypeTEST
	}
	for _, p := range doc.Parameters {
		d := gen.ComponentParameterDetail{Name: p.Name, Type: parameterType(p.Type), Description: p.Description}
		if p.Default != nil {
			d.DefaultValue = []string{*p.Default}
		}
		info.Parameters = append(info.Parameters, d)
	}
	return info, nil
}

// parameterType renders a document parameter type as the API spells it.
func parameterType(t string) string {
	switch strings.ToLower(t) {
	case "integer":
		return "Integer"
	case "boolean":
		return "Boolean"
	case "stringlist":
		return "StringList"
	default:
		return "String"
	}
}
