// Package api serves the EC2 Image Builder wire protocol (restJson1 over
// HTTP with SigV4): routing of all 77 operations, authentication, request
// IDs, error encoding, pagination tokens and clientToken idempotency. It
// knows no resource rules; those live behind gen.Handler in the service.
package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/identity"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 8 << 20

// AuthError is an authentication failure, answered with HTTP 403.
type AuthError struct{ Code, Message string }

func (e *AuthError) Error() string { return e.Code + ": " + e.Message }

// Authenticator verifies a request's signature and names its caller. It
// returns an *AuthError for every failure a client can cause.
type Authenticator interface {
	Authenticate(r *http.Request, body []byte) (identity.Caller, error)
}

// Idempotency remembers the responses of calls made with a clientToken.
type Idempotency interface {
	// Lookup returns the request hash and response stored for the key.
	Lookup(ctx context.Context, account, op, token string) (hash string, response []byte, found bool, err error)
	// Remember stores them; a concurrent duplicate is not an error.
	Remember(ctx context.Context, account, op, token, hash string, response []byte) error
}

// Config configures a Server.
type Config struct {
	Handler       gen.Handler
	Authenticator Authenticator
	Idempotency   Idempotency
	// TokenKey signs pagination tokens (at least 32 random bytes, kept
	// stable across restarts so tokens stay valid).
	TokenKey []byte
	Logger   *slog.Logger
	// Extensions serves goldsmith's own calls under /goldsmith/ (optional).
	Extensions Extensions
}

// Server is the HTTP handler of the API.
type Server struct {
	h      gen.Handler
	auth   Authenticator
	idem   Idempotency
	tokens tokenCodec
	log    *slog.Logger
	routes map[string]*gen.Route // "METHOD /Path"
	locks  keyedMutex
	ext    Extensions
}

// New returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Handler == nil || cfg.Authenticator == nil || cfg.Idempotency == nil {
		return nil, errors.New("api: Handler, Authenticator and Idempotency are required")
	}
	if len(cfg.TokenKey) < 32 {
		return nil, errors.New("api: TokenKey must be at least 32 bytes")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		h: cfg.Handler, auth: cfg.Authenticator, idem: cfg.Idempotency,
		tokens: tokenCodec{key: cfg.TokenKey}, log: log, ext: cfg.Extensions,
		routes: make(map[string]*gen.Route, len(gen.Routes)),
	}
	for _, r := range gen.Routes {
		s.routes[r.Method+" "+r.Path] = r
	}
	return s, nil
}

const tagsPrefix = "/tags/"

// ServeHTTP answers one API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := uuid.NewString()
	w.Header().Set("x-amzn-RequestId", reqID)
	rw := &statusWriter{ResponseWriter: w}
	op := ""
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic serving request", "requestId", reqID, "operation", op,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if rw.status == 0 {
				writeError(rw, gen.CodeService, 500, "internal error (request "+reqID+")")
			}
		}
		s.log.Debug("request", "requestId", reqID, "method", r.Method, "path", r.URL.Path,
			"operation", op, "status", rw.status, "duration", time.Since(start))
	}()

	route, label := s.route(r)
	if route == nil && strings.HasPrefix(r.URL.Path, ExtensionPrefix) && s.serveExtension(rw, r, reqID) {
		op = r.URL.Path
		return
	}
	if route == nil {
		writeError(rw, "UnknownOperationException", http.StatusNotFound,
			fmt.Sprintf("no operation matches %s %s", r.Method, r.URL.Path))
		return
	}
	op = route.Operation
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		writeError(rw, validationCode(route, ""), http.StatusBadRequest, "reading request body: "+err.Error())
		return
	}
	if len(body) > MaxBodyBytes {
		writeError(rw, validationCode(route, ""), http.StatusBadRequest,
			fmt.Sprintf("request body exceeds %d bytes", MaxBodyBytes))
		return
	}
	caller, err := s.auth.Authenticate(r, body)
	if err != nil {
		var ae *AuthError
		if errors.As(err, &ae) {
			writeError(rw, ae.Code, http.StatusForbidden, ae.Message)
			return
		}
		panic(fmt.Sprintf("authenticator: %v", err))
	}
	out, err := s.call(identity.WithCaller(r.Context(), caller), route, caller, r.URL.Query(), label, body, reqID)
	if err != nil {
		s.writeErr(rw, route, err, reqID)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write(out)
}

// route finds the operation for the request and, for the tag calls, the
// decoded resource ARN.
func (s *Server) route(r *http.Request) (*gen.Route, string) {
	path := r.URL.EscapedPath()
	if rest, ok := strings.CutPrefix(path, tagsPrefix); ok && rest != "" {
		label, err := url.PathUnescape(rest)
		if err != nil {
			return nil, ""
		}
		return s.routes[r.Method+" /tags/{resourceArn}"], label
	}
	return s.routes[r.Method+" "+r.URL.Path], ""
}

