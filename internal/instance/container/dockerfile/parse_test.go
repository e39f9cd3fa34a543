package dockerfile

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSupported(t *testing.T) {
	src := `# syntax comment
ARG BASE=busybox
FROM ${BASE} AS build
RUN echo shell form
RUN ["/bin/echo", "exec", "form"]
ENV A=1 B="two words"
ARG V=3
WORKDIR /app
USER nobody
LABEL org.example.a=b
MAINTAINER someone
ENTRYPOINT ["/bin/sh"]
CMD ["-c", "echo hi"]
EXPOSE 80 53/udp
VOLUME /data
SHELL ["/bin/sh", "-ec"]
COPY --chown=1:1 --chmod=644 a.txt /etc/
ADD b.tar.gz /opt/
HEALTHCHECK --interval=5s CMD true
STOPSIGNAL SIGTERM
ONBUILD RUN echo child
RUN echo a && \
    echo b
`
	df, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if df.From.Image != "${BASE}" || df.From.Name != "build" || df.From.Line != 3 || len(df.MetaArgs) != 1 {
		t.Errorf("From = %+v, meta args %d", df.From, len(df.MetaArgs))
	}
	want := []struct {
		name string
		line int
	}{{"RUN", 4}, {"RUN", 5}, {"ENV", 6}, {"ARG", 7}, {"WORKDIR", 8}, {"USER", 9}, {"LABEL", 10}, {"MAINTAINER", 11},
		{"ENTRYPOINT", 12}, {"CMD", 13}, {"EXPOSE", 14}, {"VOLUME", 15}, {"SHELL", 16}, {"COPY", 17}, {"ADD", 18},
		{"HEALTHCHECK", 19}, {"STOPSIGNAL", 20}, {"ONBUILD", 21}, {"RUN", 22}}
	if len(df.Instructions) != len(want) {
		t.Fatalf("%d instructions, want %d", len(df.Instructions), len(want))
	}
	for i, w := range want {
		got := df.Instructions[i]
		if got.Name != w.name || got.Line != w.line {
			t.Errorf("instruction %d = %s at %d, want %s at %d", i, got.Name, got.Line, w.name, w.line)
		}
	}
	if last := df.Instructions[len(want)-1]; last.EndLine != 23 || !strings.HasPrefix(last.Text, "RUN echo a") {
		t.Errorf("continuation: %+v", last)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, instr, msg string
		line                  int
	}{
		{"empty", "", "", "no instructions", 0},
		{"comments only", "# nothing\n", "", "no instructions", 1},
		{"unknown instruction", "FROM a\nRUN true\nFOO bar\n", "FOO", "unknown instruction", 3},
		{"before FROM", "RUN x\nFROM a\n", "RUN", "only ARG may come before FROM", 1},
		{"no FROM", "ARG A=1\n", "", "no FROM", 0},
		{"multi-stage", "FROM a AS one\nRUN x\nFROM b\n", "FROM", "multi-stage", 3},
		{"run mount", "FROM a\nRUN --mount=type=cache,target=/c true\n", "RUN", "--mount", 2},
		{"run network", "FROM a\nRUN --network=none true\n", "RUN", "--network", 2},
		{"heredoc", "FROM a\nRUN <<EOF\necho\nEOF\n", "RUN", "here-documents", 2},
		{"copy from", "FROM a\nCOPY --from=b /x /y\n", "COPY", "--from", 2},
		{"copy parent dir", "FROM a\nCOPY ../secret /x\n", "COPY", "outside the build context", 2},
		{"copy deep parent", "FROM a\nCOPY x/../../secret /x\n", "COPY", "outside the build context", 2},
		{"add url", "FROM a\nADD https://example.com/x.tgz /x\n", "ADD", "is a URL", 2},
		{"add git", "FROM a\nADD git@github.com:a/b.git /x\n", "ADD", "is a URL", 2},
		{"add checksum", "FROM a\nADD --checksum=sha256:00 x /x\n", "ADD", "--checksum", 2},
		{"env without value", "FROM a\nENV\n", "ENV", "at least one argument", 2},
		{"bad healthcheck", "FROM a\n\nHEALTHCHECK --interval=5x CMD true\n", "HEALTHCHECK", "unknown unit", 3},
		{"copy one arg", "FROM a\nCOPY x\n", "COPY", "", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.src)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a ParseError", err)
			}
			if pe.Line != tc.line || pe.Instruction != tc.instr || !strings.Contains(pe.Msg, tc.msg) {
				t.Fatalf("err = %#v, want line %d %s %q", pe, tc.line, tc.instr, tc.msg)
			}
			if tc.line > 0 && !strings.Contains(err.Error(), "line ") {
				t.Fatalf("error text %q has no line", err)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	if _, err := Parse("FROM a\n" + strings.Repeat("# x\n", MaxDockerfileSize/4+1)); err == nil {
		t.Fatal("no error for an oversized Dockerfile")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"FROM a\nRUN true\n", "ARG X=1\nFROM ${X}\nENV A=$X\n", "FROM a\nCOPY --chown=1:2 x /y\n",
		"FROM a\nRUN <<EOF\nx\nEOF\n", "FROM a\nFROM b\n", "# escape=`\nFROM a\nRUN echo `\n  hi\n",
		"FROM a\nHEALTHCHECK NONE\n", "FROM a\nONBUILD ONBUILD RUN x\n", "FROM a\nEXPOSE 80/tcp\n",
		"FROM a\nADD http://x /y\n", "FROM a\nSHELL [\"/bin/bash\", \"-c\"]\n", "\x00FROM",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		df, err := Parse(src)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a ParseError", err)
			}
			if pe.Line < 0 || pe.Line > strings.Count(src, "\n")+1 {
				t.Fatalf("line %d outside the %d-line input", pe.Line, strings.Count(src, "\n")+1)
			}
			return
		}
		for _, ins := range df.Instructions {
			if ins.cmd == nil || ins.Line < 1 || ins.EndLine < ins.Line {
				t.Fatalf("bad instruction %+v", ins)
			}
			if ins.Name == "FROM" {
				t.Fatal("FROM among the instructions")
			}
			if msg := unsupported(ins.cmd); msg != "" {
				t.Fatalf("unsupported instruction passed: %s", msg)
			}
		}
	})
}
