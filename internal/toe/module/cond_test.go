package module

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestAssert(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	if err := os.WriteFile(file, []byte(payload), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		want bool
	}{
		{"stringEquals: abc\nvalue: abc", true},
		{"stringEquals: TESTING\nvalue: Testing", false}, // case-sensitive (decision C1)
		{"stringLessThan: b\nvalue: a", true},            // value < operand
		{"stringGreaterThanEquals: b\nvalue: b", true},
		{"stringIsEmpty: ''", true},
		{"stringIsEmpty: ' '", false},
		{"stringIsWhitespace: \" \\t\"", true},
		{"patternMatches: '^[a-z]+$'\nvalue: thisisvalue", true},
		{"patternMatches: '^[a-z]+$'\nvalue: ThisIsValue", false},
		{"numberEquals: 1.0\nvalue: '1'", true},
		{"numberGreaterThan: 5\nvalue: 10", true},
		{"numberLessThanEquals: -2.5\nvalue: -3", true},
		{"numberLessThan: 123456789012345678901234567890\nvalue: 123456789012345678901234567889", true},
		{"numberEquals: abc\nvalue: abc", false}, // not a number: false, not an error
		{"fileExists: " + file, true},
		{"fileExists: " + dir, false},
		{"folderExists: " + dir, true},
		{"binaryExists: sh", true},
		{"binaryExists: no-such-binary-xyz", false},
		{"fileSHA256Equals: " + digest("SHA256") + "\npath: " + file, true},
		{"fileMD5Equals: " + digest("MD5") + "\npath: " + file, true},
		{"fileSHA1Equals: " + digest("SHA1") + "\npath: " + file, true},
		{"fileSHA512Equals: " + digest("SHA512") + "\npath: " + file, true},
		{"fileSHA256Equals: 00\npath: " + file, false},
		{"fileSHA256Equals: 00\npath: /no/such/file", false},
		{"and: [{stringEquals: a, value: a}, {numberEquals: 2, value: 2}]", true},
		{"and: [{stringEquals: a, value: a}, {numberEquals: 2, value: 3}]", false},
		{"or: [{stringEquals: a, value: b}, {stringIsEmpty: ''}]", true},
		{"not: {stringEquals: a, value: b}", true},
		{"not: [{stringEquals: a, value: a}]", false},
	}
	m := mustModule(t, "Assert")
	for _, tc := range tests {
		in := decodeYAML(t, tc.in)
		got, err := EvalCondition(in)
		if err != nil || got != tc.want {
			t.Errorf("EvalCondition(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		_, err = m.Run(context.Background(), nil, in)
		if (err == nil) != tc.want {
			t.Errorf("Assert(%q): err = %v, want success %v", tc.in, err, tc.want)
		}
	}
}
