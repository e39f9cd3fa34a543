package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"time"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/engine/containerbuild"
	"github.com/goldsmith/goldsmith/internal/engine/vmbuild"
	"github.com/goldsmith/goldsmith/internal/store"
)

// writeTimeout bounds the store writes that record a build's end, which
// run even when the build's context is cancelled.
const writeTimeout = 30 * time.Second

// stage is one stage of a build.
type stage struct {
	index    int
	typ      gen.WorkflowType
	workflow string // managed workflow name/version
	state    gen.ImageStatus
	run      func(ctx context.Context, onStep containerbuild.StepFunc) (*stageResult, error)
}

// stageResult is what a stage produced for the image resource.
type stageResult struct {
	container *containerbuild.DistributeResult
	vmBuild   *vmbuild.BuildResult
	vm        *vmbuild.DistributeResult
}

func containerStages(s containerbuild.Spec) []stage {
	return []stage{
		{1, gen.WorkflowTypeBUILD, "build/build-container/1.0.1/1", gen.ImageStatusBUILDING,
			func(ctx context.Context, on containerbuild.StepFunc) (*stageResult, error) {
				_, err := containerbuild.BuildStage(ctx, s, on)
				return nil, err
			}},
		{2, gen.WorkflowTypeTEST, "test/test-container/1.0.0/1", gen.ImageStatusTESTING,
			func(ctx context.Context, on containerbuild.StepFunc) (*stageResult, error) {
				_, err := containerbuild.TestStage(ctx, s, on)
				return nil, err
			}},
		{3, gen.WorkflowTypeDISTRIBUTION, "distribution/distribute-image/1.0.0/1", gen.ImageStatusDISTRIBUTING,
			func(ctx context.Context, on containerbuild.StepFunc) (*stageResult, error) {
				r, err := containerbuild.DistributeStage(ctx, s, on)
				if err != nil {
					return nil, err
				}
				return &stageResult{container: r}, nil
			}},
	}
}

// imageBuild is one run of the worker over one image.
type imageBuild struct {
	e       *Engine
	arn     string
	account string
	region  string
	s3Logs  *gen.S3Logs // where the logs go at the end, if anywhere
	// scratch and logDir are the build's directories; cleanup removes the
	// scratch directory and whatever runs in it (nil before the stages are
	// made).
	scratch, logDir string
	cleanup         func(ctx context.Context) error
	background      *containerbuild.Background // what the stages left running (cleanup waits for it)
	keepOnFailure   bool                       // a failed VM build keeps its instance disk
	held            heldRecords
	claimed         bool // this run took the image from PENDING: there is no earlier run
}

// build claims (PENDING) or resumes (running state) an image and runs its
// remaining stages. Build failures end the image FAILED and return nil; an
// error means the job should be retried (the store could not be written).
func (e *Engine) build(ctx context.Context, arn string) error {
	bctx, done, ok := e.register(ctx, arn)
	if !ok {
		return nil
	}
	defer done()
	d, res, err := loadImage(bctx, e.o.Store, arn)
	if isNotFound(err) {
		e.log.InfoContext(ctx, "image to build no longer exists", "arn", arn)
		return nil
	}
	if err != nil {
		return err
	}
	a, err := parseImageARN(arn)
	if err != nil {
		return err
	}
	b := &imageBuild{e: e, arn: arn, account: res.Account, region: a.Region}
	if d.BuildType == gen.BuildTypeIMPORTISO || d.BuildType == gen.BuildTypeIMPORT {
		return b.importDisk(bctx, ctx, d)
	}
	switch s := d.status(); {
	case s == gen.ImageStatusPENDING:
		_, err := updateImage(bctx, e.o.Store, arn, []gen.ImageStatus{gen.ImageStatusPENDING}, func(d *imageDoc) error {
			d.State = &gen.ImageState{Status: gen.ImageStatusBUILDING}
			return nil
		})
		if errors.Is(err, errStateChanged) {
			return nil // cancelled or claimed meanwhile
		}
		if err != nil {
			return err
		}
		b.claimed = true
		e.log.InfoContext(ctx, "building image", "arn", arn)
	case running(s):
		e.log.InfoContext(ctx, "resuming the build of image", "arn", arn, "state", s)
	default:
		return nil
	}
	var stages []stage
	if d.Type == gen.ImageTypeAMI {
		stages, err = b.vmStages(bctx, d, a)
	} else {
		stages, err = b.containerStages(bctx, d, a)
	}
	if err != nil {
		return b.finish(bctx, ctx, nil, err)
	}
	if ic := d.InfrastructureConfiguration; ic != nil && ic.Logging != nil {
		b.s3Logs = ic.Logging.S3Logs
	}
	if d.cancelRequested() {
		return b.finish(bctx, ctx, nil, errCancelled)
	}
	for _, st := range stages {
		x, err := b.runStage(bctx, st)
		if err != nil {
			return b.finish(bctx, ctx, x, err)
		}
	}
	return b.finish(bctx, ctx, nil, nil)
}