// call decodes, validates and invokes one operation and returns the JSON
// response body.
func (s *Server) call(ctx context.Context, route *gen.Route, caller identity.Caller, q url.Values, label string, body []byte, reqID string) ([]byte, error) {
	in := route.NewInput()
	if route.Method == http.MethodPut || route.Method == http.MethodPost {
		if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 {
			if err := json.Unmarshal(trimmed, in); err != nil {
				return nil, &gen.Error{Code: validationCode(route, ""), Status: 400, Message: "the request body is not valid JSON for " + route.Operation + ": " + jsonProblem(err)}
			}
		}
	}
	if route.Bind != nil {
		if err := route.Bind(in, q, label); err != nil {
			return nil, err
		}
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if route.PageToken != nil {
		if tok := route.PageToken(in); *tok != "" {
			cursor, err := s.tokens.open(route.Operation, caller.Account, *tok)
			if err != nil {
				code := gen.CodeInvalidPaginationToken
				return nil, &gen.Error{Code: code, Status: gen.StatusOf(code), Message: "nextToken is not a token issued by " + route.Operation + " for this account"}
			}
			*tok = cursor
		}
	}
	token := ""
	if route.ClientToken != nil {
		token = *route.ClientToken(in)
	}
	if token == "" {
		out, err := route.Invoke(ctx, s.h, in)
		if err != nil {
			return nil, err
		}
		return s.encode(route, caller, out, "", reqID)
	}
	return s.idempotent(ctx, route, caller, in, token, reqID)
}

// idempotent runs a call that carries a clientToken: a repeat with the same
// input gets the original response, a repeat with a different input gets
// IdempotentParameterMismatchException.
func (s *Server) idempotent(ctx context.Context, route *gen.Route, caller identity.Caller, in gen.Input, token, reqID string) ([]byte, error) {
	ptr := route.ClientToken(in)
	*ptr = ""
	canon, err := json.Marshal(in)
	*ptr = token
	if err != nil {
		return nil, fmt.Errorf("hashing %s input: %w", route.Operation, err)
	}
	sum := sha256.Sum256(canon)
	hash := hex.EncodeToString(sum[:])

	unlock := s.locks.lock(caller.Account + "\x00" + route.Operation + "\x00" + token)
	defer unlock()
	prevHash, prev, found, err := s.idem.Lookup(ctx, caller.Account, route.Operation, token)
	if err != nil {
		return nil, fmt.Errorf("idempotency lookup: %w", err)
	}
	if found {
		if prevHash != hash {
			code := gen.CodeIdempotentParameterMismatch
			return nil, &gen.Error{Code: code, Status: gen.StatusOf(code), Message: fmt.Sprintf("clientToken %q was already used with different parameters for %s", token, route.Operation)}
		}
		out := route.NewOutput()
		if err := json.Unmarshal(prev, out); err != nil {
			return nil, fmt.Errorf("decoding remembered %s response: %w", route.Operation, err)
		}
		return s.encode(route, caller, out, token, reqID)
	}
	out, err := route.Invoke(ctx, s.h, in)
	if err != nil {
		return nil, err
	}
	if route.SetClientToken != nil {
		route.SetClientToken(out, token)
	}
	remembered, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encoding %s response: %w", route.Operation, err)
	}
	if err := s.idem.Remember(ctx, caller.Account, route.Operation, token, hash, remembered); err != nil {
		s.log.Warn("remembering idempotent response failed", "operation", route.Operation, "error", err)
	}
	return s.encode(route, caller, out, token, reqID)
}

// encode fills the wire-level output members and marshals the output.
func (s *Server) encode(route *gen.Route, caller identity.Caller, out any, token, reqID string) ([]byte, error) {
	if route.NextToken != nil {
		if next := route.NextToken(out); *next != "" {
			*next = s.tokens.seal(route.Operation, caller.Account, *next)
		}
	}
	if token != "" && route.SetClientToken != nil {
		route.SetClientToken(out, token)
	}
	if route.SetRequestID != nil {
		route.SetRequestID(out, reqID)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encoding %s response: %w", route.Operation, err)
	}
	return b, nil
}

// writeErr maps err to the wire: modelled errors keep their code, input
// validation failures get the operation's validation code, anything else
// is a logged 500 ServiceException.
func (s *Server) writeErr(w http.ResponseWriter, route *gen.Route, err error, reqID string) {
	var ge *gen.Error
	var ve *gen.ValidationError
	switch {
	case errors.As(err, &ge):
		status := ge.Status
		if status == 0 {
			status = gen.StatusOf(ge.Code)
		}
		writeError(w, ge.Code, status, ge.Message)
	case errors.As(err, &ve):
		writeError(w, validationCode(route, ve.Field), http.StatusBadRequest, ve.Error())
	case errors.Is(err, context.Canceled):
		writeError(w, gen.CodeService, http.StatusInternalServerError, "request cancelled (request "+reqID+")")
	default:
		s.log.Error("operation failed", "requestId", reqID, "operation", route.Operation, "error", err)
		writeError(w, gen.CodeService, http.StatusInternalServerError, "internal error (request "+reqID+")")
	}
}

// validationCode picks the modelled error for input that breaks a
// constraint: InvalidVersionNumberException for version fields where the
// operation lists it, else the first of the generic client errors it lists.
func validationCode(route *gen.Route, field string) string {
	if strings.HasSuffix(strings.ToLower(field), "semanticversion") && route.Lists(gen.CodeInvalidVersionNumber) {
		return gen.CodeInvalidVersionNumber
	}
	for _, c := range []string{gen.CodeInvalidRequest, gen.CodeInvalidParameter, gen.CodeClient} {
		if route.Lists(c) {
			return c
		}
	}
	return gen.CodeInvalidRequest
}

func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("member '%s' cannot be a JSON %s", te.Field, te.Value)
	}
	return err.Error()
}

func writeError(w http.ResponseWriter, code string, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	_, _ = w.Write(b)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// keyedMutex serializes callers per key (one clientToken at a time).
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedEntry{}
	}
	e := k.locks[key]
	if e == nil {
		e = &keyedEntry{}
		k.locks[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
