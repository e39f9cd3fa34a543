package module

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ---------------------------------------------------------------- ExecuteBash

type executeBash struct{}

var executeBashSpec = spec{{"commands", kStringList, true}}

func (executeBash) Name() string { return "ExecuteBash" }

func (executeBash) Check(in any) []Problem {
	return checkSingle(in, executeBashSpec, func(p *problems, m map[string]any) {
		if l, ok := m["commands"].([]any); ok && len(l) == 0 {
			p.add("commands", "must contain at least one command")
		}
	})
}

// Run writes all commands, in order, into one script and runs it with bash.
// Where there is no bash (busybox-based images), the script runs with the
// POSIX sh instead, and the step's output says so. The step's result is the script's exit status, i.e. the status of the last
// command unless the script uses set -e or exit. 194 requests a reboot after
// which the same step runs again.
func (m executeBash) Run(ctx context.Context, env *Env, in any) (Result, error) {
	if err := errProblems(m.Name(), m.Check(in)); err != nil {
		return Result{}, err
	}
	v, err := single(in)
	if err != nil {
		return Result{}, fmt.Errorf("ExecuteBash: %w", err)
	}
	shell, err := bashOrSh(env)
	if err != nil {
		return Result{}, err
	}
	script, cleanup, err := writeScript(env, v.strings("commands"))
	if err != nil {
		return Result{}, fmt.Errorf("ExecuteBash: %w", err)
	}
	defer cleanup()
	return finishProcess(ctx, env, m.Name(), shell, []string{script})
}

// bashOrSh finds bash, or else sh (noting the substitution in the step's
// output).
func bashOrSh(env *Env) (string, error) {
	if bash, err := exec.LookPath("bash"); err == nil {
		return bash, nil
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		return "", fmt.Errorf("ExecuteBash: neither bash nor sh is on PATH: %w", err)
	}
	if env != nil && env.Stderr != nil {
		fmt.Fprintf(env.Stderr, "ExecuteBash: bash is not installed; running the commands with %s\n", sh)
	}
	return sh, nil
}

// writeScript stores the commands as one script file in the temp dir.
func writeScript(env *Env, commands []string) (string, func(), error) {
	dir := ""
	if env != nil {
		dir = env.TempDir
	}
	f, err := os.CreateTemp(dir, "input-*.sh")
	if err != nil {
		return "", nil, fmt.Errorf("create script file: %w", err)
	}
	name := f.Name()
	cleanup := func() { _ = os.Remove(name) }
	body := strings.Join(commands, "\n") + "\n"
	if _, err := f.WriteString(body); err != nil {
		_ = f.Close()
		cleanup()
		return "", nil, fmt.Errorf("write script file: %w", err)
	}
	if err := f.Close(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("write script file: %w", err)
	}
	if err := os.Chmod(name, 0o700); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("chmod script file: %w", err)
	}
	return name, cleanup, nil
}

// finishProcess runs a child and converts its exit status into a Result:
// 0 = success, 194 = reboot and re-run the step, other = *ExitError.
func finishProcess(ctx context.Context, env *Env, module, name string, args []string) (Result, error) {
	pr, err := runProcess(ctx, env, name, args, nil)
	res := Result{Outputs: map[string]any{"stdout": trimStdout(pr.Stdout)}, ExitCode: pr.ExitCode}
	if pr.Truncated {
		env.logger().Warn("stdout output truncated", "module", module, "limitBytes", maxCapture)
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", module, err)
	}
	switch pr.ExitCode {
	case 0:
		return res, nil
	case RebootExitCode:
		res.Reboot = true
		res.RetryStepAfterReboot = true
		return res, nil
	}
	return res, fmt.Errorf("%s: %w", module, &ExitError{Code: pr.ExitCode})
}

// trimStdout removes the trailing line break(s) of captured output.
func trimStdout(s string) string { return strings.TrimRight(s, "\r\n") }

// -------------------------------------------------------------- ExecuteBinary

type executeBinary struct{}

var executeBinarySpec = spec{{"path", kString, true}, {"arguments", kStringList, false}}

func (executeBinary) Name() string { return "ExecuteBinary" }

func (executeBinary) Check(in any) []Problem {
	return checkSingle(in, executeBinarySpec, func(p *problems, m map[string]any) {
		if s, ok := m["path"].(string); ok && strings.TrimSpace(s) == "" {
			p.add("path", "must not be empty")
		}
	})
}

