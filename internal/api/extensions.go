package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/identity"
	"github.com/goldsmith/goldsmith/internal/service"
)

// ExtensionPrefix starts the paths of goldsmith's own calls, which are
// not part of the Image Builder API. They are signed and answered like it.
const ExtensionPrefix = "/goldsmith/"

// Extensions are goldsmith's own operations.
type Extensions interface {
	// BuildBaseImage builds and registers a managed base image.
	BuildBaseImage(ctx context.Context, in *service.BuildBaseImageInput) (*service.BuildBaseImageOutput, error)
}

// serveExtension answers POST /goldsmith/<Operation>; it reports false when
// the path is not an extension.
func (s *Server) serveExtension(w http.ResponseWriter, r *http.Request, reqID string) bool {
	if s.ext == nil || r.Method != http.MethodPost {
		return false
	}
	var call func(ctx context.Context, body []byte) (any, error)
	switch r.URL.Path {
	case ExtensionPrefix + "BuildBaseImage":
		call = func(ctx context.Context, body []byte) (any, error) {
			var in service.BuildBaseImageInput
			if err := json.Unmarshal(body, &in); err != nil {
				return nil, &gen.Error{Code: gen.CodeInvalidRequest, Status: 400, Message: "the request body is not valid JSON: " + jsonProblem(err)}
			}
			return s.ext.BuildBaseImage(ctx, &in)
		}
	default:
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes))
	if err != nil {
		writeError(w, gen.CodeInvalidRequest, http.StatusBadRequest, "reading request body: "+err.Error())
		return true
	}
	caller, err := s.auth.Authenticate(r, body)
	if err != nil {
		var ae *AuthError
		if errors.As(err, &ae) {
			writeError(w, ae.Code, http.StatusForbidden, ae.Message)
			return true
		}
		panic(fmt.Sprintf("authenticator: %v", err))
	}
	out, err := call(identity.WithCaller(r.Context(), caller), body)
	if err != nil {
		s.writeErr(w, &gen.Route{Operation: r.URL.Path}, err, reqID)
		return true
	}
	b, err := json.Marshal(out)
	if err != nil {
		s.writeErr(w, &gen.Route{Operation: r.URL.Path}, err, reqID)
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return true
}
