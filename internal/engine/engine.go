// Package engine is the durable build engine: it drives PENDING images
// through the container build stages (package containerbuild) with River
// jobs on the server's own database, records every stage as a workflow
// execution and every step as a step execution in the store, and survives
// restarts (docs/engine.md).
package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/engine/containerbuild"
	"github.com/goldsmith/goldsmith/internal/engine/vmbuild"
	"github.com/goldsmith/goldsmith/internal/instance/container"
	"github.com/goldsmith/goldsmith/internal/store"
)

// ContainerInputs is what a container build needs beyond the image body;
// the service resolves it.
type ContainerInputs struct {
	Components []containerbuild.Component // resolved, documents in clear, recipe order
	ParentRef  string                     // registry reference of the parent
	Repository string                     // target repository name (recipe targetRepository.repositoryName)
	Tags       []string                   // extra tags (distribution containerTags for this region; may be empty)
}

// Inputs resolves the inputs of a build.
type Inputs interface {
	Container(ctx context.Context, imageARN string) (*ContainerInputs, error)
	VM(ctx context.Context, imageARN string) (*VMInputs, error)
}

// Options configure an Engine.
type Options struct {
	Store        store.Store
	QueueDriver  string // "sqlite" or "postgres"
	QueueDSN     string // sqlite file path (the same file the store uses) or PostgreSQL URL
	Inputs       Inputs
	RegistryAddr string // host:port of the built-in registry (plain http)
	// LocalRegistry, when set, is the built-in registry itself: builds
	// read their parents from it and store their images in it directly,
	// not over HTTP.
	LocalRegistry   containerbuild.LocalRegistry
	GoldsmithBinary string // static goldsmith binary staged into builds
	// RunnerBinary is the sandbox runner of container builds ("" = one
	// runc container per RUN).
	RunnerBinary string
	ScratchRoot  string // per-build scratch dirs live below; container.Cleanup runs over it at start
	LogRoot      string // per-image logs (kept)
	// LayerCacheDir keeps unpacked parent images shared read-only by
	// container builds ("" = no cache: every build unpacks its parent).
	LayerCacheDir string
	MaxBuilds     int // concurrent builds, default 2
	Logger        *slog.Logger
	// Registries maps a region to the registry its ECR-style targets push
	// to; a region without an entry uses the built-in registry.
	Registries map[string]Registry
	// UploadLogs copies a finished build's log directory to S3 when the
	// infrastructure configuration names logging.s3Logs (nil: not uploaded).
	UploadLogs func(ctx context.Context, bucket, prefix, dir string) (int, error)
	// VM configures VM image builds and disk imports.
	VM VMOptions
}

// Registry is an external OCI registry standing in for a region's ECR.
type Registry struct {
	Address            string // host[:port]
	Username, Password string // basic auth; empty: the default keychain
	Insecure           bool   // plain http
}

// ErrNotCancellable is returned (wrapped) by Cancel for an image that is
// neither waiting nor being built.
var ErrNotCancellable = errors.New("image is not being built")

// Causes of a build context's cancellation.
var (
	errCancelled = errors.New("the image build was cancelled")
	errStopping  = errors.New("interrupted: the server stopped")
)

// sweepInterval is how often PENDING images are enqueued again, so that
// an enqueue lost between the service's commit and its Enqueue call is
// made up for.
const sweepInterval = 30 * time.Second

// Engine builds images. Make it with New, then Start; Stop ends it.
type Engine struct {
	o    Options
	log  *slog.Logger
	q    queue
	boot string // this engine instance, part of the job args

	layers *container.LayerCache // Options.LayerCacheDir, opened once (nil without)

	mu       sync.Mutex
	builds   map[string]context.CancelCauseFunc // image ARN → cancel of its running build
	stopping bool
	runStop  context.CancelFunc // ends River's and the sweeper's context
	sweeper  sync.WaitGroup
}

