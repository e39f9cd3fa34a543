package containerbuild

import (
	"context"
	"errors"
	"fmt"
)

// Cleanup removes ScratchDir: the sandboxes a stage left (runc containers
// and overlay mounts, after a crash) first, then the directory with the
// built image. LogDir is kept. Cleaning up a build that has none is not an
// error.
func Cleanup(ctx context.Context, s Spec) error {
	if s.ScratchDir == "" {
		return errors.New("cleanup: no scratch directory")
	}
	if err := removeSandboxes(ctx, s.ScratchDir); err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	return nil
}
