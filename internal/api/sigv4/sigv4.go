// Package sigv4 verifies AWS Signature Version 4 (AWS4-HMAC-SHA256) signed
// HTTP requests, both header-signed (Authorization header) and query-signed
// (presigned URLs), the way AWS services other than S3 do.
//
// The canonical request follows the AWS specification and matches what
// aws-sdk-go-v2's signer produces; in particular the canonical URI is the
// path as sent (still percent-encoded) encoded a second time, so
// "/tags/arn%3Aaws%3A..." is signed as "/tags/arn%253Aaws%253A...".
//
// Failures are reported as *Error values carrying AWS error codes and
// messages; all of them are HTTP 403.
package sigv4

import (
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Credentials are one access key's secret and owning account.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	Account         string
}

// Identity is who signed a verified request.
type Identity struct {
	AccessKeyID string
	Account     string
	// Region is the region named in the signature's credential scope.
	Region string
}

// Verifier checks SigV4 signatures. Its fields are read-only after set-up, so
// one Verifier may be used by many goroutines at once.
type Verifier struct {
	// Service is the signing name the credential scope must name, e.g.
	// "imagebuilder".
	Service string
	// Lookup returns the credentials of an access key ID, or false if the key
	// is unknown. A nil Lookup knows no keys.
	Lookup func(accessKeyID string) (Credentials, bool)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MaxSkew is how far the signing time may be from Now; 0 means 15 minutes.
	MaxSkew time.Duration

	// keys remembers derived signing keys (one per secret, day, region and
	// service) so a request costs one HMAC instead of five.
	keys keyCache
}

// Header and query parameter names.
const (
	headerAuthorization = "Authorization"
	headerAmzDate       = "X-Amz-Date"
	headerDate          = "Date"
	headerContentSHA256 = "X-Amz-Content-Sha256"
	headerSecurityToken = "X-Amz-Security-Token"

	queryAlgorithm     = "X-Amz-Algorithm"
	queryCredential    = "X-Amz-Credential"
	queryDate          = "X-Amz-Date"
	querySignedHeaders = "X-Amz-SignedHeaders"
	querySignature     = "X-Amz-Signature"
	queryExpires       = "X-Amz-Expires"

	// maxExpires is the longest X-Amz-Expires AWS accepts: seven days.
	maxExpires = 7 * 24 * 60 * 60
)

// request is the signature data gathered from either the Authorization header
// or the query string.
type request struct {
	credential    string
	signedHeaders string
	signature     string
	date          time.Time
	dateText      string // the date as sent, for messages
	query         url.Values
	payloadHash   string
	presigned     bool
	expires       time.Duration
	hasExpires    bool
}

// Verify checks the SigV4 signature of r, whose body has already been read
// into body (r.Body is not touched). On success it returns who signed the
// request; on failure the error is an *Error.
//
// r should be the request as the server received it: the canonical URI is
// taken from r.RequestURI when set (r.URL otherwise) and the host from
// r.Host, so a proxy in front must pass the client's Host through.
func (v *Verifier) Verify(r *http.Request, body []byte) (Identity, error) {
	id, err := v.verify(r, body)
	if err != nil {
		return Identity{}, err
	}
	return id, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return 15 * time.Minute
}

