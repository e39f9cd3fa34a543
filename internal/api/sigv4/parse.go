package sigv4

import (
	"net/http"
	"strings"
	"time"
)

const (
	// algorithm is the only signing algorithm supported.
	algorithm = "AWS4-HMAC-SHA256"
	// terminator ends every SigV4 credential scope.
	terminator = "aws4_request"
	// amzDateFormat is the ISO-8601 basic format of X-Amz-Date.
	amzDateFormat = "20060102T150405Z"
	// scopeDateFormat is the date part of a credential scope.
	scopeDateFormat = "20060102"
)

// authorization holds the parameters of an "AWS4-HMAC-SHA256" Authorization
// header, unvalidated beyond being present.
type authorization struct {
	Credential    string
	SignedHeaders string
	Signature     string
}

// parseAuthorization splits an Authorization header of the form
//
//	AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=hex
//
// into its parameters. Parameters may come in any order, separated by commas
// with optional whitespace; unknown parameters are ignored. Every problem is
// reported as an IncompleteSignatureException. It never panics, whatever
// the input.
func parseAuthorization(header string) (authorization, *Error) {
	var a authorization
	h := strings.TrimSpace(header)
	alg, rest, _ := strings.Cut(h, " ")
	if alg != algorithm {
		if strings.HasPrefix(alg, "AWS4-") {
			return a, incomplete("Unsupported AWS 'algorithm': '%s'.", alg)
		}
		// Some other scheme (Basic, Bearer, garbage): nothing we can use.
		rest = ""
	}
	seen := make(map[string]bool, 3)
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, value, ok := strings.Cut(part, "=")
		if !ok {
			return a, incomplete("'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", part, h)
		}
		key = strings.TrimSpace(key)
		value = strings.TrimSpace(value)
		var dst *string
		switch key {
		case "Credential":
			dst = &a.Credential
		case "SignedHeaders":
			dst = &a.SignedHeaders
		case "Signature":
			dst = &a.Signature
		default:
			continue
		}
		if seen[key] {
			return a, incomplete("Authorization header has a duplicate '%s' parameter: '%s'.", key, h)
		}
		seen[key] = true
		*dst = value
	}
	var missing []string
	for _, p := range []struct {
		name, value string
	}{
		{"Credential", a.Credential},
		{"Signature", a.Signature},
		{"SignedHeaders", a.SignedHeaders},
	} {
		if p.value == "" {
			missing = append(missing, "Authorization header requires '"+p.name+"' parameter.")
		}
	}
	if len(missing) > 0 {
		return a, incomplete("%s Authorization=%s", strings.Join(missing, " "), h)
	}
	return a, nil
}

// credential is a parsed X-Amz-Credential / Credential value:
// AKID/YYYYMMDD/region/service/aws4_request.
type credential struct {
	AccessKeyID string
	Date        string
	Region      string
	Service     string
}

// Scope is the credential scope "date/region/service/aws4_request".
func (c credential) Scope() string {
	return c.Date + "/" + c.Region + "/" + c.Service + "/" + terminator
}

// parseCredential parses a credential. It checks only the syntax; the scope's
// date, region and service are checked by the caller.
func parseCredential(s string) (credential, *Error) {
	parts := strings.Split(s, "/")
	if len(parts) != 5 {
		return credential{}, incomplete("Credential is malformed: expected '<access key ID>/<YYYYMMDD>/<region>/<service>/aws4_request', got '%s'.", s)
	}
	for _, p := range parts {
		if p == "" {
			return credential{}, incomplete("Credential is malformed: expected '<access key ID>/<YYYYMMDD>/<region>/<service>/aws4_request', got '%s'.", s)
		}
	}
	if parts[4] != terminator {
		return credential{}, incomplete("Credential should be scoped with a valid terminator: '%s', not '%s'.", terminator, parts[4])
	}
	return credential{AccessKeyID: parts[0], Date: parts[1], Region: parts[2], Service: parts[3]}, nil
}

// validRegion reports whether s looks like a region name: 1 to 64 lowercase
// letters, digits and hyphens.
func validRegion(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// parseSignedHeaders parses "host;x-amz-date;...". Names must be lowercase,
// non-empty, unique and sorted, as every conforming signer produces them,
// and "host" must be among them.
func parseSignedHeaders(s string) ([]string, *Error) {
	names := strings.Split(s, ";")
	hasHost := false
	for i, n := range names {
		if n == "" || n != strings.ToLower(n) || strings.ContainsAny(n, " \t:") {
			return nil, incomplete("SignedHeaders is malformed: '%s'. Expected lowercase header names separated by ';'.", s)
		}
		if i > 0 && names[i-1] >= n {
			return nil, incomplete("SignedHeaders is malformed: '%s'. Header names must be sorted and unique.", s)
		}
		if n == "host" {
			hasHost = true
		}
	}
	if !hasHost {
		return nil, incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	return names, nil
}

// parseAmzDate parses an X-Amz-Date value in ISO-8601 basic format.
func parseAmzDate(s string) (time.Time, *Error) {
	t, err := time.Parse(amzDateFormat, s)
	if err != nil || len(s) != len(amzDateFormat) {
		return time.Time{}, incomplete("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", s)
	}
	return t.UTC(), nil
}

// parseHTTPDate parses a Date header: an HTTP date (RFC 1123 and the other
// formats HTTP allows) or, as some signers send it, ISO-8601 basic format.
func parseHTTPDate(s string) (time.Time, *Error) {
	if t, err := time.Parse(amzDateFormat, s); err == nil && len(s) == len(amzDateFormat) {
		return t.UTC(), nil
	}
	t, err := http.ParseTime(s)
	if err != nil {
		return time.Time{}, incomplete("Date header is malformed: '%s'. Expected an HTTP date such as 'Mon, 02 Jan 2006 15:04:05 GMT'.", s)
	}
	return t.UTC(), nil
}
