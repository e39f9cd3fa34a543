package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStep runs steps on the host (the runner is not PID 1 here, so it
// kills nothing) and reads back their frames.
func TestStep(t *testing.T) {
	dir := t.TempDir()
	env := []string{"PATH=/usr/bin:/bin"}
	tests := []struct {
		name       string
		req        Request
		wantCode   int
		wantOut    string
		wantErrOut string
		wantError  string
	}{
		{"exit 0", Request{Args: []string{"true"}, Env: env, Cwd: "/"}, 0, "", "", ""},
		{"exit code", Request{Args: []string{"sh", "-c", "exit 7"}, Env: env, Cwd: "/"}, 7, "", "", ""},
		{"signal", Request{Args: []string{"sh", "-c", "kill -9 $$"}, Env: env, Cwd: "/"}, 137, "", "", ""},
		{"output", Request{Args: []string{"sh", "-c", "echo out; echo err >&2"}, Env: env, Cwd: "/"}, 0, "out\n", "err\n", ""},
		{"env and cwd", Request{Args: []string{"sh", "-c", `echo "$X $(pwd)"`}, Env: append(env, "X=y"), Cwd: dir}, 0, "y " + dir + "\n", "", ""},
		{"stdin is /dev/null", Request{Args: []string{"cat"}, Env: env, Cwd: "/"}, 0, "", "", ""},
		{"not in PATH", Request{Args: []string{"no-such-tool"}, Env: env, Cwd: "/"}, -1, "", "", "executable file not found"},
		{"no PATH", Request{Args: []string{"true"}, Cwd: "/"}, -1, "", "", "executable file not found"},
		{"missing file", Request{Args: []string{"/nothing/here"}, Env: env, Cwd: "/"}, -1, "", "", `exec: "/nothing/here": no such file or directory`},
		{"missing cwd", Request{Args: []string{"true"}, Env: env, Cwd: "/nothing"}, -1, "", "", "does not exist"},
		{"no command", Request{Env: env, Cwd: "/"}, -1, "", "", "no command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if os.Geteuid() != 0 {
				tt.req.UID, tt.req.GID = uint32(os.Geteuid()), uint32(os.Getegid())
			}
			var frames bytes.Buffer
			res := Step(tt.req, NewFrameWriter(&frames))
			if res.ExitCode != tt.wantCode || (tt.wantError == "") != (res.Error == "") || !strings.Contains(res.Error, tt.wantError) {
				t.Fatalf("Step = %+v, want code %d, error %q", res, tt.wantCode, tt.wantError)
			}
			var out, errOut strings.Builder
			for frames.Len() > 0 {
				typ, data, _, err := ReadFrame(&frames, nil)
				if err != nil {
					t.Fatal(err)
				}
				switch typ {
				case FrameStdout:
					out.Write(data)
				case FrameStderr:
					errOut.Write(data)
				default:
					t.Fatalf("frame type %d", typ)
				}
			}
			if out.String() != tt.wantOut || errOut.String() != tt.wantErrOut {
				t.Fatalf("stdout %q stderr %q, want %q %q", out.String(), errOut.String(), tt.wantOut, tt.wantErrOut)
			}
		})
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tool")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, path, want string
	}{
		{"found", "tool", "/nonexistent:" + dir, exe},
		{"slash as is", "./x/y", "", "./x/y"},
		{"not executable", "data", dir, ""},
		{"directory", "sub", dir, ""},
		{"empty PATH", "tool", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lookPath(tt.file, []string{"PATH=" + tt.path})
			if got != tt.want || (err != nil) != (tt.want == "") {
				t.Fatalf("lookPath = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
