package dockerfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/goldsmith/goldsmith/internal/instance/container"
)

// Options configure Build.
type Options struct {
	// Base resolves the FROM reference (after ARG expansion) to an image;
	// the caller maps Image Builder image ARNs and registry references.
	// "scratch" never reaches Base.
	Base func(ctx context.Context, ref string) (v1.Image, error)
	// ContextDir is the build context COPY and ADD read from ("" = none).
	ContextDir string
	// ScratchDir is a directory Build owns for the duration of the build:
	// the unpacked base (lower/, without LayerCache), one sandbox directory
	// per layer and the new layers (layer-N.tar.gz). The layers of
	// Result.Image are read from it, so the caller removes it only after
	// writing or pushing the image.
	ScratchDir string
	// LayerCache, when set, supplies the base image's layers unpacked
	// (shared with other builds) instead of unpacking them into
	// ScratchDir/lower.
	LayerCache *container.LayerCache
	// Network gives RUN the host's network (false: loopback only).
	Network bool
	// Runner is the sandboxes' runner binary (container.Options.Runner;
	// "" = one runc container per RUN).
	Runner string
	// Args are build arguments (docker build --build-arg): they override
	// the defaults of declared ARGs.
	Args map[string]string
	// Squash puts all the changes of the build into one layer instead of
	// one layer per run of consecutive filesystem instructions.
	Squash bool
	// LogDir, when set, receives the toe logs written under
	// /goldsmith/logs by the components RUN (see StagePath).
	LogDir string
	// Launched, when set, is the first layer's sandbox opened ahead by
	// Launch: Build uses it when the base image is the one it was opened
	// over, and closes it in any case.
	Launched *Launched
	// DeferClose, when set, receives what a successful Build has left to
	// do once its last layer is written: close the last sandbox (its runc
	// container ends, its overlay is unmounted) and remove the sandboxes'
	// directories. Build then returns without waiting for it; the caller
	// runs it, in the background as a rule, and must have run it before
	// it removes ScratchDir. A Build that fails closes everything itself.
	DeferClose func(close func() error)
	// Stdout and Stderr receive the output of RUN instructions (nil: dropped).
	Stdout, Stderr io.Writer
	// OnStep is called when a step starts and when it ends.
	OnStep func(Step)
	// Log receives debug records (nil: slog.Default()).
	Log *slog.Logger

	rt *sandboxRuntime // nil: the container package
}

// StepStatus is the state of a Step.
type StepStatus string

// Step states.
const (
	StepRunning   StepStatus = "RUNNING"
	StepCompleted StepStatus = "COMPLETED"
	StepFailed    StepStatus = "FAILED"
)

// Step is the execution of one instruction. Step 0 is FROM (resolving and,
// lazily, unpacking the base); step i is the i-th instruction after it.
type Step struct {
	Index       int
	Instruction string // as written
	Line        int
	Status      StepStatus
	Start, End  time.Time
	ExitCode    int   // RUN: the process's exit code
	Err         error // when Status is FAILED
}

// Result is a built image and the steps that built it.
type Result struct {
	Image v1.Image
	Steps []Step
}

// StepError is the error of a failed step: it names the instruction and its
// line and, for RUN, carries the exit code and the tail of the output.
type StepError struct {
	Step     Step
	ExitCode int    // RUN only, -1 otherwise
	Tail     string // RUN only: the last bytes of stdout and stderr
	Err      error
}

func (e *StepError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "step %d (line %d) %s: ", e.Step.Index, e.Step.Line, e.Step.Instruction)
	if e.ExitCode > 0 {
		fmt.Fprintf(&b, "exit code %d", e.ExitCode)
		if e.ExitCode == 194 {
			b.WriteString(" (a reboot was requested; reboots are not possible in a container build)")
		}
		if t := strings.TrimSpace(e.Tail); t != "" {
			b.WriteString("; output ends with:\n" + t)
		}
		return b.String()
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *StepError) Unwrap() error { return e.Err }

