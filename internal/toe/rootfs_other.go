//go:build !linux

package toe

import (
	"context"
	"errors"
	"io"
)

var errNoRootFS = errors.New("--rootfs needs Linux namespaces")

// InRootFS reports whether this process runs inside ReexecInRootFS.
func InRootFS() bool { return false }

// ReexecInRootFS is only supported on Linux.
func ReexecInRootFS(context.Context, string, []string, io.Reader, io.Writer, io.Writer) (int, error) {
	return 0, errNoRootFS
}

// EnterRootFS is only supported on Linux.
func EnterRootFS(string, ...string) error { return errNoRootFS }
