package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// strip reads botocore's service-2.json and paginators-1.json and writes the
// stripped model: no documentation, member order kept.
func strip(servicePath, paginatorsPath, outPath string) error {
	raw, err := os.ReadFile(servicePath)
	if err != nil {
		return fmt.Errorf("read %s: %w", servicePath, err)
	}
	var m Model
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("parse %s: %w", servicePath, err)
	}
	orders, err := memberOrders(raw)
	if err != nil {
		return err
	}
	for name, s := range m.Shapes {
		if s.Type == "structure" {
			s.MemberOrder = orders[name]
		}
	}
	meta := map[string]any{}
	for _, k := range []string{"apiVersion", "endpointPrefix", "protocol", "serviceId", "signatureVersion", "signingName", "uid"} {
		if v, ok := m.Metadata[k]; ok {
			meta[k] = v
		}
	}
	m.Metadata = meta

	praw, err := os.ReadFile(paginatorsPath)
	if err != nil {
		return fmt.Errorf("read %s: %w", paginatorsPath, err)
	}
	var p struct {
		Pagination map[string]*Paginator `json:"pagination"`
	}
	if err := json.Unmarshal(praw, &p); err != nil {
		return fmt.Errorf("parse %s: %w", paginatorsPath, err)
	}
	m.Pagination = p.Pagination

	out, err := json.MarshalIndent(&m, "", " ")
	if err != nil {
		return fmt.Errorf("encode model: %w", err)
	}
	return os.WriteFile(outPath, append(out, '\n'), 0o644)
}

// memberOrders returns, per structure shape, its member names in the order
// the model file lists them.
func memberOrders(raw []byte) (map[string][]string, error) {
	var doc struct {
		Shapes map[string]json.RawMessage `json:"shapes"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse shapes: %w", err)
	}
	orders := map[string][]string{}
	for name, shapeRaw := range doc.Shapes {
		var s struct {
			Members json.RawMessage `json:"members"`
		}
		if err := json.Unmarshal(shapeRaw, &s); err != nil {
			return nil, fmt.Errorf("parse shape %s: %w", name, err)
		}
		if len(s.Members) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(s.Members))
		if _, err := dec.Token(); err != nil { // {
			return nil, fmt.Errorf("shape %s members: %w", name, err)
		}
		keys := []string{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, fmt.Errorf("shape %s members: %w", name, err)
			}
			keys = append(keys, tok.(string))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, fmt.Errorf("shape %s member %v: %w", name, tok, err)
			}
		}
		orders[name] = keys
	}
	return orders, nil
}
