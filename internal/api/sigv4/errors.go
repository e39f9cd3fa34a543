package sigv4

import (
	"fmt"
	"net/http"
)

// Error codes returned by Verify. They mirror the codes AWS services use for
// authentication failures, so that AWS SDKs and the CLI recognise them.
const (
	// CodeMissingAuthenticationToken means the request carried no SigV4
	// authentication at all.
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	// CodeIncompleteSignature means the authentication data is present but
	// malformed or incomplete.
	CodeIncompleteSignature = "IncompleteSignatureException"
	// CodeUnrecognizedClient means the access key ID is unknown.
	CodeUnrecognizedClient = "UnrecognizedClientException"
	// CodeInvalidSignature means the signature, its scope or its time is wrong.
	CodeInvalidSignature = "InvalidSignatureException"
	// CodeAccessDenied means a presigned URL has expired.
	CodeAccessDenied = "AccessDeniedException"
)

// Messages used with the codes above where AWS uses a fixed text.
const (
	msgMissingAuthenticationToken = "Missing Authentication Token"
	msgUnrecognizedClient         = "The security token included in the request is invalid."
	msgSignatureMismatch          = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method."
	msgRequestExpired = "Request has expired"
)

// Error is an authentication failure. Its HTTP status is always 403.
type Error struct {
	// Code is the AWS error code, e.g. "InvalidSignatureException".
	Code string
	// Message is the human-readable, AWS-style explanation.
	Message string
}

// Error implements the error interface as "Code: Message".
func (e *Error) Error() string {
	return e.Code + ": " + e.Message
}

// StatusCode is the HTTP status to answer with: always 403 Forbidden.
func (e *Error) StatusCode() int {
	return http.StatusForbidden
}

func newError(code, format string, args ...any) *Error {
	if len(args) == 0 {
		return &Error{Code: code, Message: format}
	}
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func incomplete(format string, args ...any) *Error {
	return newError(CodeIncompleteSignature, format, args...)
}

func invalid(format string, args ...any) *Error {
	return newError(CodeInvalidSignature, format, args...)
}