// New opens the job queue's database connection and migrates River's
// tables. Nothing runs before Start.
func New(ctx context.Context, o Options) (*Engine, error) {
	if o.Store == nil || o.Inputs == nil {
		return nil, errors.New("engine: a store and inputs are required")
	}
	if o.ScratchRoot == "" || o.LogRoot == "" {
		return nil, errors.New("engine: a scratch root and a log root are required")
	}
	if o.MaxBuilds <= 0 {
		o.MaxBuilds = 2
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.VM.AgentBinary = cmp.Or(o.VM.AgentBinary, o.GoldsmithBinary)
	e := &Engine{o: o, log: o.Logger.With("component", "engine"), boot: uuid.NewString(),
		builds: map[string]context.CancelCauseFunc{}}
	if o.LayerCacheDir != "" {
		layers, err := container.NewLayerCache(o.LayerCacheDir)
		if err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		e.layers = layers
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &buildWorker{e: e}); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	q, err := openQueue(ctx, &e.o, workers)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	e.q = q
	return e, nil
}

// Start recovers from a crash (removes the sandboxes a previous run left
// under ScratchRoot; images left in a running state are resumed by their
// jobs), starts River and enqueues every PENDING and running image.
func (e *Engine) Start(ctx context.Context) error {
	if err := container.Cleanup(ctx, e.o.ScratchRoot); err != nil {
		e.log.WarnContext(ctx, "cleaning up sandboxes left by the previous run", "err", err)
	}
	if err := vmbuild.CleanupAll(e.o.ScratchRoot, e.log); err != nil {
		e.log.WarnContext(ctx, "stopping build instances left by the previous run", "err", err)
	}
	if a := e.o.VM.Services.AMIs; a != nil {
		if err := a.Sweep(); err != nil {
			e.log.WarnContext(ctx, "removing half-stored images", "err", err)
		}
	}
	if err := e.enqueueWaiting(ctx, true); err != nil {
		return fmt.Errorf("engine start: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.mu.Lock()
	e.runStop = cancel
	e.mu.Unlock()
	if err := e.q.start(runCtx); err != nil {
		cancel()
		return fmt.Errorf("engine start: %w", err)
	}
	e.sweeper.Add(1)
	go func() {
		defer e.sweeper.Done()
		t := time.NewTicker(sweepInterval)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				if err := e.enqueueWaiting(runCtx, false); err != nil && runCtx.Err() == nil {
					e.log.WarnContext(runCtx, "enqueueing waiting images", "err", err)
				}
			}
		}
	}()
	return nil
}

// enqueueWaiting enqueues every PENDING image, and with resume every image
// in a running state too.
func (e *Engine) enqueueWaiting(ctx context.Context, resume bool) error {
	var arns []string
	err := e.o.Store.View(ctx, func(tx store.Tx) error {
		arns = arns[:0]
		rs, err := tx.List(ctx, store.ListQuery{Kind: imageKind})
		if err != nil {
			return err
		}
		for _, r := range rs {
			d, err := decodeImage(r)
			if err != nil {
				e.log.WarnContext(ctx, "skipping an undecodable image", "arn", r.ARN, "err", err)
				continue
			}
			if s := d.status(); s == gen.ImageStatusPENDING || (resume && running(s)) {
				arns = append(arns, r.ARN)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing images to build: %w", err)
	}
	for _, arn := range arns {
		if err := e.Enqueue(ctx, arn); err != nil {
			return err
		}
	}
	return nil
}

// Enqueue wakes a worker for the image. Enqueueing an image twice is
// harmless.
func (e *Engine) Enqueue(ctx context.Context, imageARN string) error {
	return e.q.insert(ctx, buildArgs{ImageArn: imageARN, Boot: e.boot})
}

// Cancel ends a PENDING image CANCELLED at once, and cancels the build of
// an image being built (it ends CANCELLED once its stage has stopped and
// its sandboxes are removed). Other images give an error wrapping
// ErrNotCancellable.
func (e *Engine) Cancel(ctx context.Context, imageARN string) error {
	var wasRunning bool
	_, err := updateImage(ctx, e.o.Store, imageARN, nil, func(d *imageDoc) error {
		switch s := d.status(); {
		case s == gen.ImageStatusPENDING:
			d.State = &gen.ImageState{Status: gen.ImageStatusCANCELLED, Reason: "cancelled before the build started"}
			return nil
		case running(s):
			wasRunning = true
			return d.setExtra(keyCancel, true)
		default:
			return fmt.Errorf("%w (state %s)", ErrNotCancellable, s)
		}
	})
	if err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	if wasRunning {
		e.mu.Lock()
		cancel := e.builds[imageARN]
		e.mu.Unlock()
		if cancel != nil {
			cancel(errCancelled)
		}
	}
	return nil
}

// Stop stops River: running builds are interrupted and left to be resumed
// by the next Start. It closes the queue's connections.
func (e *Engine) Stop(ctx context.Context) error {
	e.mu.Lock()
	e.stopping = true
	for _, cancel := range e.builds {
		cancel(errStopping)
	}
	runStop := e.runStop
	e.mu.Unlock()
	err := e.q.stop(ctx)
	if runStop != nil {
		runStop()
	}
	e.sweeper.Wait()
	e.q.close()
	return err
}

// register records the running build of an image; false when the image
// is already being built in this process or the engine is stopping.
func (e *Engine) register(ctx context.Context, arn string) (context.Context, func(), bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping || e.builds[arn] != nil {
		return nil, nil, false
	}
	bctx, cancel := context.WithCancelCause(ctx)
	e.builds[arn] = cancel
	return bctx, func() {
		e.mu.Lock()
		delete(e.builds, arn)
		e.mu.Unlock()
		cancel(context.Canceled)
	}, true
}
