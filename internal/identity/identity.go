// Package identity carries the authenticated caller of a request through
// context, from the API layer to the service.
package identity

import "context"

// Caller is the authenticated principal of a request: the account that owns
// what it creates and the region its ARNs carry.
type Caller struct {
	AccessKeyID string
	Account     string
	Region      string
}

type callerKey struct{}

// WithCaller returns ctx carrying the caller.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller carried by ctx.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}