// Build executes a Dockerfile daemonless. The base image's layers are
// unpacked once into ScratchDir/lower (or taken from Options.LayerCache);
// filesystem instructions (RUN, COPY, ADD, WORKDIR) run in a sandbox over
// it, and each later sandbox is stacked on the upper directories of the
// earlier ones. Consecutive filesystem
// instructions share one sandbox and their changes become one OCI layer
// (a gzip-compressed tar, a FileLayer); any other instruction in between ends
// the layer (Options.Squash: one layer for the whole build). ENV, WORKDIR,
// USER, LABEL, MAINTAINER, ENTRYPOINT, CMD, EXPOSE, VOLUME, SHELL,
// HEALTHCHECK, STOPSIGNAL and ONBUILD change the image configuration;
// build arguments are in the environment of RUN but not in the image.
func Build(ctx context.Context, dockerfile string, o Options) (*Result, error) {
	df, err := Parse(dockerfile)
	if err != nil {
		return nil, err
	}
	if o.ScratchDir == "" {
		return nil, errors.New("dockerfile build: no scratch directory")
	}
	if err := os.MkdirAll(o.ScratchDir, 0o700); err != nil {
		return nil, fmt.Errorf("dockerfile build: %w", err)
	}
	o.rt = o.runtime()
	if o.Log == nil {
		o.Log = slog.Default()
	}
	b := &builder{o: o, df: df, lex: shell.NewLex(df.escape), lower: filepath.Join(o.ScratchDir, "lower")}
	res := &Result{}
	err = b.run(ctx, res)
	if err != nil {
		b.cleanup(context.WithoutCancel(ctx))
		return res, err
	}
	if o.DeferClose != nil {
		o.DeferClose(func() error { return b.cleanup(context.WithoutCancel(ctx)) })
	} else {
		_ = b.cleanup(context.WithoutCancel(ctx)) // logged
	}
	res.Image = b.img
	return res, nil
}

// builder is the state of one Build.
type builder struct {
	o   Options
	df  *Dockerfile
	lex *shell.Lex

	img      v1.Image
	cfg      *v1.ConfigFile // the working configuration
	history  []v1.History   // this build's history entries
	args     map[string]string
	metaArgs map[string]string
	shell    []string
	cmdSet   bool // CMD given in this Dockerfile

	lower     string   // where the base is unpacked without a LayerCache
	lowers    []string // the next sandbox's lowers, top-most first (nil: base not ready)
	kept      []string // upper directories of the closed sandboxes, removed by cleanup
	sb        sandbox
	last      sandbox // the last layer's sandbox, its layer written, closed by cleanup
	sbIndex   int
	groupFrom int // history index of the group's first instruction
	staged    bool
}

func (b *builder) run(ctx context.Context, res *Result) error {
	step := func(idx int, ins Instruction, fn func() error) error {
		s := Step{Index: idx, Instruction: ins.Text, Line: ins.Line, Status: StepRunning, Start: time.Now()}
		b.notify(s)
		err := fn()
		s.End = time.Now()
		if err != nil {
			s.Status, s.Err = StepFailed, err
			var se *StepError
			if errors.As(err, &se) {
				s.ExitCode = se.ExitCode
				se.Step = s
			} else {
				err = &StepError{Step: s, ExitCode: -1, Err: err}
			}
		} else {
			s.Status = StepCompleted
		}
		res.Steps = append(res.Steps, s)
		b.notify(s)
		return err
	}
	from := Instruction{Name: "FROM", Line: b.df.From.Line, Text: "FROM " + b.df.From.Image}
	if err := step(0, from, func() error { return b.from(ctx) }); err != nil {
		return err
	}
	for i, ins := range b.df.Instructions {
		if err := step(i+1, ins, func() error { return b.exec(ctx, ins) }); err != nil {
			return err
		}
	}
	last := len(b.df.Instructions)
	return step(last+1, Instruction{Name: "COMMIT", Line: 0, Text: "(commit)"}, func() error { return b.commit(ctx) })
}

func (b *builder) notify(s Step) {
	if b.o.OnStep != nil {
		b.o.OnStep(s)
	}
}

