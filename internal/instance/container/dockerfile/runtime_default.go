package dockerfile

import (
	"context"
	"io"

	"github.com/goldsmith/goldsmith/internal/instance/container"
)

// containerRuntime is the default runtime: runc sandboxes over overlayfs
// and the layer unpacker of package container.
func containerRuntime() sandboxRuntime {
	return sandboxRuntime{
		open: func(ctx context.Context, o sandboxOptions) (sandbox, error) {
			sb, err := container.Open(ctx, container.Options{Lowers: o.Lowers, ScratchDir: o.ScratchDir, Network: o.Network, Runner: o.Runner})
			if err != nil {
				return nil, err
			}
			return containerSandbox{sb}, nil
		},
		unpack: container.Unpack,
	}
}

// containerSandbox adapts *container.Sandbox to sandbox.
type containerSandbox struct{ *container.Sandbox }

func (s containerSandbox) Run(ctx context.Context, p process) (int, error) {
	return s.Sandbox.Run(ctx, container.Process{Args: p.Args, Env: p.Env, Cwd: p.Cwd, User: p.User,
		Stdout: p.Stdout, Stderr: p.Stderr})
}

func (s containerSandbox) WriteLayer(ctx context.Context, w io.Writer) error {
	return s.Sandbox.WriteLayer(ctx, w)
}