func (v *Verifier) verify(r *http.Request, body []byte) (Identity, *Error) {
	query := r.URL.Query()
	authHeaders := r.Header.Values(headerAuthorization)
	presigned := query.Has(queryAlgorithm) || query.Has(queryCredential) || query.Has(querySignature)

	var req request
	var err *Error
	switch {
	case len(authHeaders) > 0 && presigned:
		return Identity{}, incomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.")
	case len(authHeaders) > 1:
		return Identity{}, incomplete("Only one Authorization header is allowed.")
	case len(authHeaders) == 1:
		req, err = fromHeader(r, authHeaders[0], query)
	case presigned:
		req, err = fromQuery(r, query)
	default:
		return Identity{}, newError(CodeMissingAuthenticationToken, msgMissingAuthenticationToken)
	}
	if err != nil {
		return Identity{}, err
	}

	cred, err := parseCredential(req.credential)
	if err != nil {
		return Identity{}, err
	}
	signed, err := parseSignedHeaders(req.signedHeaders)
	if err != nil {
		return Identity{}, err
	}
	if r.Header.Get(headerSecurityToken) != "" && !slices.Contains(signed, "x-amz-security-token") {
		return Identity{}, incomplete("'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if day := req.date.Format(scopeDateFormat); cred.Date != day {
		return Identity{}, invalid("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			cred.Date, day, req.dateText)
	}
	if !validRegion(cred.Region) {
		return Identity{}, invalid("Credential should be scoped to a valid region, not '%s'. ", cred.Region)
	}
	if cred.Service != v.Service {
		return Identity{}, invalid("Credential should be scoped to correct service: '%s'. ", v.Service)
	}
	if err := v.checkTime(req); err != nil {
		return Identity{}, err
	}
	if err := checkPayloadHashSyntax(req.payloadHash); err != nil {
		return Identity{}, err
	}
	bodyChecked := false
	if req.payloadHash == "" {
		req.payloadHash = hashHex(body)
		bodyChecked = true
	}

	var creds Credentials
	ok := false
	if v.Lookup != nil {
		creds, ok = v.Lookup(cred.AccessKeyID)
	}
	if !ok || creds.SecretAccessKey == "" {
		return Identity{}, newError(CodeUnrecognizedClient, msgUnrecognizedClient)
	}

	canonical := req.canonical(r, signed)
	key := v.keys.get(creds.SecretAccessKey, cred.Date, cred.Region, cred.Service)
	want := hmacSHA256(key, stringToSign(req.date, cred.Scope(), canonical))
	got, decErr := hex.DecodeString(req.signature)
	if decErr != nil || !hmac.Equal(got, want) {
		return Identity{}, invalid(msgSignatureMismatch)
	}

	// The signature covers the claimed payload hash; make sure the body is
	// the one it describes.
	if !bodyChecked && req.payloadHash != unsignedPayload && !strings.EqualFold(req.payloadHash, hashHex(body)) {
		return Identity{}, invalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
	}

	return Identity{AccessKeyID: cred.AccessKeyID, Account: creds.Account, Region: cred.Region}, nil
}

// canonical builds the canonical request of r as described by req, whose
// payloadHash must be final.
func (req request) canonical(r *http.Request, signed []string) string {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	return canonicalRequest(method, requestCanonicalURI(r), canonicalQuery(req.query),
		canonicalHeaders(r, signed), req.signedHeaders, req.payloadHash)
}

// fromHeader gathers the signature data of a header-signed request.
func fromHeader(r *http.Request, header string, query url.Values) (request, *Error) {
	a, err := parseAuthorization(header)
	if err != nil {
		return request{}, err
	}
	req := request{
		credential:    a.Credential,
		signedHeaders: a.SignedHeaders,
		signature:     a.Signature,
		query:         query,
	}
	if d := r.Header.Get(headerAmzDate); d != "" {
		req.dateText = d
		req.date, err = parseAmzDate(d)
	} else if d := r.Header.Get(headerDate); d != "" {
		req.dateText = d
		req.date, err = parseHTTPDate(d)
	} else {
		return request{}, incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=%s", strings.TrimSpace(header))
	}
	if err != nil {
		return request{}, err
	}
	// Empty means "hash of the body", filled in by verify.
	req.payloadHash = r.Header.Get(headerContentSHA256)
	return req, nil
}

// fromQuery gathers the signature data of a presigned (query-signed) request.
func fromQuery(r *http.Request, query url.Values) (request, *Error) {
	var missing []string
	for _, k := range []string{queryAlgorithm, queryCredential, querySignature, querySignedHeaders, queryDate} {
		switch n := len(query[k]); {
		case n == 0 || query.Get(k) == "":
			missing = append(missing, "AWS query-string parameters must include '"+k+"'.")
		case n > 1:
			return request{}, incomplete("AWS query-string parameter '%s' must not be repeated.", k)
		}
	}
	if len(missing) > 0 {
		return request{}, incomplete("%s Re-examine the query-string parameters.", strings.Join(missing, " "))
	}
	if alg := query.Get(queryAlgorithm); alg != algorithm {
		return request{}, incomplete("X-Amz-Algorithm only supports \"%s\", not '%s'.", algorithm, alg)
	}
	req := request{
		credential:    query.Get(queryCredential),
		signedHeaders: query.Get(querySignedHeaders),
		signature:     query.Get(querySignature),
		dateText:      query.Get(queryDate),
		presigned:     true,
	}
	var err *Error
	req.date, err = parseAmzDate(req.dateText)
	if err != nil {
		return request{}, err
	}
	if vs, ok := query[queryExpires]; ok {
		if len(vs) != 1 {
			return request{}, incomplete("AWS query-string parameter '%s' must not be repeated.", queryExpires)
		}
		n, convErr := strconv.ParseInt(vs[0], 10, 64)
		switch {
		case convErr != nil && !errors.Is(convErr, strconv.ErrRange):
			return request{}, incomplete("X-Amz-Expires should be a number")
		case strings.HasPrefix(vs[0], "-"):
			return request{}, incomplete("X-Amz-Expires must be non-negative")
		case convErr != nil || n > maxExpires:
			return request{}, incomplete("X-Amz-Expires must be less than a week (in seconds) that is %d", maxExpires)
		}
		req.expires = time.Duration(n) * time.Second
		req.hasExpires = true
	}
	// The signature itself is not part of what was signed.
	req.query = make(url.Values, len(query))
	for k, vs := range query {
		if k != querySignature {
			req.query[k] = vs
		}
	}
	req.payloadHash = r.Header.Get(headerContentSHA256)
	if req.payloadHash == "" {
		req.payloadHash = unsignedPayload
	}
	return req, nil
}

// checkTime enforces the allowed clock skew and, for presigned URLs, expiry.
func (v *Verifier) checkTime(req request) *Error {
	now := v.now().UTC()
	skew := v.maxSkew()
	signed := req.date.Format(amzDateFormat)
	if req.date.After(now.Add(skew)) {
		return invalid("Signature not yet current: %s is still later than %s (%s + %s)",
			signed, now.Add(skew).Format(amzDateFormat), now.Format(amzDateFormat), formatSkew(skew))
	}
	if req.presigned && req.hasExpires {
		if now.After(req.date.Add(req.expires)) {
			return newError(CodeAccessDenied, msgRequestExpired)
		}
		return nil
	}
	if req.date.Before(now.Add(-skew)) {
		return invalid("Signature expired: %s is now earlier than %s (%s - %s)",
			signed, now.Add(-skew).Format(amzDateFormat), now.Format(amzDateFormat), formatSkew(skew))
	}
	return nil
}

// formatSkew renders a skew AWS-style: "15 min.".
func formatSkew(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min."
	}
	return d.String()
}

// checkPayloadHashSyntax accepts UNSIGNED-PAYLOAD or a hex SHA-256 digest.
// Streaming payload modes are not supported.
func checkPayloadHashSyntax(h string) *Error {
	if h == "" || h == unsignedPayload {
		return nil
	}
	if len(h) == 64 {
		if _, err := hex.DecodeString(h); err == nil {
			return nil
		}
	}
	return incomplete("x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a SHA-256 hex digest, not '%s'.", h)
}
