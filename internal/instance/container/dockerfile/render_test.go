package dockerfile

import (
	"errors"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	v := Vars{ParentImage: "127.0.0.1:5000/base:1", Environments: "WORKDIR /tmp\n", Components: "COPY .goldsmith/ /goldsmith/\nRUN [\"x\"]\n"}
	tests := []struct {
		name, tmpl, want, err string
		line                  int
	}{
		{name: "standard", tmpl: "FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:environments }}}\n{{{ imagebuilder:components }}}\n",
			want: "FROM 127.0.0.1:5000/base:1\nWORKDIR /tmp\nCOPY .goldsmith/ /goldsmith/\nRUN [\"x\"]\n"},
		{name: "no spaces", tmpl: "FROM {{{imagebuilder:parentImage}}}\n", want: "FROM 127.0.0.1:5000/base:1\n"},
		{name: "many spaces", tmpl: "FROM {{{   imagebuilder:parentImage \t }}}\n", want: "FROM 127.0.0.1:5000/base:1\n"},
		{name: "ampersand", tmpl: "FROM {{& imagebuilder:parentImage }}\n", want: "FROM 127.0.0.1:5000/base:1\n"},
		{name: "double brace escapes", tmpl: "FROM x\nLABEL a=\"{{ imagebuilder:parentImage }}\"\n", want: "FROM x\nLABEL a=\"127.0.0.1:5000/base:1\"\n"},
		{name: "own FROM", tmpl: "FROM debian:12\nRUN true\n", want: "FROM debian:12\nRUN true\n"},
		{name: "lower-case own from", tmpl: "# c\nfrom debian:12\n", want: "# c\nfrom debian:12\n"},
		{name: "unknown placeholder", tmpl: "FROM x\n\n{{{ imagebuilder:foo }}}\n", err: "unknown placeholder imagebuilder:foo", line: 3},
		{name: "other mustache tag", tmpl: "FROM x\nRUN echo {{ name }}\n", err: "not an Image Builder placeholder", line: 2},
		{name: "unbalanced", tmpl: "FROM {{{ imagebuilder:parentImage }}\n", err: "unbalanced braces", line: 1},
		{name: "no FROM", tmpl: "RUN true\n{{{ imagebuilder:components }}}\n", err: "neither", line: 1},
		{name: "empty parent", tmpl: "FROM {{{ imagebuilder:parentImage }}}\n", err: "no parent image", line: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vv := v
			if tc.name == "empty parent" {
				vv.ParentImage = ""
			}
			got, err := Render(tc.tmpl, vv)
			if tc.err != "" {
				var re *RenderError
				if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.err) || re.Line != tc.line {
					t.Fatalf("err = %v, want %q at line %d", err, tc.err, tc.line)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Render = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestBlocks(t *testing.T) {
	if got := EnvironmentsBlock(""); got != "WORKDIR /tmp\n" {
		t.Errorf("EnvironmentsBlock(\"\") = %q", got)
	}
	if got := EnvironmentsBlock("/opt/w"); got != "WORKDIR /opt/w\n" {
		t.Errorf("EnvironmentsBlock = %q", got)
	}
	if got := ComponentsBlock(StagedComponents{}); got != "" {
		t.Errorf("ComponentsBlock(none) = %q", got)
	}
	got := ComponentsBlock(StagedComponents{Paths: []string{"/goldsmith/components/01-a.yml"}, WorkingDirectory: "/w"})
	want := "COPY .goldsmith/ /goldsmith/\n" +
		`RUN ["/goldsmith/bin/goldsmith","toe","run","--config","/goldsmith/toe.json","--phases","build,validate","--log-directory","/goldsmith/logs","--working-directory","/w"]` + "\n"
	if got != want {
		t.Errorf("ComponentsBlock =\n%s\nwant\n%s", got, want)
	}
	// The blocks render into a template that parses.
	out, err := Render("FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:environments }}}\n{{{ imagebuilder:components }}}\n",
		Vars{ParentImage: "base", Environments: EnvironmentsBlock("/w"), Components: got})
	if err != nil {
		t.Fatal(err)
	}
	df, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ins := range df.Instructions {
		names = append(names, ins.Name)
	}
	if strings.Join(names, " ") != "WORKDIR COPY RUN" {
		t.Errorf("instructions = %v", names)
	}
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:environments }}}\n{{{ imagebuilder:components }}}\n",
		"FROM x\n{{ y }}", "{{{ imagebuilder:parentImage }}", "{{{{{{", "}}}{{{", "FROM {{& imagebuilder:parentImage}}",
		"{{{ imagebuilder:nope }}}", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tmpl string) {
		out, err := Render(tmpl, Vars{ParentImage: "p", Environments: "WORKDIR /tmp", Components: "RUN true"})
		if err != nil {
			var re *RenderError
			if !errors.As(err, &re) || re.Line < 1 || re.Line > strings.Count(tmpl, "\n")+1 {
				t.Fatalf("error %v is not a located RenderError", err)
			}
			return
		}
		if !tagPattern.MatchString(tmpl) && out != tmpl {
			t.Fatalf("a template without tags changed: %q -> %q", tmpl, out)
		}
	})
}
