package service

import (
	"context"

	"github.com/goldsmith/goldsmith/internal/identity"
)

// Caller is the authenticated principal of a request.
type Caller = identity.Caller

// CallerFrom returns the caller carried by ctx.
func CallerFrom(ctx context.Context) (Caller, bool) { return identity.CallerFrom(ctx) }