// from resolves the base and sets up the working configuration.
func (b *builder) from(ctx context.Context) error {
	b.metaArgs = map[string]string{}
	for _, ins := range b.df.MetaArgs {
		if err := b.declareArgs(ins.cmd.(*instructions.ArgCommand), b.metaArgs, nil); err != nil {
			return err
		}
	}
	ref, err := b.expand(b.df.From.Image, b.metaArgs, nil)
	if err != nil {
		return err
	}
	if p := b.df.From.Platform; p != "" {
		p, err = b.expand(p, b.metaArgs, nil)
		if err != nil {
			return err
		}
		if want := "linux/" + runtime.GOARCH; p != want {
			return fmt.Errorf("platform %s is not supported (only %s)", p, want)
		}
	}
	if ref == "" {
		return errors.New("empty base image reference")
	}
	if ref == "scratch" {
		b.img, err = mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: runtime.GOARCH,
			RootFS: v1.RootFS{Type: "layers"}})
		if err != nil {
			return fmt.Errorf("scratch image: %w", err)
		}
	} else {
		if b.o.Base == nil {
			return fmt.Errorf("no resolver for the base image %s", ref)
		}
		b.img, err = b.o.Base(ctx, ref)
		if err != nil {
			return fmt.Errorf("resolving the base image %s: %w", ref, err)
		}
	}
	cf, err := b.img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading the configuration of %s: %w", ref, err)
	}
	b.cfg = cf.DeepCopy()
	b.args = map[string]string{}
	b.shell = append([]string(nil), b.cfg.Config.Shell...)
	if len(b.shell) == 0 {
		b.shell = []string{"/bin/sh", "-c"}
	}
	return nil
}

// exec executes one instruction after FROM.
func (b *builder) exec(ctx context.Context, ins Instruction) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fsOp := isFilesystem(ins.cmd)
	if !fsOp && b.sb != nil && !b.o.Squash {
		if err := b.endGroup(ctx, false); err != nil {
			return err
		}
	}
	if fsOp {
		if err := b.ensureSandbox(ctx); err != nil {
			return err
		}
	}
	b.history = append(b.history, v1.History{Created: v1.Time{Time: time.Now().UTC()}, CreatedBy: ins.Text,
		Comment: "goldsmith", EmptyLayer: true})
	switch c := ins.cmd.(type) {
	case *instructions.RunCommand:
		return b.runCmd(ctx, c)
	case *instructions.CopyCommand:
		if err := b.expandCmd(c); err != nil {
			return err
		}
		return b.copyCmd(ctx, c.SourcePaths, c.DestPath, c.Chown, c.Chmod, false)
	case *instructions.AddCommand:
		if err := b.expandCmd(c); err != nil {
			return err
		}
		return b.copyCmd(ctx, c.SourcePaths, c.DestPath, c.Chown, c.Chmod, true)
	case *instructions.WorkdirCommand:
		return b.workdir(c)
	default:
		return b.configure(ins.cmd)
	}
}

func isFilesystem(cmd instructions.Command) bool {
	switch cmd.(type) {
	case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand, *instructions.WorkdirCommand:
		return true
	}
	return false
}

// ensureSandbox opens the sandbox of the current layer group, over the
// upper directories of the previous groups and the base (unpacked on the
// first call).
func (b *builder) ensureSandbox(ctx context.Context) error {
	if b.sb != nil {
		return nil
	}
	if took, err := b.takeLaunched(); took || err != nil {
		if err != nil {
			return fmt.Errorf("closing the launched build sandbox: %w", err)
		}
		return nil
	}
	if b.lowers == nil {
		base, err := b.baseLower(ctx)
		if err != nil {
			return err
		}
		b.lowers = []string{base}
	}
	b.sbIndex++
	sb, err := b.o.openSandbox(ctx, b.lowers, b.sbIndex)
	if err != nil {
		return fmt.Errorf("opening a build sandbox: %w", err)
	}
	b.sb, b.groupFrom = sb, len(b.history)
	return nil
}

