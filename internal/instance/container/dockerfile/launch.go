package dockerfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Launched is the sandbox of a build's first layer, opened and started
// ahead of Build by Launch.
type Launched struct {
	base  v1.Hash // digest of the base image it was opened over
	lower string
	sb    sandbox
}

// Launch opens, ahead of Build, the sandbox the build's first filesystem
// instruction will run in when the Dockerfile's base image is base: over
// base's layers from o.LayerCache (which Launch requires), in the first
// sandbox's place under o.ScratchDir, with its runner (o.Runner) started
// in the background. The caller can then prepare the build (render the
// Dockerfile, stage components) while the build instance comes up. Build
// takes it over (Options.Launched) and closes it when the base turns out
// to be another image; a caller that does not run Build calls Close.
func Launch(ctx context.Context, o Options, base v1.Image) (*Launched, error) {
	if o.LayerCache == nil {
		return nil, errors.New("launching a build sandbox: no layer cache")
	}
	if o.ScratchDir == "" {
		return nil, errors.New("launching a build sandbox: no scratch directory")
	}
	d, err := base.Digest()
	if err != nil {
		return nil, fmt.Errorf("launching a build sandbox: %w", err)
	}
	layers, err := base.Layers()
	if err != nil {
		return nil, fmt.Errorf("launching a build sandbox: reading the base image's layers: %w", err)
	}
	lower, err := o.LayerCache.Lower(ctx, layers)
	if err != nil {
		return nil, fmt.Errorf("launching a build sandbox: unpacking the base image: %w", err)
	}
	if err := os.MkdirAll(o.ScratchDir, 0o700); err != nil {
		return nil, fmt.Errorf("launching a build sandbox: %w", err)
	}
	sb, err := o.openSandbox(ctx, []string{lower}, 1)
	if err != nil {
		return nil, fmt.Errorf("launching a build sandbox: %w", err)
	}
	sb.Prestart()
	return &Launched{base: d, lower: lower, sb: sb}, nil
}

// Close closes a launched sandbox Build did not take over. It is
// idempotent and accepts nil.
func (l *Launched) Close() error {
	if l == nil || l.sb == nil {
		return nil
	}
	sb := l.sb
	l.sb = nil
	return sb.Close()
}

// openSandbox opens a build's n-th sandbox over lowers, top-most first.
func (o Options) openSandbox(ctx context.Context, lowers []string, n int) (sandbox, error) {
	return o.runtime().open(ctx, sandboxOptions{
		Lowers:     slices.Clone(lowers),
		ScratchDir: filepath.Join(o.ScratchDir, fmt.Sprintf("sandbox-%d", n)),
		Network:    o.Network,
		Runner:     o.Runner,
	})
}

// takeLaunched uses the launched sandbox for the build's first layer when
// it was opened over the build's base image, else closes it. It reports
// whether it did.
func (b *builder) takeLaunched() (bool, error) {
	l := b.o.Launched
	b.o.Launched = nil
	if l == nil || l.sb == nil {
		return false, nil
	}
	if d, err := b.img.Digest(); err != nil || d != l.base {
		return false, l.Close()
	}
	b.lowers = []string{l.lower}
	b.sbIndex = 1
	b.sb, b.groupFrom = l.sb, len(b.history)
	l.sb = nil
	return true, nil
}
