// Package vmbuild runs the stages of a VM ("AMI") image build: the build
// instance (a QEMU VM booted from a qcow2 overlay on the parent image, with
// goldsmith's agent as its init) runs the components' build and validate
// phases, is sanitized, shut down and captured as a standalone qcow2; a
// fresh VM from the capture runs the test phase; the distribution registers
// the image per region and exports it to S3.
//
// Build instances boot the image's own kernel by direct kernel boot with
// an initramfs goldsmith makes: /init is the static goldsmith binary (the
// agent, package agent) plus the virtio modules of the image's kernel. The
// agent mounts the image's root file system and runs every command chrooted
// into it; systemd does not run during builds (as in a container build), so
// components may enable services but not start them. The parent disk is
// never written: the instance writes to an overlay.
package vmbuild

import (
	"time"

	"github.com/goldsmith/goldsmith/internal/engine/containerbuild"
)

// Step, Component and the step statuses are shared with container builds.
type (
	Step      = containerbuild.Step
	Component = containerbuild.Component
	Package   = containerbuild.Package
)

// Disk is a disk image on the host.
type Disk struct {
	Path   string
	Format string // qcow2 or raw
	Secret []byte // LUKS passphrase of an encrypted qcow2
}

// Spec describes one VM image build. The same Spec (by value) is given to
// every stage.
type Spec struct {
	ImageARN       string
	Name           string // image (recipe) name
	Version, Build string
	Region         string
	Account        string
	Components     []Component // resolved, in recipe order, documents in clear
	Parent         Disk
	CPUs           int
	MemoryMiB      int
	VolumeSize     int64 // bytes of the root volume; 0 = the parent's size
	TestsEnabled   bool
	WorkingDir     string // recipe workingDirectory (default /tmp)
	KeepAgent      bool   // systemsManagerAgent.uninstallAfterBuild == false
	// UserData is the recipe's userDataOverride (decoded): a script the
	// build instance runs as root before the components, as cloud-init
	// would at first boot.
	UserData      []byte
	CollectMeta   bool   // enhancedImageMetadataEnabled: record the package list
	Network       bool   // user-mode networking for the instances
	KeepOnFailure bool   // terminateInstanceOnFailure == false
	Accel         string // kvm | tcg
	Limit         time.Duration
	// AgentBinary is the static binary that becomes the instances' /init
	// and runs the components: goldsmith-agent (small, fast to start under
	// emulation) or the goldsmith binary itself.
	AgentBinary string
	// BootCacheDir keeps the boot files (kernel, initramfs) made for
	// parent images, shared by builds ("" = made for every instance).
	BootCacheDir string
	// ScratchDir is owned by this build (overlays, boot files, the capture
	// until it is registered); Cleanup removes it.
	ScratchDir string
	// LogDir receives the per-image logs that outlive the build: consoles
	// and toe log folders per stage.
	LogDir string
}

// BuildResult is what the build stage produced.
type BuildResult struct {
	Disk      string // the captured standalone qcow2 (in ScratchDir)
	OSVersion string
	Packages  []Package
}
