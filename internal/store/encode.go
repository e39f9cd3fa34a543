package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// These helpers are shared by the implementations, so both encode rows the
// same way.

// VersionNodes splits "major.minor.patch" into numbers for ordering; ""
// (unversioned kinds) is 0.0.0.
func VersionNodes(v string) (major, minor, patch int64, err error) {
	if v == "" {
		return 0, 0, 0, nil
	}
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return 0, 0, 0, fmt.Errorf("invalid version %q: want major.minor.patch", v)
	}
	var n [3]int64
	for i, p := range parts {
		x, err := strconv.ParseInt(p, 10, 64)
		if err != nil || x < 0 || p == "" || p[0] == '+' {
			return 0, 0, 0, fmt.Errorf("invalid version %q: want major.minor.patch", v)
		}
		n[i] = x
	}
	return n[0], n[1], n[2], nil
}

// EncodeTags returns the JSON text for tags, or nil (SQL NULL) when empty.
func EncodeTags(tags map[string]string) (any, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(tags)
	if err != nil {
		return nil, fmt.Errorf("encode tags: %w", err)
	}
	return string(b), nil
}

// NonNil returns b, or an empty slice for nil (bodies are never NULL).
func NonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
