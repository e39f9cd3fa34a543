package dockerfile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// MaxDockerfileSize bounds what Parse accepts (Image Builder's inline limit
// is 16,000 characters; rendered blocks add a little).
const MaxDockerfileSize = 1 << 20

// Dockerfile is a parsed, validated, single-stage Dockerfile.
type Dockerfile struct {
	MetaArgs     []Instruction // ARG instructions before FROM (usable in FROM)
	From         From
	Instructions []Instruction // after FROM, in order
	escape       rune          // the escape character (# escape= directive)
}

// From is the FROM instruction. Image is as written: ${VAR} references to
// ARGs declared before FROM are expanded by Build.
type From struct {
	Image    string
	Platform string
	Name     string // the stage name of FROM ... AS name
	Line     int
}

// Instruction is one parsed instruction.
type Instruction struct {
	Name    string // upper case: RUN, ENV, COPY, ...
	Line    int    // first line (1-based)
	EndLine int    // last line
	Text    string // the instruction as written (continuation lines joined)
	cmd     instructions.Command
}

// String is the instruction's source text.
func (i Instruction) String() string { return i.Text }

// ParseError is a Dockerfile error located at a line.
type ParseError struct {
	Line        int    // 1-based; 0 when the error is not tied to a line
	Instruction string // upper case, "" when unknown
	Msg         string
}

func (e *ParseError) Error() string {
	switch {
	case e.Line > 0 && e.Instruction != "":
		return fmt.Sprintf("dockerfile line %d: %s: %s", e.Line, e.Instruction, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("dockerfile line %d: %s", e.Line, e.Msg)
	default:
		return "dockerfile: " + e.Msg
	}
}

// Parse parses a Dockerfile with buildkit's parser and checks that goldsmith
// can execute it: one stage; FROM, RUN (shell and exec forms, no --mount and
// the like), ENV, ARG, WORKDIR, USER, LABEL, MAINTAINER, ENTRYPOINT, CMD,
// EXPOSE, VOLUME, SHELL, COPY and ADD of build-context files; HEALTHCHECK,
// STOPSIGNAL and ONBUILD are recorded in the image configuration, as Docker
// does. Anything else is an error naming the instruction and its line.
func Parse(dockerfile string) (*Dockerfile, error) {
	if len(dockerfile) > MaxDockerfileSize {
		return nil, &ParseError{Msg: fmt.Sprintf("%d bytes is more than the %d accepted", len(dockerfile), MaxDockerfileSize)}
	}
	res, err := parser.Parse(strings.NewReader(dockerfile))
	if err != nil {
		return nil, locate(err, 0, "")
	}
	d := &Dockerfile{escape: res.EscapeToken}
	seenFrom := false
	for _, n := range res.AST.Children {
		name := strings.ToUpper(n.Value)
		v, err := instructions.ParseInstruction(n)
		if err != nil {
			var unknown *instructions.UnknownInstructionError
			if errors.As(err, &unknown) {
				return nil, &ParseError{Line: n.StartLine, Instruction: name, Msg: "unknown instruction"}
			}
			return nil, locate(err, n.StartLine, name)
		}
		ins := Instruction{Name: name, Line: n.StartLine, EndLine: n.EndLine, Text: strings.TrimSpace(n.Original)}
		if st, ok := v.(*instructions.Stage); ok {
			if seenFrom {
				return nil, &ParseError{Line: n.StartLine, Instruction: name, Msg: "multi-stage builds are not supported (a second FROM)"}
			}
			seenFrom = true
			d.From = From{Image: st.BaseName, Platform: st.Platform, Name: st.Name, Line: n.StartLine}
			continue
		}
		cmd, ok := v.(instructions.Command)
		if !ok {
			return nil, &ParseError{Line: n.StartLine, Instruction: name, Msg: fmt.Sprintf("unexpected %T", v)}
		}
		ins.cmd = cmd
		if !seenFrom {
			if _, isArg := cmd.(*instructions.ArgCommand); !isArg {
				return nil, &ParseError{Line: n.StartLine, Instruction: name, Msg: "only ARG may come before FROM"}
			}
			d.MetaArgs = append(d.MetaArgs, ins)
			continue
		}
		if msg := unsupported(cmd); msg != "" {
			return nil, &ParseError{Line: n.StartLine, Instruction: name, Msg: msg}
		}
		d.Instructions = append(d.Instructions, ins)
	}
	if !seenFrom {
		return nil, &ParseError{Msg: "no FROM instruction"}
	}
	return d, nil
}

// unsupported says why goldsmith cannot execute cmd, or "" when it can.
func unsupported(cmd instructions.Command) string {
	switch c := cmd.(type) {
	case *instructions.RunCommand:
		if len(c.FlagsUsed) > 0 {
			return fmt.Sprintf("RUN flags are not supported (--%s)", strings.Join(c.FlagsUsed, ", --"))
		}
		if len(c.Files) > 0 {
			return "here-documents are not supported"
		}
	case *instructions.CmdCommand:
		if len(c.Files) > 0 {
			return "here-documents are not supported"
		}
	case *instructions.EntrypointCommand:
		if len(c.Files) > 0 {
			return "here-documents are not supported"
		}
	case *instructions.CopyCommand:
		switch {
		case c.From != "":
			return "COPY --from is not supported (single-stage builds only)"
		case len(c.ExcludePatterns) > 0:
			return "COPY --exclude is not supported"
		case c.Parents:
			return "COPY --parents is not supported"
		case len(c.SourceContents) > 0:
			return "here-documents are not supported"
		}
		return checkSources(c.SourcePaths)
	case *instructions.AddCommand:
		switch {
		case len(c.ExcludePatterns) > 0:
			return "ADD --exclude is not supported"
		case c.Checksum != "":
			return "ADD --checksum is not supported (ADD of URLs is not supported)"
		case c.KeepGitDir != nil:
			return "ADD --keep-git-dir is not supported (ADD of git repositories is not supported)"
		case len(c.SourceContents) > 0:
			return "here-documents are not supported"
		}
		return checkSources(c.SourcePaths)
	case *instructions.EnvCommand, *instructions.ArgCommand, *instructions.WorkdirCommand,
		*instructions.UserCommand, *instructions.LabelCommand, *instructions.MaintainerCommand,
		*instructions.ExposeCommand, *instructions.VolumeCommand, *instructions.ShellCommand,
		*instructions.HealthCheckCommand, *instructions.StopSignalCommand, *instructions.OnbuildCommand:
	default:
		return "not supported"
	}
	return ""
}

// checkSources refuses sources from outside the build context: URLs, git
// repositories, absolute paths and paths that climb out of the context.
func checkSources(srcs []string) string {
	for _, s := range srcs {
		if msg := checkSource(s); msg != "" {
			return msg
		}
	}
	return ""
}

func checkSource(s string) string {
	switch {
	case strings.Contains(s, "://") || strings.HasPrefix(s, "git@"):
		return fmt.Sprintf("source %q is a URL; only files of the build context can be copied", s)
	case escapesContext(s):
		return fmt.Sprintf("source %q is outside the build context", s)
	}
	return ""
}

// escapesContext reports whether a context-relative path climbs above the
// context. A leading "/" is relative to the context, as in Docker.
func escapesContext(p string) bool {
	depth := 0
	for part := range strings.SplitSeq(p, "/") {
		switch part {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

// locate turns a buildkit error into a ParseError with its line.
func locate(err error, line int, name string) error {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line = le.Locations[0][0].Start.Line
	}
	msg := err.Error()
	if le != nil {
		msg = le.Unwrap().Error()
	}
	return &ParseError{Line: line, Instruction: name, Msg: msg}
}