// containerStages returns the stages of a container build of d.
func (b *imageBuild) containerStages(ctx context.Context, d *imageDoc, a imageARN) ([]stage, error) {
	if d.ContainerRecipe == nil {
		return nil, errors.New("the image has no container recipe")
	}
	in, err := b.e.o.Inputs.Container(ctx, b.arn)
	if err != nil {
		return nil, fmt.Errorf("resolving the build inputs: %w", err)
	}
	tests := true
	if c := d.ImageTestsConfiguration; c != nil && c.ImageTestsEnabled != nil {
		tests = *c.ImageTestsEnabled
	}
	key := BuildKey(b.arn)
	s := containerbuild.Spec{
		ImageARN: b.arn, Version: a.Version, Build: a.Build,
		Recipe: d.ContainerRecipe, Components: in.Components, ParentRef: in.ParentRef,
		TestsEnabled:    tests,
		Target:          b.e.target(a.Region, in),
		BuiltIn:         containerbuild.BuiltIn{Addr: b.e.o.RegistryAddr, Store: b.e.o.LocalRegistry},
		GoldsmithBinary: b.e.o.GoldsmithBinary,
		RunnerBinary:    b.e.o.RunnerBinary,
		ScratchDir:      filepath.Join(b.e.o.ScratchRoot, key),
		LogDir:          filepath.Join(b.e.o.LogRoot, key),
		LayerCache:      b.e.layers,
		Background:      &containerbuild.Background{}, // Cleanup (finish) waits for it
	}
	b.scratch, b.logDir, b.background = s.ScratchDir, s.LogDir, s.Background
	b.cleanup = func(ctx context.Context) error { return containerbuild.Cleanup(ctx, s) }
	return containerStages(s), nil
}

// BuildKey names an image's build directories (scratch and logs): the hex
// SHA-256 of its ARN.
func BuildKey(imageARN string) string {
	sum := sha256.Sum256([]byte(imageARN))
	return hex.EncodeToString(sum[:])
}

// runStage runs one stage unless an execution of it completed before. It
// returns the stage's execution (nil when skipped) and the stage's error.
func (b *imageBuild) runStage(ctx context.Context, st stage) (*execLog, error) {
	prior, err := b.priorExecutions(ctx, st)
	if err != nil {
		return nil, err
	}
	for _, x := range prior {
		if x.Status == gen.WorkflowExecutionStatusCOMPLETED {
			return nil, nil
		}
	}
	for _, x := range prior {
		if x.Status == gen.WorkflowExecutionStatusRUNNING {
			if err := b.interrupted(ctx, x); err != nil {
				return nil, err
			}
		}
	}
	// The stage's start (its image state, unless a cancel was asked for)
	// is written with its first step's RUNNING record, as is its execution.
	x := b.newExecution(ctx, st, len(prior) > 0)
	b.holdStart(func(ctx context.Context, tx store.Tx) error {
		_, err := updateImageIn(ctx, tx, b.arn, runningStates(), func(d *imageDoc) error {
			if d.cancelRequested() {
				return errCancelled
			}
			if d.status() != gen.ImageStatusINTEGRATING {
				d.State = &gen.ImageState{Status: st.state}
			}
			return nil
		})
		return err
	})
	res, err := st.run(ctx, x.on)
	if werr := x.writeErr(); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return x, err
	}
	// The execution's end is written with the stage's result, if any, or
	// with the build's next write.
	if err := x.end(gen.WorkflowExecutionStatusCOMPLETED, ""); err != nil {
		return x, err
	}
	if res != nil {
		if err := b.integrate(ctx, res); err != nil {
			return x, err
		}
	}
	return nil, nil
}

