package containerbuild

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// Cleanup removes ScratchDir: it waits for the clean-up under way in
// Spec.Background, then removes the sandboxes a stage left (runc
// containers and overlay mounts, after a crash), then the directory with
// the built image. LogDir is kept. Cleaning up a build that has none is not
// an error.
func Cleanup(ctx context.Context, s Spec) error {
	if s.ScratchDir == "" {
		return errors.New("cleanup: no scratch directory")
	}
	if err := s.Background.Wait(); err != nil {
		slog.WarnContext(ctx, "cleaning up after a build stage", "scratch", s.ScratchDir, "err", err)
	}
	if err := removeSandboxes(ctx, s.ScratchDir); err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	return nil
}

// Background runs the clean-up a stage leaves behind when it succeeds (the
// build's last sandbox closing, the stage's working directory going) while
// the build goes on to its next stage. Without one (Spec.Background nil)
// the stages clean up before they return.
type Background struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

// Go runs f in the background; Wait returns its error.
func (b *Background) Go(f func() error) {
	b.wg.Go(func() {
		if err := f(); err != nil {
			b.mu.Lock()
			b.errs = append(b.errs, err)
			b.mu.Unlock()
		}
	})
}

// Wait waits for what runs in the background and returns its errors (each
// once). A nil Background has nothing to wait for.
func (b *Background) Wait() error {
	if b == nil {
		return nil
	}
	b.wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	err := errors.Join(b.errs...)
	b.errs = nil
	return err
}
