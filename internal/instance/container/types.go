package container

import (
	"io"
	"time"
)

// StateRoot is the runc state directory (`runc --root`) of every goldsmith
// sandbox, kept apart from the host's containers.
const StateRoot = "/run/goldsmith-runc"

// IDPrefix starts every container id goldsmith gives runc.
const IDPrefix = "goldsmith-"

// DefaultHostname is the sandbox's host name when Options.Hostname is empty.
const DefaultHostname = "goldsmith-build"

// DefaultPath is PATH in a Run whose Env has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Options describe a sandbox.
type Options struct {
	// Lowers are the read-only lower directories, top-most first (unpacked
	// image layers or a rootfs); at least one.
	Lowers []string
	// ScratchDir is a directory the sandbox owns: upper/, work/, merged/
	// and bundle/ live here; Close removes it.
	ScratchDir string
	// Hostname defaults to DefaultHostname.
	Hostname string
	// Network true shares the host network namespace (apt, downloads) and
	// binds the host's /etc/resolv.conf; false gives a namespace with only
	// the loopback interface.
	Network bool
	// Runner, when set, is the host path of a static executable that acts
	// as a sandbox runner (package runner): the Runs between two layers
	// then share one container instead of one `runc run` each.
	Runner string
	// SourceDateEpoch, when not zero, clamps the modification times
	// WriteLayer records (reproducible builds).
	SourceDateEpoch time.Time
}

// Process is one command run in the sandbox.
type Process struct {
	Args []string
	// Env holds KEY=VALUE pairs. PATH defaults to DefaultPath and HOME to
	// the user's home directory (or "/").
	Env []string
	// Cwd defaults to "/"; it must exist in the sandbox.
	Cwd string
	// User is "", "uid", "uid:gid", or names (user, user:group) looked up
	// in the sandbox's /etc/passwd and /etc/group. "" is root.
	User           string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}