// priorExecutions reads the executions of the stage's workflow that an
// earlier run of the build left (none when this run claimed the image:
// it has had no other run).
func (b *imageBuild) priorExecutions(ctx context.Context, st stage) ([]*Execution, error) {
	if b.claimed {
		return nil, nil
	}
	var prior []*Execution
	err := b.e.o.Store.View(ctx, func(tx store.Tx) error {
		all, err := Executions(ctx, tx, b.account, b.arn)
		prior = prior[:0]
		for _, x := range all {
			if x.WorkflowBuildVersionArn == b.workflowARN(st) {
				prior = append(prior, x)
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the executions of %s: %w", b.arn, err)
	}
	return prior, nil
}

func runningStates() []gen.ImageStatus {
	return []gen.ImageStatus{gen.ImageStatusBUILDING, gen.ImageStatusTESTING, gen.ImageStatusDISTRIBUTING,
		gen.ImageStatusINTEGRATING}
}

func (b *imageBuild) workflowARN(st stage) string {
	return "arn:aws:imagebuilder:" + b.region + ":aws:workflow/" + st.workflow
}

// integrate records what a stage produced: the build's OS version and
// packages, and the distribution's outputs (INTEGRATING).
func (b *imageBuild) integrate(ctx context.Context, res *stageResult) error {
	_, err := b.update(ctx, runningStates(), func(d *imageDoc) error {
		var pkgs []containerbuild.Package
		switch {
		case res.container != nil:
			r := res.container
			d.State = &gen.ImageState{Status: gen.ImageStatusINTEGRATING}
			d.OutputResources = &gen.OutputResources{Containers: []gen.Container{{Region: b.region, ImageUris: r.ImageURIs}}}
			if r.OSVersion != "" {
				d.OsVersion = r.OSVersion
			}
			pkgs = r.Packages
		case res.vm != nil:
			d.State = &gen.ImageState{Status: gen.ImageStatusINTEGRATING}
			d.OutputResources = &gen.OutputResources{Amis: res.vm.AMIs}
			return nil
		case res.vmBuild != nil:
			if res.vmBuild.OSVersion != "" {
				d.OsVersion = res.vmBuild.OSVersion
			}
			pkgs = res.vmBuild.Packages
		}
		out := make([]gen.ImagePackage, 0, len(pkgs))
		for _, p := range pkgs {
			out = append(out, gen.ImagePackage{PackageName: p.Name, PackageVersion: p.Version})
		}
		return d.setExtra(keyPackages, out)
	})
	return err
}

// finish ends a build: AVAILABLE (err nil), CANCELLED, FAILED, or nothing
// when the server is stopping (the next Start resumes the build). The
// scratch directory is removed unless the build is left to be resumed.
func (b *imageBuild) finish(bctx, jobCtx context.Context, x *execLog, err error) error {
	cause := context.Cause(bctx)
	if err != nil && bctx.Err() != nil && (errors.Is(cause, errStopping) || (jobCtx.Err() != nil &&
		!errors.Is(jobCtx.Err(), context.DeadlineExceeded))) {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(bctx), writeTimeout)
		defer cancel()
		b.dropStart()
		if werr := b.write(wctx); werr != nil {
			b.e.log.WarnContext(jobCtx, "writing the records of an interrupted build", "arn", b.arn, "err", werr)
		}
		if werr := b.background.Wait(); werr != nil {
			b.e.log.WarnContext(jobCtx, "cleaning up after a stage of an interrupted build", "arn", b.arn, "err", werr)
		}
		b.e.log.InfoContext(jobCtx, "build interrupted; it resumes at the next start", "arn", b.arn, "err", err)
		return nil
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(bctx), writeTimeout)
	defer cancel()
	status, reason := gen.ImageStatusAVAILABLE, ""
	xStatus := gen.WorkflowExecutionStatusFAILED
	switch {
	case err == nil:
	case errors.Is(err, errCancelled) || errors.Is(cause, errCancelled):
		status, reason, xStatus = gen.ImageStatusCANCELLED, "cancelled by CancelImageCreation", gen.WorkflowExecutionStatusCANCELLED
	case errors.Is(cause, context.DeadlineExceeded) || errors.Is(jobCtx.Err(), context.DeadlineExceeded):
		status, reason = gen.ImageStatusFAILED, fmt.Sprintf("the build exceeded its time limit (%v): %v", buildWallClock, err)
	default:
		status, reason = gen.ImageStatusFAILED, err.Error()
	}
	if x != nil {
		reason = fmt.Sprintf("workflow execution %s (%s) failed: %s", x.x.WorkflowExecutionId, x.x.WorkflowBuildVersionArn, reason)
		if status == gen.ImageStatusCANCELLED {
			reason = "cancelled by CancelImageCreation during workflow execution " + x.x.WorkflowExecutionId
		}
		if werr := x.end(xStatus, err.Error()); werr != nil {
			return werr
		}
	}
	// What the build holds is written before its scratch directory goes
	// (not the start of a stage that reported no step).
	b.dropStart()
	if werr := b.write(wctx); werr != nil {
		return werr
	}
	b.uploadLogs(wctx)
	if b.cleanup != nil && !b.keepForDebug(wctx, status) {
		if cerr := b.cleanup(wctx); cerr != nil {
			b.e.log.WarnContext(wctx, "removing the build's scratch directory", "arn", b.arn, "err", cerr)
		}
	}
	from := runningStates()
	if status == gen.ImageStatusAVAILABLE {
		from = []gen.ImageStatus{gen.ImageStatusINTEGRATING}
	}
	_, uerr := b.update(wctx, from, func(d *imageDoc) error {
		d.State = &gen.ImageState{Status: status, Reason: reason}
		delete(d.extra, keyCancel)
		return nil
	})
	if errors.Is(uerr, errStateChanged) {
		return nil
	}
	if uerr != nil {
		return uerr
	}
	b.e.log.InfoContext(wctx, "image build ended", "arn", b.arn, "state", status, "reason", reason)
	return nil
}

// target is where a build in region pushes: the region's external registry
// when one is configured, else the built-in one.
func (e *Engine) target(region string, in *ContainerInputs) containerbuild.Target {
	if r, ok := e.o.Registries[region]; ok && r.Address != "" {
		return containerbuild.Target{Repository: r.Address + "/" + in.Repository, Tags: in.Tags,
			Insecure: r.Insecure, Username: r.Username, Password: r.Password}
	}
	return containerbuild.Target{Repository: e.o.RegistryAddr + "/" + in.Repository, Tags: in.Tags, Insecure: true}
}

// uploadLogs copies the build's logs to the infrastructure configuration's
// logging.s3Logs location, under <prefix>/<image name>/<version>/<build>/.
// A failed upload is logged; it does not change the image's outcome.
func (b *imageBuild) uploadLogs(ctx context.Context) {
	l := b.s3Logs
	if l == nil || l.S3BucketName == "" || b.e.o.UploadLogs == nil || b.logDir == "" {
		return
	}
	a, err := parseImageARN(b.arn)
	if err != nil {
		return
	}
	prefix := path.Join(l.S3KeyPrefix, a.Name, a.Version, a.Build)
	n, err := b.e.o.UploadLogs(ctx, l.S3BucketName, prefix, b.logDir)
	if err != nil {
		b.e.log.WarnContext(ctx, "uploading build logs to S3 failed", "arn", b.arn, "bucket", l.S3BucketName, "err", err)
		return
	}
	b.e.log.InfoContext(ctx, "build logs uploaded", "arn", b.arn, "bucket", l.S3BucketName, "prefix", prefix, "files", n)
}
