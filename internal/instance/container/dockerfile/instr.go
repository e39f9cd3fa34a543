package dockerfile

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/goldsmith/goldsmith/internal/tailbuf"
)

// defaultPath is the PATH of RUN when the image sets none (as Docker's).
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// tailSize is how much output a failed RUN's error carries.
const tailSize = 2048

// expansionEnv is the environment ${VAR} references are expanded in: the
// declared build arguments, overridden by the image's ENV.
func (b *builder) expansionEnv(args map[string]string, env []string) shell.EnvGetter {
	kv := make([]string, 0, len(args)+len(env))
	for _, k := range slices.Sorted(maps.Keys(args)) {
		kv = append(kv, k+"="+args[k])
	}
	return shell.EnvsFromSlice(append(kv, env...))
}

func (b *builder) expand(word string, args map[string]string, env []string) (string, error) {
	out, _, err := b.lex.ProcessWord(word, b.expansionEnv(args, env))
	if err != nil {
		return "", fmt.Errorf("expanding %q: %w", word, err)
	}
	return out, nil
}

// expandCmd expands variables in an instruction's arguments.
func (b *builder) expandCmd(c instructions.SupportsSingleWordExpansion) error {
	env := b.expansionEnv(b.args, b.cfg.Config.Env)
	return c.Expand(func(word string) (string, error) {
		out, _, err := b.lex.ProcessWord(word, env)
		return out, err
	})
}

// declareArgs declares ARGs into dst: the build argument when given, else
// the default, else (inside the stage) the value of the same meta ARG.
func (b *builder) declareArgs(c *instructions.ArgCommand, dst, meta map[string]string) error {
	for _, a := range c.Args {
		key := a.Key
		if v, ok := b.o.Args[key]; ok {
			dst[key] = v
			continue
		}
		if a.Value != nil {
			v, err := b.expand(*a.Value, dst, b.envOrNil())
			if err != nil {
				return err
			}
			dst[key] = v
			continue
		}
		if v, ok := meta[key]; ok {
			dst[key] = v
			continue
		}
		delete(dst, key) // declared without a value: unset
	}
	return nil
}

func (b *builder) envOrNil() []string {
	if b.cfg == nil {
		return nil
	}
	return b.cfg.Config.Env
}

// runEnv is the environment of a RUN: the image's ENV, plus the build
// arguments ENV does not set, plus a default PATH.
func (b *builder) runEnv() []string {
	env := slices.Clone(b.cfg.Config.Env)
	for _, k := range slices.Sorted(maps.Keys(b.args)) {
		if !hasEnv(env, k) {
			env = append(env, k+"="+b.args[k])
		}
	}
	if !hasEnv(env, "PATH") {
		env = append(env, defaultPath)
	}
	return env
}

func hasEnv(env []string, key string) bool {
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			return true
		}
	}
	return false
}

func setEnv(env []string, key, value string) []string {
	for i, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			env[i] = key + "=" + value
			return env
		}
	}
	return append(env, key+"="+value)
}

// cmdline is an instruction's argv: the exec form as is, the shell form
// through the current SHELL.
func (b *builder) cmdline(c instructions.ShellDependantCmdLine) []string {
	if c.PrependShell {
		return append(slices.Clone(b.shell), strings.Join(c.CmdLine, " "))
	}
	return slices.Clone(c.CmdLine)
}

func (b *builder) cwd() string {
	if b.cfg.Config.WorkingDir == "" {
		return "/"
	}
	return b.cfg.Config.WorkingDir
}

// runCmd executes RUN in the open sandbox.
func (b *builder) runCmd(ctx context.Context, c *instructions.RunCommand) error {
	args := b.cmdline(c.ShellDependantCmdLine)
	if len(args) == 0 {
		return fmt.Errorf("empty command")
	}
	tail := tailbuf.New(tailSize)
	code, err := b.sb.Run(ctx, process{
		Args:   args,
		Env:    b.runEnv(),
		Cwd:    b.cwd(),
		User:   b.cfg.Config.User,
		Stdout: writers(b.o.Stdout, tail),
		Stderr: writers(b.o.Stderr, tail),
	})
	if err != nil {
		return fmt.Errorf("running %q: %w", args, err)
	}
	if code != 0 {
		return &StepError{ExitCode: code, Tail: tail.String(), Err: fmt.Errorf("exit code %d", code)}
	}
	return nil
}

