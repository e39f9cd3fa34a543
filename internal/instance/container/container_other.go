//go:build !linux

package container

import (
	"context"
	"errors"
	"io"
)

// errUnsupported is returned everywhere but on Linux.
var errUnsupported = errors.New("the build sandbox needs Linux (runc, overlayfs)")

// Sandbox is only implemented on Linux.
type Sandbox struct{}

// Open fails: the sandbox needs Linux.
func Open(ctx context.Context, o Options) (*Sandbox, error) { return nil, errUnsupported }

// RootFS is empty.
func (s *Sandbox) RootFS() string { return "" }

// Run fails: the sandbox needs Linux.
func (s *Sandbox) Run(ctx context.Context, p Process) (int, error) { return -1, errUnsupported }

// WriteLayer fails: the sandbox needs Linux.
func (s *Sandbox) WriteLayer(ctx context.Context, w io.Writer) error { return errUnsupported }

// CloseKeepingUpper fails: the sandbox needs Linux.
func (s *Sandbox) CloseKeepingUpper(dst string) error { return errUnsupported }

// Prestart does nothing.
func (s *Sandbox) Prestart() {}

// Close does nothing.
func (s *Sandbox) Close() error { return nil }

// Unpack fails: it needs Linux.
func Unpack(ctx context.Context, layer io.Reader, dir string) error { return errUnsupported }

// Cleanup does nothing.
func Cleanup(ctx context.Context, scratchRoot string) error { return nil }
