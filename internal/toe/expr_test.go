package toe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/goldsmith/goldsmith/internal/toe/module"
)

func TestParseExprs(t *testing.T) {
	tests := []struct {
		in   string
		want []Expr // only the compared fields
		err  string
	}{
		{in: "no expressions"},
		{in: "{{ Name }}", want: []Expr{{Kind: ExprVariable, Name: "Name"}}},
		{in: "a{{Name}}b{{ Other-1 }}", want: []Expr{{Kind: ExprVariable, Name: "Name"}, {Kind: ExprVariable, Name: "Other-1"}}},
		{in: "{{ build.Step.outputs.stdout }}", want: []Expr{{Kind: ExprChain, Phase: "build", Step: "Step", Field: "outputs", Key: "stdout", Index: -1}}},
		{in: "{{build.Download.inputs[0].destination}}", want: []Expr{{Kind: ExprChain, Phase: "build", Step: "Download", Field: "inputs", Index: 0, Key: "destination"}}},
		{in: "{{ build.X.inputs.path }}", want: []Expr{{Kind: ExprChain, Phase: "build", Step: "X", Field: "inputs", Index: -1, Key: "path"}}},
		{in: "{{ build.X.outputs.detailedOutput.status }}", want: []Expr{{Kind: ExprChain, Phase: "build", Step: "X", Field: "outputs", Index: -1, Key: "detailedOutput.status"}}},
		{in: "{{ loop.value }} {{ loop.index }}", want: []Expr{{Kind: ExprLoop, Name: "loop", LoopField: "value"}, {Kind: ExprLoop, Name: "loop", LoopField: "index"}}},
		{in: "{{myForLoop.value}}", want: []Expr{{Kind: ExprLoop, Name: "myForLoop", LoopField: "value"}}},
		{in: "{{ aws:ssm:/my/param }}", want: []Expr{{Kind: ExprSSM, Name: "/my/param"}}},
		{in: "{{ aws:ssm:resolve(paramName) }}", want: []Expr{{Kind: ExprSSM, Name: "paramName", Resolve: true}}},
		{in: "{{ aws:imds:placement/region }}", want: []Expr{{Kind: ExprIMDS, Name: "placement/region"}}},
		{in: "{{ env:HOME }}", want: []Expr{{Kind: ExprEnv, Name: "HOME"}}},
		{in: "{{ context:executionId }}", want: []Expr{{Kind: ExprContext, Name: "executionId"}}},
		{in: "{{ }}", err: "empty expression"},
		{in: "{{ a b }}", err: "not a variable name"},
		{in: "{{ x.y }}", err: "expected <loop>.index"},
		{in: "{{ build.X.stdout.y }}", err: "third part"},
		{in: "{{ build.X.outputs }}", err: "outputs needs a name"},
		{in: "{{ build..outputs.x }}", err: "empty name segment"},
		{in: "{{ context:nope }}", err: "unknown context key"},
		{in: "{{ aws:imds:iam/security-credentials }}", err: "credentials"},
		{in: "echo {{ Name", err: "unterminated"},
	}
	for _, tc := range tests {
		got, err := ParseExprs(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("%q: %d expressions, want %d", tc.in, len(got), len(tc.want))
			continue
		}
		for i, w := range tc.want {
			g := got[i]
			g.Raw, g.Start, g.End = "", 0, 0
			if w.Index == 0 && w.Kind != ExprChain {
				w.Index = -1
			}
			if g != w {
				t.Errorf("%q[%d]: got %+v, want %+v", tc.in, i, g, w)
			}
		}
	}
}

