package dockerfile

import (
	"context"
	"io"
)

// sandbox is the part of container.Sandbox that Build uses; tests substitute
// a fake for it.
type sandbox interface {
	RootFS() string
	Run(ctx context.Context, p process) (exitCode int, err error)
	WriteLayer(ctx context.Context, w io.Writer) error
	// CloseKeepingUpper closes the sandbox and moves its changes (an
	// overlayfs upper directory) to dst, to be stacked as a lower.
	CloseKeepingUpper(dst string) error
	Close() error
	// Prestart starts the sandbox's runner in the background (nothing
	// without a runner).
	Prestart()
}

// process mirrors container.Process.
type process struct {
	Args           []string
	Env            []string
	Cwd            string
	User           string
	Stdout, Stderr io.Writer
}

// sandboxOptions mirrors container.Options.
type sandboxOptions struct {
	Lowers     []string
	ScratchDir string
	Network    bool
	Runner     string
}

// runtime is o's sandbox runtime: the container package unless a test set
// a fake.
func (o Options) runtime() *sandboxRuntime {
	if o.rt != nil {
		return o.rt
	}
	rt := containerRuntime()
	return &rt
}

// sandboxRuntime opens sandboxes and unpacks layers: the container package, or a
// fake in unit tests.
type sandboxRuntime struct {
	open   func(ctx context.Context, o sandboxOptions) (sandbox, error)
	unpack func(ctx context.Context, layer io.Reader, dir string) error
}
