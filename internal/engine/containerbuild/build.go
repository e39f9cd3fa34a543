package containerbuild

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/goldsmith/goldsmith/internal/artifact/registry"
	"github.com/goldsmith/goldsmith/internal/instance/container"
	"github.com/goldsmith/goldsmith/internal/instance/container/dockerfile"
)

// Names and actions of the steps of the build stage (the managed
// build-container workflow, documents.md §2.9).
const (
	StepLaunchBuild    = "LaunchBuildInstance"
	StepBootstrapBuild = "BootstrapBuildInstance"
	StepApplyBuild     = "ApplyBuildComponents"

	ActionLaunchInstance    = "LaunchInstance"
	ActionBootstrap         = "BootstrapInstanceForContainer"
	ActionExecuteComponents = "ExecuteComponents"
)

// Log file names under LogDir/<stage>/.
const (
	StdoutLog      = "stdout.log"
	StderrLog      = "stderr.log"
	DockerfileLog  = "Dockerfile"
	ToeLogsDir     = "toe"
	stageBuildName = "build"
)

// BuildStage builds the image: it resolves the parent image (ParentRef,
// pulled lazily with go-containerregistry), stages goldsmith and the BUILD
// components into the build context, renders the recipe's Dockerfile
// template (the components block runs `goldsmith toe run` with the phases
// build,validate, the recipe's parameters and workingDirectory), builds it
// daemonless (package dockerfile) and stores the result as an OCI layout in
// ScratchDir. A failing component fails the stage with an error naming the
// component and the toe step (read from toe's detailedoutput.json, kept in
// LogDir/build/toe). Cancelling ctx stops the running step; the error then
// wraps ctx's error. Calling BuildStage again redoes the build from
// scratch.
func BuildStage(ctx context.Context, s Spec, onStep StepFunc) (*BuildResult, error) {
	st := &stepper{onStep: onStep}
	res := &BuildResult{}
	err := buildStage(ctx, s, st)
	res.Steps = st.steps
	if err != nil {
		return res, fmt.Errorf("build stage: %w", err)
	}
	return res, nil
}

