package containerbuild

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/instance/container"
)

// Component is one resolved component of the recipe, in recipe order.
type Component struct {
	ARN, Name  string
	Type       string // BUILD or TEST
	Document   []byte // the YAML document, in clear
	Parameters map[string]string
}

// Component types.
const (
	TypeBuild = "BUILD"
	TypeTest  = "TEST"
)

// Target is where DistributeStage pushes.
type Target struct {
	Repository string // host:port/name, e.g. 127.0.0.1:8601/my-repo
	Tags       []string
	Insecure   bool // plain http (the built-in registry)
	// Username and Password authenticate to the target registry (basic
	// auth); empty: the default keychain (~/.docker/config.json).
	Username, Password string
}

// BuiltIn is the registry that runs in this process (goldsmith's own):
// images on it are read and stored through Store rather than over HTTP.
type BuiltIn struct {
	Addr  string // host:port, as references to it name it
	Store LocalRegistry
}

// LocalRegistry reads and stores images straight in a registry's storage
// (registry.Registry), repository being the path in the registry.
type LocalRegistry interface {
	Image(ctx context.Context, repository, ref string) (v1.Image, error)
	Push(ctx context.Context, repository string, tags []string, img v1.Image) error
}

// local returns the path in the built-in registry of a repository on it.
func (b BuiltIn) local(repo name.Repository) (string, bool) {
	if b.Store == nil || b.Addr == "" || repo.RegistryStr() != b.Addr {
		return "", false
	}
	return repo.RepositoryStr(), true
}

// auth returns the push credentials of the target.
func (t Target) auth() remote.Option {
	if t.Username != "" {
		return remote.WithAuth(&authn.Basic{Username: t.Username, Password: t.Password})
	}
	return remote.WithAuthFromKeychain(authn.DefaultKeychain)
}

// Spec describes one container image build. The same Spec (by value) is
// given to every stage.
type Spec struct {
	ImageARN       string
	Version, Build string               // image version and build number: the fixed "<Version>-<Build>" tag
	Recipe         *gen.ContainerRecipe // the snapshot the image carries
	Components     []Component          // resolved, in recipe order, documents in clear
	ParentRef      string               // registry reference of the parent image
	TestsEnabled   bool
	Target         Target
	BuiltIn        BuiltIn // the registry in this process, if any
	// GoldsmithBinary is a static goldsmith binary (CGO_ENABLED=0) staged
	// into the build and test sandboxes to run `goldsmith toe run`.
	GoldsmithBinary string
	// RunnerBinary, when set, is the static sandbox runner
	// (container.Options.Runner): the RUN steps of a layer, and the test
	// stage's steps, share one runc container.
	RunnerBinary string
	// ScratchDir is owned by this build: the stages keep their state here;
	// Cleanup removes it.
	ScratchDir string
	// LogDir receives per-image logs that outlive the build: stdout/stderr
	// per stage and toe's log folders (detailedoutput.json).
	LogDir  string
	Network bool
	// Background, when set, runs what a stage leaves to clean up while the
	// build goes on; Cleanup waits for it. Nil: the stages clean up before
	// they return.
	Background *Background
	// LayerCache, when set, keeps the parent images' layers unpacked
	// across builds (shared read-only by the sandboxes, never evicted; one
	// for all builds, opened once). Nil unpacks them in every build.
	LayerCache *container.LayerCache
}

// Step statuses.
const (
	StatusRunning   = "RUNNING"
	StatusCompleted = "COMPLETED"
	StatusFailed    = "FAILED"
	StatusSkipped   = "SKIPPED"
	StatusCancelled = "CANCELLED"
)

// Step is one step of a stage, reported when it starts and when it ends.
// Inputs and Outputs are flat; the engine JSON-encodes them for the API.
type Step struct {
	Name, Action    string
	Status          string
	Start, End      time.Time
	Inputs, Outputs map[string]string
	Message         string
}

// BuildResult is the outcome of BuildStage.
type BuildResult struct{ Steps []Step }

// TestResult is the outcome of TestStage.
type TestResult struct{ Steps []Step }

// DistributeResult is the outcome of DistributeStage.
type DistributeResult struct {
	Steps     []Step
	ImageURIs []string // repo@sha256:... first, then repo:tag per tag
	Digest    string   // the manifest digest, sha256:...
	OSVersion string
	Packages  []Package
}

// Package is one installed OS package of the image.
type Package struct{ Name, Version string }

// StepFunc is told of each step of a stage when it starts (RUNNING) and
// when it ends. A step whose start it refuses (returns an error: it could
// not record it) does not run: the stage fails with that error.
type StepFunc func(Step) error

// stepper runs the steps of one stage, reporting each to onStep and
// collecting them.
type stepper struct {
	onStep StepFunc
	steps  []Step
}

// run executes fn as the step name/action. fn may fill outputs and return a
// message for a successful step. A failure whose cause is ctx's
// cancellation ends the step CANCELLED.
func (s *stepper) run(ctx context.Context, name, action string, inputs map[string]string,
	fn func(outputs map[string]string) (string, error)) error {
	st := Step{Name: name, Action: action, Status: StatusRunning, Start: time.Now().UTC(), Inputs: inputs,
		Outputs: map[string]string{}}
	if err := s.report(st); err != nil {
		st.End, st.Status, st.Message = time.Now().UTC(), StatusFailed, "not run: "+err.Error()
		s.steps = append(s.steps, st)
		return errors.Join(fmt.Errorf("%s: recording its start: %w", name, err), s.report(st))
	}
	msg, err := fn(st.Outputs)
	st.End = time.Now().UTC()
	switch {
	case err != nil && ctx.Err() != nil:
		st.Status, st.Message = StatusCancelled, "cancelled: "+err.Error()
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
		}
	case err != nil:
		st.Status, st.Message = StatusFailed, err.Error()
	default:
		st.Status, st.Message = StatusCompleted, msg
	}
	if len(st.Outputs) == 0 {
		st.Outputs = nil
	}
	s.steps = append(s.steps, st)
	rerr := s.report(st)
	if err != nil {
		return errors.Join(fmt.Errorf("%s: %w", name, err), rerr)
	}
	if rerr != nil {
		return fmt.Errorf("%s: recording its end: %w", name, rerr)
	}
	return nil
}

// skip records a SKIPPED step (start == end).
func (s *stepper) skip(name, action, msg string) error {
	now := time.Now().UTC()
	st := Step{Name: name, Action: action, Status: StatusSkipped, Start: now, End: now, Message: msg}
	s.steps = append(s.steps, st)
	if err := s.report(st); err != nil {
		return fmt.Errorf("%s: recording it: %w", name, err)
	}
	return nil
}

func (s *stepper) report(st Step) error {
	if s.onStep == nil {
		return nil
	}
	return s.onStep(st)
}