// Run executes path with arguments as argv (no shell).
func (m executeBinary) Run(ctx context.Context, env *Env, in any) (Result, error) {
	if err := errProblems(m.Name(), m.Check(in)); err != nil {
		return Result{}, err
	}
	v, err := single(in)
	if err != nil {
		return Result{}, fmt.Errorf("ExecuteBinary: %w", err)
	}
	return finishProcess(ctx, env, m.Name(), v.str("path"), v.strings("arguments"))
}

// ------------------------------------------------------------ ExecuteDocument

type executeDocument struct{}

var executeDocumentSpec = spec{
	{"document", kString, true},
	{"document-s3-bucket-owner", kString, false},
	{"phases", kString, false},
	{"parameters", kParamList, false},
}

func (executeDocument) Name() string { return "ExecuteDocument" }

func (executeDocument) Check(in any) []Problem {
	return checkSingle(in, executeDocumentSpec, func(p *problems, m map[string]any) {
		if s, ok := m["document"].(string); ok && strings.TrimSpace(s) == "" {
			p.add("document", "must not be empty")
		}
		if s, ok := m["phases"].(string); ok && !isExpr(s) {
			for _, ph := range strings.Split(s, ",") {
				if strings.TrimSpace(ph) == "" && strings.TrimSpace(s) != "" {
					p.add("phases", "empty phase name in %q", s)
					break
				}
			}
		}
	})
}

type bucketOwnerKey struct{}

// BucketOwnerFromContext returns the document-s3-bucket-owner input of the
// ExecuteDocument step that called Env.RunDocument ("" when not set).
func BucketOwnerFromContext(ctx context.Context) string {
	s, _ := ctx.Value(bucketOwnerKey{}).(string)
	return s
}

// Run hands the nested execution to env.RunDocument and returns its summary
// as the step outputs.
func (m executeDocument) Run(ctx context.Context, env *Env, in any) (Result, error) {
	if err := errProblems(m.Name(), m.Check(in)); err != nil {
		return Result{}, err
	}
	if env == nil || env.RunDocument == nil {
		return Result{}, fmt.Errorf("ExecuteDocument: nested documents cannot be run here (the engine provided no document runner)")
	}
	v, err := single(in)
	if err != nil {
		return Result{}, fmt.Errorf("ExecuteDocument: %w", err)
	}
	var phases []string
	for _, ph := range strings.Split(v.str("phases"), ",") {
		if ph = strings.TrimSpace(ph); ph != "" {
			phases = append(phases, ph)
		}
	}
	params := map[string]string{}
	list, _ := v["parameters"].([]any)
	for _, it := range list {
		pm := values(it.(map[string]any))
		params[pm.str("name")] = pm.str("value")
	}
	if owner := v.str("document-s3-bucket-owner"); owner != "" {
		ctx = context.WithValue(ctx, bucketOwnerKey{}, owner)
	}
	out, err := env.RunDocument(ctx, v.str("document"), phases, params)
	res := Result{Outputs: out}
	if err != nil {
		return res, fmt.Errorf("ExecuteDocument %s: %w", v.str("document"), err)
	}
	return res, nil
}

// --------------------------------------------------------------------- Reboot

type reboot struct{}

var rebootSpec = spec{{"delaySeconds", kInt, false}}

func (reboot) Name() string { return "Reboot" }

func (reboot) Check(in any) []Problem { return checkSingle(in, rebootSpec, nil) }

// Run waits delaySeconds and then asks the engine to reboot; execution
// resumes with the next step.
func (m reboot) Run(ctx context.Context, env *Env, in any) (Result, error) {
	if err := errProblems(m.Name(), m.Check(in)); err != nil {
		return Result{}, err
	}
	v, err := single(in)
	if err != nil {
		return Result{}, fmt.Errorf("action Reboot: %w", err)
	}
	delay, err := v.integer("delaySeconds", 0)
	if err != nil {
		return Result{}, fmt.Errorf("action Reboot: %w", err)
	}
	if delay > 0 {
		env.logger().Info("delaying reboot", "seconds", delay)
		t := time.NewTimer(time.Duration(delay) * time.Second)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return Result{}, fmt.Errorf("action Reboot: delay interrupted: %w", ctx.Err())
		case <-t.C:
		}
	}
	return Result{Reboot: true, RetryStepAfterReboot: false}, nil
}
