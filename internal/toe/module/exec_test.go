package module

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func bashIn(cmds ...string) any {
	l := make([]any, len(cmds))
	for i, c := range cmds {
		l[i] = c
	}
	return map[string]any{"commands": l}
}

func TestExecuteBash(t *testing.T) {
	tests := []struct {
		name       string
		cmds       []string
		wantCode   int
		wantErr    bool
		wantStdout string
		wantReboot bool
	}{
		{"success", []string{"echo hello", "echo world"}, 0, false, "hello\nworld", false},
		{"last command decides: earlier failure ignored", []string{"false", "echo ok"}, 0, false, "ok", false},
		{"last command fails", []string{"echo before", "false"}, 1, true, "before", false},
		{"explicit exit", []string{"echo x", "exit 3", "echo never"}, 3, true, "x", false},
		{"set -e honoured", []string{"set -e", "false", "echo never"}, 1, true, "", false},
		{"multi-line block", []string{"for i in 1 2 3; do\n  echo $i\ndone"}, 0, false, "1\n2\n3", false},
		{"reboot 194", []string{"echo rebooting", "exit 194"}, 194, false, "rebooting", true},
		{"signal", []string{"kill -TERM $$"}, 128 + 15, true, "", false},
	}
	m := mustModule(t, "ExecuteBash")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, out, _ := testEnv(t)
			res, err := m.Run(context.Background(), env, bashIn(tc.cmds...))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr && tc.wantCode > 0 {
				var ee *ExitError
				if !errors.As(err, &ee) || ee.Code != tc.wantCode {
					t.Errorf("err = %v, want ExitError %d", err, tc.wantCode)
				}
			}
			if res.ExitCode != tc.wantCode {
				t.Errorf("ExitCode = %d, want %d", res.ExitCode, tc.wantCode)
			}
			if got := res.Outputs["stdout"]; got != tc.wantStdout {
				t.Errorf("stdout output = %q, want %q", got, tc.wantStdout)
			}
			if !strings.Contains(out.String(), tc.wantStdout) {
				t.Errorf("stdout not streamed: %q", out.String())
			}
			if res.Reboot != tc.wantReboot || res.RetryStepAfterReboot != tc.wantReboot {
				t.Errorf("Reboot = %v/%v, want %v", res.Reboot, res.RetryStepAfterReboot, tc.wantReboot)
			}
		})
	}
}

