package dockerfile

import (
	"context"
	"errors"
	"io"
)

// errNoRuntime is returned until the container package provides sandboxes.
var errNoRuntime = errors.New("no container runtime")

// containerRuntime is the default runtime.
func containerRuntime() sandboxRuntime {
	return sandboxRuntime{
		open:   func(context.Context, sandboxOptions) (sandbox, error) { return nil, errNoRuntime },
		unpack: func(context.Context, io.Reader, string) error { return errNoRuntime },
	}
}