func TestSubstituteNoRecursion(t *testing.T) {
	vals := map[string]string{"A": "{{ B }}", "B": "b"}
	got, err := substitute("x={{A}} y={{ B }} z={{ loop.value }}", func(e Expr) (string, bool, error) {
		if e.Kind == ExprLoop {
			return "", false, nil
		}
		return vals[e.Name], true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != "x={{ B }} y=b z={{ loop.value }}" {
		t.Fatalf("got %q", got)
	}
}

func TestEvalBinaryOperators(t *testing.T) {
	tests := []struct {
		op, operand, value string
		want               bool
	}{
		{"stringEquals", "Testing", "Testing", true},
		{"stringEquals", "TESTING", "Testing", false}, // case-sensitive (documents.md C1)
		{"stringLessThan", "b", "a", true},
		{"stringLessThan", "a", "b", false},
		{"stringLessThanEquals", "a", "a", true},
		{"stringGreaterThan", "a", "b", true},
		{"stringGreaterThanEquals", "b", "b", true},
		{"patternMatches", "^[a-z]+$", "abc", true},
		{"patternMatches", "^[a-z]+$", "ThisIsValue", false},
		{"numberEquals", "1", "1.0", true},
		{"numberEquals", "1", "a10", false},
		{"numberLessThan", "2", "1", true},
		{"numberLessThan", "1", "2", false},
		{"numberLessThanEquals", "2", "2", true},
		{"numberGreaterThan", "9", "10.2", true},
		{"numberGreaterThanEquals", "-1", "-1", true},
		{"numberGreaterThan", "100000000000000000000000000001", "100000000000000000000000000002", true},
		{"numberEquals", "1e3", "1000", false}, // not a plain number: false
	}
	for _, tc := range tests {
		got, err := module.Compare(tc.op, tc.value, tc.operand)
		if err != nil || got != tc.want {
			t.Errorf("%s %q value %q: %v %v, want %v", tc.op, tc.operand, tc.value, got, err, tc.want)
		}
	}
}

func TestEvalUnaryAndHash(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	unary := []struct {
		op, a string
		want  bool
	}{
		{"stringIsEmpty", "", true}, {"stringIsEmpty", " ", false},
		{"stringIsWhitespace", " \t", true}, {"stringIsWhitespace", "x ", false},
		{"binaryExists", "sh", true}, {"binaryExists", "no-such-binary-xyz", false},
		{"fileExists", f, true}, {"fileExists", dir, false}, {"fileExists", "f", true},
		{"folderExists", dir, true}, {"folderExists", f, false},
	}
	for _, tc := range unary {
		if got := module.Unary(tc.op, tc.a, dir); got != tc.want {
			t.Errorf("%s %q: %v", tc.op, tc.a, got)
		}
	}
	hashes := map[string]string{
		"fileMD5Equals":    "900150983cd24fb0d6963f7d28e17f72",
		"fileSHA1Equals":   "A9993E364706816ABA3E25717850C26C9CD0D89D",
		"fileSHA256Equals": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"fileSHA512Equals": "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
	}
	for op, sum := range hashes {
		if ok, err := module.FileHashEquals(op, sum, f); !ok || err != nil {
			t.Errorf("%s: %v %v", op, ok, err)
		}
		if ok, _ := module.FileHashEquals(op, "00", f); ok {
			t.Errorf("%s matched a wrong digest", op)
		}
		if ok, err := module.FileHashEquals(op, sum, filepath.Join(dir, "missing")); ok || err != nil {
			t.Errorf("%s on a missing file: %v %v", op, ok, err)
		}
	}
}

func TestConditionLogic(t *testing.T) {
	doc := `schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: S
        action: Reboot
        if:
          or:
            - and:
                - stringEquals: a
                  value: a
                - not:
                    - stringEquals: a
                      value: a
            - not:
                stringIsEmpty: x
          then: Skip
          else: Abort
`
	d, err := ParseDocument("c.yml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := d.Phases[0].Steps[0].If
	if c.Then != OutcomeSkip || c.Else != OutcomeAbort || c.Op != "or" || len(c.Children) != 2 {
		t.Fatalf("parsed %+v", c)
	}
	ok, err := c.eval(condEnv{resolve: func(v *Value) (string, error) { return v.Text, nil }})
	if err != nil || !ok {
		t.Fatalf("eval: %v %v", ok, err)
	}
}

func TestLoopIterations(t *testing.T) {
	id := func(v *Value) (string, error) { return v.Text, nil }
	sv := func(s string) *Value { return StringValue(s) }
	tests := []struct {
		loop *Loop
		want []string
		err  bool
	}{
		{loop: &Loop{For: &ForRange{sv("0"), sv("4"), sv("2")}}, want: []string{"0", "2", "4"}},
		{loop: &Loop{For: &ForRange{sv("0"), sv("5"), sv("2")}}, want: []string{"0", "2", "4"}},
		{loop: &Loop{For: &ForRange{sv("3"), sv("3"), sv("1")}}, want: []string{"3"}},
		{loop: &Loop{For: &ForRange{sv("2"), sv("-2"), sv("-2")}}, want: []string{"2", "0", "-2"}},
		{loop: &Loop{For: &ForRange{sv("0"), sv("2"), sv("-1")}}, err: true},
		{loop: &Loop{For: &ForRange{sv("x"), sv("2"), sv("1")}}, err: true},
		{loop: &Loop{List: sv("jq,tar,gzip"), Delimiter: ","}, want: []string{"jq", "tar", "gzip"}},
		{loop: &Loop{List: sv("a b"), Delimiter: " "}, want: []string{"a", "b"}},
		{loop: &Loop{List: sv(""), Delimiter: ","}, want: nil},
		{loop: &Loop{ForEach: []*Value{sv("x"), sv("y")}}, want: []string{"x", "y"}},
	}
	for i, tc := range tests {
		its, err := tc.loop.iterations(id)
		if tc.err {
			if err == nil {
				t.Errorf("%d: expected an error", i)
			}
			continue
		}
		if err != nil {
			t.Errorf("%d: %v", i, err)
			continue
		}
		var got []string
		for j, it := range its {
			if it.Index != j {
				t.Errorf("%d: index %d at %d", i, it.Index, j)
			}
			got = append(got, it.Value)
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%d: got %q, want %q", i, got, tc.want)
		}
	}
}

func TestJoinOutputs(t *testing.T) {
	got := joinOutputs([]map[string]any{{"stdout": "Hello"}, {"stdout": "World", "n": 1}})
	if got["stdout"] != "Hello\nWorld" || got["n"] != "1" {
		t.Fatalf("got %v", got)
	}
}

func FuzzExpression(f *testing.F) {
	for _, s := range []string{"{{ build.X.outputs.stdout }}", "{{build.D.inputs[0].destination}}", "{{ loop.value }}",
		"{{ aws:ssm:resolve(p) }}", "{{ env:HOME }}", "a {{ b }} c {{", "{{}}", "{{ x.y.z }}", "}}{{"} {
		f.Add(s)
	}
	for _, file := range corpusSeedFiles(f) {
		data, err := os.ReadFile(file)
		if err == nil {
			f.Add(string(data))
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		exprs, err := ParseExprs(s)
		if err != nil {
			return
		}
		last := 0
		for _, e := range exprs {
			if e.Start < last || e.End > len(s) || s[e.Start:e.End] != e.Raw || !strings.HasPrefix(e.Raw, "{{") || !strings.HasSuffix(e.Raw, "}}") {
				t.Fatalf("bad span %+v in %q", e, s)
			}
			last = e.End
		}
		out, err := substitute(s, func(Expr) (string, bool, error) { return "", false, nil })
		if err != nil || out != s {
			t.Fatalf("identity substitution changed %q to %q (%v)", s, out, err)
		}
		if _, err := substitute(s, func(Expr) (string, bool, error) { return "v", true, nil }); err != nil {
			t.Fatal(err)
		}
	})
}

func corpusSeedFiles(f *testing.F) []string {
	var files []string
	for _, dir := range []string{"components", "step-fragments"} {
		m, _ := filepath.Glob(filepath.Join("testdata", "corpus", dir, "*.y*ml"))
		files = append(files, m...)
	}
	if len(files) == 0 {
		f.Fatal("no corpus seeds")
	}
	return files
}

func FuzzParseDocument(f *testing.F) {
	for _, file := range corpusSeedFiles(f) {
		data, err := os.ReadFile(file)
		if err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"schemaVersion": 1, "phases": []}`))
	f.Add([]byte("schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - {name: A, action: Reboot, loop: {for: {start: 0, end: 3, updateBy: 1}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDocument("fuzz.yml", data)
		if err != nil {
			if !IsValidationError(err) {
				t.Fatalf("error %T is not a DocumentError: %v", err, err)
			}
			if !utf8.ValidString(err.Error()) && utf8.Valid(data) {
				t.Fatalf("invalid UTF-8 in message")
			}
			return
		}
		if d.SchemaVersion != "1.0" {
			t.Fatalf("schemaVersion %q", d.SchemaVersion)
		}
		_ = Validate(d) // must not panic
	})
}