func buildStage(ctx context.Context, s Spec, st *stepper) (err error) {
	if err := s.validate(); err != nil {
		return err
	}
	if s.Recipe == nil {
		return errors.New("no container recipe")
	}
	if strings.TrimSpace(s.Recipe.DockerfileTemplateData) == "" {
		return errors.New("the recipe has no dockerfileTemplateData (the caller resolves dockerfileTemplateUri)")
	}
	work := s.path(buildDir)
	if err := s.Background.Wait(); err != nil { // an earlier run still cleaning up
		slog.WarnContext(ctx, "cleaning up after an earlier build stage", "err", err)
	}
	if err := resetDir(ctx, work); err != nil {
		return err
	}
	// With a Background, the last sandbox closes and the working directory
	// goes while the build goes on.
	var closeLater func() error
	defer func() {
		if closeLater == nil {
			removeWorkDir(context.WithoutCancel(ctx), work, err == nil)
			return
		}
		if err == nil {
			s.Background.Go(func() error { return errors.Join(closeLater(), os.RemoveAll(work)) })
			return
		}
		if cerr := closeLater(); cerr != nil {
			slog.WarnContext(ctx, "closing the build sandbox", "err", cerr)
		}
		removeWorkDir(context.WithoutCancel(ctx), work, false)
	}()
	for _, p := range []string{s.path(buildStateFile), s.path(imageDir)} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("removing the previous build: %w", err)
		}
	}
	logs, err := s.logDir(stageBuildName)

	if err != nil {
		return err
	}

	cache := s.LayerCache
	scratch := filepath.Join(work, "scratch")
	var parent v1.Image
	var launched *dockerfile.Launched
	defer func() {
		if cerr := launched.Close(); cerr != nil {
			slog.WarnContext(ctx, "closing the launched build sandbox", "err", cerr)
		}
	}()
	err = st.run(ctx, StepLaunchBuild, ActionLaunchInstance, map[string]string{"parentImage": s.ParentRef},
		func(out map[string]string) (string, error) {
			img, d, err := s.pull(ctx, s.ParentRef)
			if err != nil {
				return "", err
			}
			parent = img
			out["parentImageDigest"] = d.String()
			// The sandbox of the first layer comes up while the next step
			// renders the Dockerfile and stages the components.
			if cache != nil {
				if launched, err = dockerfile.Launch(ctx, s.dockerfileOptions(scratch, cache), img); err != nil {
					return "", err
				}
			}
			return "", nil
		})
	if err != nil {
		return err
	}

	var rendered string
	var staged []stagedComponent
	contextDir := filepath.Join(work, "context")
	err = st.run(ctx, StepBootstrapBuild, ActionBootstrap, nil, func(out map[string]string) (string, error) {
		var err error
		rendered, staged, err = s.render(ctx, contextDir)
		if err != nil {
			return "", err
		}
		dfLog := filepath.Join(logs, DockerfileLog)
		if err := os.WriteFile(dfLog, []byte(rendered), 0o644); err != nil {
			return "", fmt.Errorf("keeping the Dockerfile: %w", err)
		}
		out["dockerfile"] = dfLog
		out["components"] = fmt.Sprint(len(staged))
		return "", nil
	})
	if err != nil {
		return err
	}

	inputs := map[string]string{"parentImage": s.ParentRef, "phases": dockerfile.BuildPhases,
		"workingDirectory": workingDirectory(s)}
	return st.run(ctx, StepApplyBuild, ActionExecuteComponents, inputs, func(out map[string]string) (string, error) {
		out["logDir"] = logs
		l := launched
		launched = nil // Build takes it over
		var deferClose func(func() error)
		if s.Background != nil {
			deferClose = func(f func() error) { closeLater = f }
		}
		img, err := s.build(ctx, rendered, contextDir, scratch, logs, parent, cache, l, deferClose)
		if err != nil {
			if desc := toeFailure(latestDetailedOutput(filepath.Join(logs, ToeLogsDir)), staged); desc != "" {
				return "", &componentError{desc: desc, logs: logs, err: err}
			}
			return "", err
		}
		d, err := writeImage(s, img, cache, layerDigests(parent))
		if err != nil {
			return "", err
		}
		out["imageDigest"] = d.String()
		if f := latestDetailedOutput(filepath.Join(logs, ToeLogsDir)); f != "" {
			out["detailedOutput"] = f
		}
		return "", nil
	})
}

// layerDigests lists img's layer digests (none when img is nil or its
// manifest cannot be read: they are only an optimization).
func layerDigests(img v1.Image) []v1.Hash {
	if img == nil {
		return nil
	}
	m, err := img.Manifest()
	if err != nil {
		return nil
	}
	out := make([]v1.Hash, len(m.Layers))
	for i, l := range m.Layers {
		out[i] = l.Digest
	}
	return out
}

// render stages goldsmith and the BUILD components into contextDir and
// renders the Dockerfile template.
func (s Spec) render(ctx context.Context, contextDir string) (string, []stagedComponent, error) {
	if err := os.MkdirAll(contextDir, 0o755); err != nil {
		return "", nil, fmt.Errorf("creating the build context: %w", err)
	}
	var comps []Component
	for _, c := range s.Components {
		if !strings.EqualFold(c.Type, TypeTest) {
			comps = append(comps, c)
		}
	}
	wd := workingDirectory(s)
	var block string
	var staged []stagedComponent
	if len(comps) > 0 {
		if s.GoldsmithBinary == "" {
			return "", nil, errors.New("no goldsmith binary to run the components with")
		}
		sc, err := dockerfile.Stage(ctx, contextDir, s.GoldsmithBinary, stageInput(comps), wd)
		if err != nil {
			return "", nil, err
		}
		for i, p := range sc.Paths {
			staged = append(staged, stagedComponent{path: p, comp: comps[i]})
		}
		block = dockerfile.ComponentsBlock(sc)
	}
	out, err := dockerfile.Render(s.Recipe.DockerfileTemplateData, dockerfile.Vars{
		ParentImage:  s.ParentRef,
		Environments: dockerfile.EnvironmentsBlock(wd),
		Components:   block,
	})
	if err != nil {
		return "", nil, err
	}
	return out, staged, nil
}

// dockerfileOptions are the options of the build's Dockerfile (without
// what only Build uses).
func (s Spec) dockerfileOptions(scratch string, cache *container.LayerCache) dockerfile.Options {
	return dockerfile.Options{LayerCache: cache, ScratchDir: scratch, Network: s.Network, Runner: s.RunnerBinary}
}

