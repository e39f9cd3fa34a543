package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/engine/containerbuild"
	"github.com/goldsmith/goldsmith/internal/engine/vmbuild"
)

// VMInputs is what a VM build needs beyond the image body; the service
// resolves it.
type VMInputs struct {
	Components []containerbuild.Component // resolved, documents in clear, recipe order
	// ParentRegion and ParentID name the parent's stored image (amistore),
	// which the caller may launch.
	ParentRegion, ParentID string
	CPUs, MemoryMiB        int
	VolumeSize             int64 // bytes; 0 = the parent's
	WorkingDir             string
	KeepAgent              bool
	Network                bool
	UserData               []byte // decoded userDataOverride
}

// VMOptions configure VM builds.
type VMOptions struct {
	Accel string // kvm | tcg, resolved
	// Services are where distributions write (the image store, S3 uploads,
	// the key store).
	Services vmbuild.Services
	// Limit bounds each build instance's life (default 2 h).
	Limit time.Duration
	// AgentBinary is the static binary build VMs boot as /init (default,
	// set by New: Options.GoldsmithBinary).
	AgentBinary string
	// BootCacheDir keeps the boot files made for parent images.
	BootCacheDir string
	// Download copies a file:// or s3:// object to a local file (imports).
	Download func(ctx context.Context, uri, dst string) error
}

// vmStages returns the stages of a VM build of d.
func (b *imageBuild) vmStages(ctx context.Context, d *imageDoc, a imageARN) ([]stage, error) {
	if b.e.o.VM.Services.AMIs == nil {
		return nil, fmt.Errorf("VM image builds are not configured on this server")
	}
	if d.ImageRecipe == nil {
		return nil, fmt.Errorf("the image has no image recipe")
	}
	in, err := b.e.o.Inputs.VM(ctx, b.arn)
	if err != nil {
		return nil, fmt.Errorf("resolving the build inputs: %w", err)
	}
	parent, err := b.e.o.VM.Services.AMIs.Get(in.ParentRegion, in.ParentID)
	if err != nil {
		return nil, fmt.Errorf("parent image %s: %w", in.ParentID, err)
	}
	if parent.Encrypted() {
		return nil, fmt.Errorf("parent image %s is encrypted; build from an unencrypted image", in.ParentID)
	}
	disk, err := b.e.o.VM.Services.AMIs.Disk(in.ParentRegion, in.ParentID)
	if err != nil {
		return nil, err
	}
	tests := true
	if c := d.ImageTestsConfiguration; c != nil && c.ImageTestsEnabled != nil {
		tests = *c.ImageTestsEnabled
	}
	keepOnFailure := false
	if ic := d.InfrastructureConfiguration; ic != nil && ic.TerminateInstanceOnFailure != nil {
		keepOnFailure = !*ic.TerminateInstanceOnFailure
	}
	limit := b.e.o.VM.Limit
	if limit <= 0 {
		limit = buildWallClock
	}
	key := BuildKey(b.arn)
	s := vmbuild.Spec{
		ImageARN: b.arn, Name: a.Name, Version: a.Version, Build: a.Build, Region: a.Region, Account: b.account,
		Components: in.Components, Parent: vmbuild.Disk{Path: disk, Format: "qcow2"},
		CPUs: in.CPUs, MemoryMiB: in.MemoryMiB, VolumeSize: in.VolumeSize, TestsEnabled: tests,
		WorkingDir: in.WorkingDir, KeepAgent: in.KeepAgent, Network: in.Network, UserData: in.UserData,
		CollectMeta:   d.EnhancedImageMetadataEnabled == nil || *d.EnhancedImageMetadataEnabled,
		KeepOnFailure: keepOnFailure, Accel: b.e.o.VM.Accel, Limit: limit,
		AgentBinary: b.e.o.VM.AgentBinary, BootCacheDir: b.e.o.VM.BootCacheDir,
		ScratchDir: filepath.Join(b.e.o.ScratchRoot, key),
		LogDir:     filepath.Join(b.e.o.LogRoot, key),
	}
	b.scratch, b.logDir, b.keepOnFailure = s.ScratchDir, s.LogDir, keepOnFailure
	b.cleanup = func(ctx context.Context) error { return vmbuild.Cleanup(ctx, s, b.e.log) }
	var dists []gen.Distribution
	if dc := d.DistributionConfiguration; dc != nil {
		dists = dc.Distributions
	}
	built := time.Now().UTC()
	if t, err := time.Parse("2006-01-02T15:04:05.000Z", d.DateCreated); err == nil {
		built = t
	}
	log := b.e.log.With("arn", b.arn)
	return []stage{
		{1, gen.WorkflowTypeBUILD, "build/build-image/1.0.3/1", gen.ImageStatusBUILDING,
			func(ctx context.Context, on containerbuild.StepFunc) (*stageResult, error) {
				r, err := vmbuild.BuildStage(ctx, s, on, log)
				if err != nil {
					return nil, err
				}
				return &stageResult{vmBuild: r}, nil
			}},
		{2, gen.WorkflowTypeTEST, "test/test-image/1.0.0/1", gen.ImageStatusTESTING,
			func(ctx context.Context, on containerbuild.StepFunc) (*stageResult, error) {
				return nil, vmbuild.TestStage(ctx, s, on, log)
			}},
		{3, gen.WorkflowTypeDISTRIBUTION, "distribution/distribute-image/1.0.0/1", gen.ImageStatusDISTRIBUTING,
			func(ctx context.Context, on containerbuild.StepFunc) (*stageResult, error) {
				r, err := vmbuild.DistributeStage(ctx, s, dists, built, b.e.o.VM.Services, on)
				if err != nil {
					return nil, err
				}
				return &stageResult{vm: r}, nil
			}},
	}, nil
}
