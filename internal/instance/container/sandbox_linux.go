package container

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// markerFile identifies a sandbox scratch directory, so that Cleanup removes
// only what sandboxes own.
const markerFile = ".goldsmith-sandbox"

// Sandbox is an overlay mounted at ScratchDir/merged plus the runc bundle
// that runs processes in it. Runs are serialized; Close may be called from
// any goroutine, also while a Run is under way.
type Sandbox struct {
	opts                              Options
	scratch, upper, work, merged, bnd string

	runMu sync.Mutex // held for the whole of a Run or WriteLayer, and by Close

	sess   *session        // the runner's container (Options.Runner); guarded by runMu
	ending []chan struct{} // sessions released, still ending; guarded by runMu

	mu      sync.Mutex // guards the fields below
	closed  bool
	stopRun context.CancelFunc // cancels the Run under way
}

// Open creates ScratchDir's upper/, work/, merged/ and bundle/ and mounts the
// overlay (upper over the lowers) at merged/.
func Open(ctx context.Context, o Options) (*Sandbox, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("opening sandbox: %w", err)
	}
	if len(o.Lowers) == 0 {
		return nil, errors.New("opening sandbox: no lower directory")
	}
	if o.ScratchDir == "" {
		return nil, errors.New("opening sandbox: no scratch directory")
	}
	if o.Hostname == "" {
		o.Hostname = DefaultHostname
	}
	lowers := make([]string, len(o.Lowers))
	for i, l := range o.Lowers {
		abs, err := filepath.Abs(l)
		if err != nil {
			return nil, fmt.Errorf("opening sandbox: lower %q: %w", l, err)
		}
		if strings.ContainsAny(abs, ":,\\") {
			return nil, fmt.Errorf("opening sandbox: lower %q: overlayfs cannot take paths with ':', ',' or '\\'", abs)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("opening sandbox: lower: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("opening sandbox: lower %s is not a directory", abs)
		}
		lowers[i] = abs
	}
	o.Lowers = lowers
	scratch, err := filepath.Abs(o.ScratchDir)
	if err != nil {
		return nil, fmt.Errorf("opening sandbox: scratch directory: %w", err)
	}
	if strings.ContainsAny(scratch, ":,\\") {
		return nil, fmt.Errorf("opening sandbox: scratch directory %q: overlayfs cannot take paths with ':', ',' or '\\'", scratch)
	}
	o.ScratchDir = scratch
	if o.Runner != "" {
		if !filepath.IsAbs(o.Runner) {
			return nil, fmt.Errorf("opening sandbox: runner %q is not an absolute path", o.Runner)
		}
		fi, err := os.Stat(o.Runner)
		if err != nil {
			return nil, fmt.Errorf("opening sandbox: runner: %w", err)
		}
		if !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("opening sandbox: runner %s is not an executable file", o.Runner)
		}
	}
	s := &Sandbox{
		opts:    o,
		scratch: scratch,
		upper:   filepath.Join(scratch, "upper"),
		work:    filepath.Join(scratch, "work"),
		merged:  filepath.Join(scratch, "merged"),
		bnd:     filepath.Join(scratch, "bundle"),
	}
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return nil, fmt.Errorf("opening sandbox: %w", err)
	}
	if err := os.WriteFile(filepath.Join(scratch, markerFile), nil, 0o600); err != nil {
		return nil, fmt.Errorf("opening sandbox: %w", err)
	}
	for _, d := range []string{s.upper, s.work, s.merged, s.bnd} {
		if err := os.Mkdir(d, 0o755); err != nil {
			_ = os.RemoveAll(scratch)
			return nil, fmt.Errorf("opening sandbox: %w", err)
		}
	}
	data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,redirect_dir=off,index=off,metacopy=off",
		strings.Join(lowers, ":"), s.upper, s.work)
	if len(data) >= os.Getpagesize() {
		_ = os.RemoveAll(scratch)
		return nil, fmt.Errorf("opening sandbox: %d lower directories make overlay options of %d bytes (limit %d); unpack them into fewer directories",
			len(lowers), len(data), os.Getpagesize()-1)
	}
	if err := unix.Mount("overlay", s.merged, "overlay", 0, data); err != nil {
		_ = os.RemoveAll(scratch)
		return nil, fmt.Errorf("opening sandbox: mounting overlay at %s: %w", s.merged, err)
	}
	slog.DebugContext(ctx, "sandbox opened", "scratch", scratch, "lowers", len(lowers))
	return s, nil
}

// RootFS is the host path of the sandbox's root (merged/), to copy files in
// and out between Runs.
func (s *Sandbox) RootFS() string { return s.merged }

// Close kills a Run under way, waits for it (and for a WriteLayer) to
// return, unmounts merged/ and removes ScratchDir. It is idempotent.
func (s *Sandbox) Close() error { return s.close("") }

// CloseKeepingUpper is Close, except that upper/ is first moved to dst (a
// path that does not exist yet, on the same file system as ScratchDir).
// The kept directory is in overlayfs format (whiteouts, opaque
// directories), so it can be stacked as a lower directory of another
// sandbox, above this sandbox's lowers. Calling it on a closed sandbox is
// an error.
func (s *Sandbox) CloseKeepingUpper(dst string) error {
	if dst == "" {
		return errors.New("closing sandbox: no directory to keep upper/ in")
	}
	return s.close(dst)
}

func (s *Sandbox) close(keepUpper string) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		if keepUpper != "" {
			return errors.New("closing sandbox: already closed, upper/ is gone")
		}
		return nil
	}
	s.closed = true
	stop := s.stopRun
	s.mu.Unlock()
	if stop != nil {
		stop() // the Run's watcher kills the container, the Run deletes it
	}
	s.runMu.Lock()
	defer s.runMu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.endSession(ctx)
	s.waitEnding()
	var errs []error
	if err := unmount(ctx, s.merged); err != nil {
		errs = append(errs, fmt.Errorf("closing sandbox: %w", err))
	} else if keepUpper != "" {
		if err := os.Rename(s.upper, keepUpper); err != nil {
			errs = append(errs, fmt.Errorf("closing sandbox: keeping upper/: %w", err))
		}
	}
	if err := os.RemoveAll(s.scratch); err != nil {
		errs = append(errs, fmt.Errorf("closing sandbox: removing %s: %w", s.scratch, err))
	}
	return errors.Join(errs...)
}

// unmount unmounts target, retrying while it is busy, then detaching it
// lazily. A target that is not mounted is not an error.
func unmount(ctx context.Context, target string) error {
	for i := 0; ; i++ {
		err := unix.Unmount(target, 0)
		switch {
		case err == nil, errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EBUSY) && i < 20 && ctx.Err() == nil:
			time.Sleep(25 * time.Millisecond)
			continue
		case errors.Is(err, unix.EBUSY):
			slog.WarnContext(ctx, "overlay busy, detaching it lazily", "target", target)
			if err := unix.Unmount(target, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("unmounting %s lazily: %w", target, err)
			}
			return nil
		default:
			return fmt.Errorf("unmounting %s: %w", target, err)
		}
	}
}