func TestExecuteBashEnvironment(t *testing.T) {
	env, _, errb := testEnv(t)
	res, err := mustModule(t, "ExecuteBash").Run(context.Background(), env, bashIn("pwd", "echo oops >&2"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["stdout"] != env.WorkDir {
		t.Errorf("pwd = %q, want work dir %q", res.Outputs["stdout"], env.WorkDir)
	}
	if !strings.Contains(errb.String(), "oops") {
		t.Errorf("stderr not streamed: %q", errb.String())
	}
	if entries, _ := os.ReadDir(env.TempDir); len(entries) != 0 {
		t.Errorf("script file left in temp dir: %v", entries)
	}
}

// processGone reports whether pid no longer runs (absent or a zombie).
func processGone(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

func TestExecuteBashTimeoutKillsProcessGroup(t *testing.T) {
	env, _, _ := testEnv(t)
	pidFile := filepath.Join(env.WorkDir, "bg.pid")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := mustModule(t, "ExecuteBash").Run(ctx, env, bashIn("sleep 100 &", "echo $! > "+pidFile, "wait"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want wrapping context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run returned after %v", d)
	}
	data, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	deadline := time.Now().Add(3 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("background child %d still running", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestExecuteBashLeftoverBackgroundOutput(t *testing.T) {
	// A background process that keeps stdout open must not hang the step.
	env, _, _ := testEnv(t)
	start := time.Now()
	res, err := mustModule(t, "ExecuteBash").Run(context.Background(), env, bashIn("echo done", "(sleep 30) &"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["stdout"] != "done" {
		t.Errorf("stdout = %q", res.Outputs["stdout"])
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestExecuteBinary(t *testing.T) {
	env, _, _ := testEnv(t)
	m := mustModule(t, "ExecuteBinary")
	res, err := m.Run(context.Background(), env, map[string]any{
		"path": "printf", "arguments": []any{"%s|%s", "a b", "$HOME"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["stdout"] != "a b|$HOME" {
		t.Errorf("stdout = %q (arguments must be passed as argv, no shell)", res.Outputs["stdout"])
	}
	script := filepath.Join(env.WorkDir, "x.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$1\"\nexit \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err = m.Run(context.Background(), env, map[string]any{"path": "./x.sh", "arguments": []any{"194"}})
	if err != nil || !res.Reboot || !res.RetryStepAfterReboot || res.ExitCode != 194 {
		t.Errorf("194: res=%+v err=%v", res, err)
	}
	res, err = m.Run(context.Background(), env, map[string]any{"path": script, "arguments": []any{"7"}})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 7 || res.Outputs["stdout"] != "7" {
		t.Errorf("exit 7: res=%+v err=%v", res, err)
	}
	if _, err := m.Run(context.Background(), env, map[string]any{"path": "/nonexistent/binary"}); err == nil {
		t.Error("missing binary: no error")
	}
}

func TestExecuteDocument(t *testing.T) {
	env, _, _ := testEnv(t)
	m := mustModule(t, "ExecuteDocument")
	in := decodeYAML(t, `
document: s3://my-bucket/Sample-1.yaml
document-s3-bucket-owner: 123456789012
phases: build, validate
parameters:
  - name: p1
    value: v1
  - name: p2
    value: "2"
`)
	if _, err := m.Run(context.Background(), env, in); err == nil || !strings.Contains(err.Error(), "document runner") {
		t.Errorf("nil RunDocument: err = %v", err)
	}
	var gotSource, gotOwner string
	var gotPhases []string
	var gotParams map[string]string
	env.RunDocument = func(ctx context.Context, source string, phases []string, params map[string]string) (map[string]any, error) {
		gotSource, gotPhases, gotParams, gotOwner = source, phases, params, BucketOwnerFromContext(ctx)
		return map[string]any{"status": "success", "executedStepCount": 1}, nil
	}
	res, err := m.Run(context.Background(), env, in)
	if err != nil {
		t.Fatal(err)
	}
	if gotSource != "s3://my-bucket/Sample-1.yaml" || gotOwner != "123456789012" ||
		!reflect.DeepEqual(gotPhases, []string{"build", "validate"}) ||
		!reflect.DeepEqual(gotParams, map[string]string{"p1": "v1", "p2": "2"}) {
		t.Errorf("RunDocument got %q %q %v %v", gotSource, gotOwner, gotPhases, gotParams)
	}
	if res.Outputs["status"] != "success" {
		t.Errorf("outputs = %v", res.Outputs)
	}
	env.RunDocument = func(context.Context, string, []string, map[string]string) (map[string]any, error) {
		return map[string]any{"status": "failed"}, errors.New("step X failed")
	}
	res, err = m.Run(context.Background(), env, map[string]any{"document": "a.yml"})
	if err == nil || res.Outputs["status"] != "failed" {
		t.Errorf("failed nested run: res=%+v err=%v", res, err)
	}
}

func TestReboot(t *testing.T) {
	env, _, _ := testEnv(t)
	m := mustModule(t, "Reboot")
	for _, in := range []any{nil, map[string]any{"delaySeconds": "0"}} {
		res, err := m.Run(context.Background(), env, in)
		if err != nil || !res.Reboot || res.RetryStepAfterReboot {
			t.Errorf("Reboot(%v) = %+v, %v", in, res, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Run(ctx, env, map[string]any{"delaySeconds": "60"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled delay: err = %v", err)
	}
}

// TestExecuteBashWithoutBash: on images without bash (busybox), the
// commands run with sh and the step's stderr says so.
func TestExecuteBashWithoutBash(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH")
	}
	dir := t.TempDir()
	if err := os.Symlink(sh, filepath.Join(dir, "sh")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	env, _, errb := testEnv(t)
	res, err := mustModule(t, "ExecuteBash").Run(context.Background(), env, bashIn("echo from-sh"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["stdout"] != "from-sh" || !strings.Contains(errb.String(), "bash is not installed") {
		t.Errorf("stdout %q, stderr %q", res.Outputs["stdout"], errb.String())
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := mustModule(t, "ExecuteBash").Run(context.Background(), env, bashIn("true")); err == nil || !strings.Contains(err.Error(), "neither bash nor sh") {
		t.Errorf("no shell at all: %v", err)
	}
}