// build runs the Dockerfile.
func (s Spec) build(ctx context.Context, df, contextDir, scratch, logs string, parent v1.Image,
	cache *container.LayerCache, launched *dockerfile.Launched, deferClose func(func() error)) (v1.Image, error) {
	handed := false // Build closes launched in any case
	defer func() {
		if !handed {
			_ = launched.Close()
		}
	}()
	stdout, err := openLog(logs, StdoutLog)
	if err != nil {
		return nil, err
	}
	defer stdout.Close()
	stderr, err := openLog(logs, StderrLog)
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	o := s.dockerfileOptions(scratch, cache)
	o.Base = func(ctx context.Context, ref string) (v1.Image, error) {
		if ref == s.ParentRef && parent != nil {
			return parent, nil
		}
		img, _, err := s.pull(ctx, ref)
		return img, err
	}
	o.ContextDir, o.LogDir, o.Stdout, o.Stderr = contextDir, filepath.Join(logs, ToeLogsDir), stdout, stderr
	o.Launched, handed = launched, true
	o.DeferClose = deferClose
	res, err := dockerfile.Build(ctx, df, o)
	if err != nil {
		return nil, err
	}
	return res.Image, nil
}

func stageInput(comps []Component) []dockerfile.Component {
	out := make([]dockerfile.Component, len(comps))
	for i, c := range comps {
		out[i] = dockerfile.Component{Name: c.Name, Document: c.Document, Parameters: c.Parameters}
	}
	return out
}

func workingDirectory(s Spec) string {
	if s.Recipe != nil && s.Recipe.WorkingDirectory != "" {
		return s.Recipe.WorkingDirectory
	}
	return dockerfile.DefaultWorkingDirectory
}

// pull resolves a registry reference to an image (layers are fetched
// lazily): through the built-in registry's storage when it is on that
// registry and names an image manifest, else over HTTP. The target's
// Insecure applies to references on the target's registry; loopback
// registries are plain http anyway.
func (s Spec) pull(ctx context.Context, ref string) (v1.Image, v1.Hash, error) {
	if strings.TrimSpace(ref) == "" {
		return nil, v1.Hash{}, errors.New("no parent image reference")
	}
	r, err := name.ParseReference(ref, s.nameOptions(ref)...)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("parent image %q: %w", ref, err)
	}
	var img v1.Image
	if path, ok := s.BuiltIn.local(r.Context()); ok {
		img, err = s.BuiltIn.Store.Image(ctx, path, r.Identifier())
	}
	if img == nil && (err == nil || errors.Is(err, registry.ErrNotImage)) {
		img, err = remote.Image(r, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	return img, d, nil
}

func (s Spec) nameOptions(ref string) []name.Option {
	if !s.Target.Insecure || s.Target.Repository == "" {
		return nil
	}
	tr, err := name.NewRepository(s.Target.Repository)
	if err != nil {
		return nil
	}
	r, err := name.ParseReference(ref)
	if err != nil || r.Context().RegistryStr() != tr.RegistryStr() {
		return nil
	}
	return []name.Option{name.Insecure}
}

// removeWorkDir removes a stage's working directory when the stage ends.
// Build and TestStage close their sandboxes themselves, so a stage that
// succeeded only removes files; after a failure container.Cleanup looks
// for leftovers first.
func removeWorkDir(ctx context.Context, dir string, succeeded bool) {
	var err error
	if succeeded {
		err = os.RemoveAll(dir)
	} else {
		err = removeSandboxes(ctx, dir)
	}
	if err != nil {
		slog.WarnContext(ctx, "removing a stage's working directory", "dir", dir, "err", err)
	}
}

// resetDir removes what a previous attempt left in dir (sandboxes
// included) and creates it again.
func resetDir(ctx context.Context, dir string) error {
	if err := removeSandboxes(ctx, dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return nil
}

// removeSandboxes stops the runc containers and unmounts the overlays under
// dir (container.Cleanup), then removes dir.
func removeSandboxes(ctx context.Context, dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := container.Cleanup(ctx, dir); err != nil {
		return fmt.Errorf("cleaning up sandboxes under %s: %w", dir, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}