// baseLower returns the directory of the base image's filesystem: from
// the layer cache, or unpacked into lower.
func (b *builder) baseLower(ctx context.Context) (string, error) {
	layers, err := b.img.Layers()
	if err != nil {
		return "", fmt.Errorf("reading the base image's layers: %w", err)
	}
	if b.o.LayerCache != nil {
		dir, err := b.o.LayerCache.Lower(ctx, layers)
		if err != nil {
			return "", fmt.Errorf("unpacking the base image: %w", err)
		}
		return dir, nil
	}
	if err := os.MkdirAll(b.lower, 0o755); err != nil {
		return "", fmt.Errorf("creating the lower directory: %w", err)
	}
	for i, l := range layers {
		if err := b.apply(ctx, l); err != nil {
			return "", fmt.Errorf("unpacking layer %d: %w", i+1, err)
		}
	}
	return b.lower, nil
}

func (b *builder) apply(ctx context.Context, l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	return b.o.rt.unpack(ctx, rc, b.lower)
}

// endGroup turns the open sandbox's changes into a layer and closes it;
// the build's last one (last) is left to cleanup to close.
func (b *builder) endGroup(ctx context.Context, last bool) error {
	sb := b.sb
	b.sb = nil
	if last {
		b.last = sb
	} else {
		defer sb.Close()
	}
	if err := b.unstage(ctx, sb.RootFS()); err != nil {
		return err
	}
	path := filepath.Join(b.o.ScratchDir, fmt.Sprintf("layer-%d.tar.gz", b.sbIndex))
	layer, err := writeLayerFile(path, func(w io.Writer) error { return sb.WriteLayer(ctx, w) })
	if err != nil {
		return err
	}
	if !last {
		// The next group's sandbox stacks on this one's changes.
		keep := filepath.Join(b.o.ScratchDir, fmt.Sprintf("upper-%d", b.sbIndex))
		b.kept = append(b.kept, keep)
		if err := sb.CloseKeepingUpper(keep); err != nil {
			return fmt.Errorf("closing the build sandbox: %w", err)
		}
		b.lowers = append([]string{keep}, b.lowers...)
	}
	b.img, err = mutate.AppendLayers(b.img, layer)
	if err != nil {
		return fmt.Errorf("appending the new layer: %w", err)
	}
	// The group's last instruction carries the layer in the history.
	if n := len(b.history); n > b.groupFrom {
		b.history[n-1].EmptyLayer = false
		if n-1 > b.groupFrom {
			b.history[n-1].Comment = fmt.Sprintf("goldsmith: the layer of the last %d instructions", n-b.groupFrom)
		}
	}
	return nil
}

// commit closes the last layer group and writes the final configuration.
func (b *builder) commit(ctx context.Context) error {
	if b.sb != nil {
		if err := b.endGroup(ctx, true); err != nil {
			return err
		}
	}
	cf, err := b.img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading the image configuration: %w", err)
	}
	out := cf.DeepCopy()
	out.Config = b.cfg.Config
	out.Author = b.cfg.Author
	out.Created = v1.Time{Time: time.Now().UTC()}
	out.History = append(b.cfg.History[:len(b.cfg.History):len(b.cfg.History)], b.history...)
	if out.OS == "" {
		out.OS = "linux"
	}
	if out.Architecture == "" {
		out.Architecture = runtime.GOARCH
	}
	b.img, err = mutate.ConfigFile(b.img, out)
	if err != nil {
		return fmt.Errorf("writing the image configuration: %w", err)
	}
	return nil
}

// cleanup closes the last layer's sandbox and one left open by a failure,
// and removes the unpacked base and the kept upper directories; the layer
// files stay (Result.Image reads them). Its errors are also logged.
func (b *builder) cleanup(ctx context.Context) error {
	var errs []error
	warn := func(msg string, err error, args ...any) {
		if err != nil {
			b.o.Log.Warn(msg, append(args, "err", err)...)
			errs = append(errs, fmt.Errorf("%s: %w", msg, err))
		}
	}
	warn("closing the launched build sandbox", b.o.Launched.Close())
	if b.last != nil {
		warn("closing the build sandbox", b.last.Close())
		b.last = nil
	}
	if b.sb != nil {
		warn("keeping the logs of a failed build", b.unstage(ctx, b.sb.RootFS()))
		warn("closing the build sandbox", b.sb.Close())
		b.sb = nil
	}
	for _, d := range append(b.kept, b.lower) {
		warn("removing a build's lower directory", os.RemoveAll(d), "dir", d)
	}
	return errors.Join(errs...)
}
