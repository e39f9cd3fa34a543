package api

import (
	"errors"
	"net/http"

	"github.com/goldsmith/goldsmith/internal/api/sigv4"
	"github.com/goldsmith/goldsmith/internal/identity"
)

// SigV4 authenticates requests with AWS Signature Version 4.
type SigV4 struct{ Verifier *sigv4.Verifier }

// Authenticate verifies the request's signature.
func (a SigV4) Authenticate(r *http.Request, body []byte) (identity.Caller, error) {
	id, err := a.Verifier.Verify(r, body)
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			return identity.Caller{}, &AuthError{Code: se.Code, Message: se.Message}
		}
		return identity.Caller{}, err
	}
	return identity.Caller{AccessKeyID: id.AccessKeyID, Account: id.Account, Region: id.Region}, nil
}