// workdir sets WORKDIR and creates the directory, as Docker does.
func (b *builder) workdir(c *instructions.WorkdirCommand) error {
	if err := b.expandCmd(c); err != nil {
		return err
	}
	p := c.Path
	if !path.IsAbs(p) {
		p = path.Join(b.cwd(), p)
	}
	p = path.Clean(p)
	b.cfg.Config.WorkingDir = p
	root, err := os.OpenRoot(b.sb.RootFS())
	if err != nil {
		return fmt.Errorf("opening the build root: %w", err)
	}
	defer root.Close()
	if err := mkdirAll(root, p); err != nil {
		return fmt.Errorf("creating %s: %w", p, err)
	}
	return nil
}

// configure applies an instruction that only changes the configuration.
func (b *builder) configure(cmd instructions.Command) error {
	if e, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
		if _, isArg := cmd.(*instructions.ArgCommand); !isArg {
			if err := b.expandCmd(e); err != nil {
				return err
			}
		}
	}
	cfg := &b.cfg.Config
	switch c := cmd.(type) {
	case *instructions.ArgCommand:
		return b.declareArgs(c, b.args, b.metaArgs)
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
		}
	case *instructions.UserCommand:
		cfg.User = c.User
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
		}
	case *instructions.MaintainerCommand:
		b.cfg.Author = c.Maintainer
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = b.cmdline(c.ShellDependantCmdLine)
		if !b.cmdSet {
			cfg.Cmd = nil // as Docker: ENTRYPOINT drops an inherited CMD
		}
	case *instructions.CmdCommand:
		cfg.Cmd, b.cmdSet = b.cmdline(c.ShellDependantCmdLine), true
	case *instructions.ExposeCommand:
		return b.expose(c.Ports)
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if strings.TrimSpace(v) == "" {
				return fmt.Errorf("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
	case *instructions.ShellCommand:
		b.shell = slices.Clone(c.Shell)
		cfg.Shell = slices.Clone(c.Shell)
	case *instructions.HealthCheckCommand:
		h := c.Health
		cfg.Healthcheck = &v1.HealthConfig{Test: slices.Clone(h.Test), Interval: h.Interval,
			Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	case *instructions.StopSignalCommand:
		cfg.StopSignal = c.Signal
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
	default:
		return fmt.Errorf("instruction %s is not supported", cmd.Name())
	}
	return nil
}

// expose adds EXPOSE ports ("80" means "80/tcp"; ranges are kept as written).
func (b *builder) expose(ports []string) error {
	cfg := &b.cfg.Config
	if cfg.ExposedPorts == nil {
		cfg.ExposedPorts = map[string]struct{}{}
	}
	env := b.expansionEnv(b.args, cfg.Env)
	for _, p := range ports {
		words, err := b.lex.ProcessWords(p, env)
		if err != nil {
			return fmt.Errorf("expanding %q: %w", p, err)
		}
		for _, w := range words {
			port, proto, ok := strings.Cut(w, "/")
			if !ok {
				proto = "tcp"
			}
			proto = strings.ToLower(proto)
			if port == "" || strings.Trim(port, "0123456789-") != "" || (proto != "tcp" && proto != "udp" && proto != "sctp") {
				return fmt.Errorf("invalid port %q", w)
			}
			cfg.ExposedPorts[port+"/"+proto] = struct{}{}
		}
	}
	return nil
}

// writers fans out to the non-nil writers.
func writers(ws ...io.Writer) io.Writer {
	var out []io.Writer
	for _, w := range ws {
		if w != nil {
			out = append(out, w)
		}
	}
	return io.MultiWriter(out...)
}
