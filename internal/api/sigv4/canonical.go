package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	// unsignedPayload is the payload hash of a request whose body is not
	// covered by the signature.
	unsignedPayload = "UNSIGNED-PAYLOAD"
	upperHex        = "0123456789ABCDEF"
)

// canonicalRequest joins the six lines of a SigV4 canonical request.
func canonicalRequest(method, uri, query, headers, signedHeaders, payloadHash string) string {
	return strings.Join([]string{method, uri, query, headers, signedHeaders, payloadHash}, "\n")
}

// requestCanonicalURI is the canonical URI of r. On the server side it is
// built from r.RequestURI, the request-target exactly as received, so that
// even bytes net/url would re-escape (raw '"', '{', non-ASCII, ...) are
// encoded as the client saw them; it also stays right if a router rewrote
// r.URL. Requests without a usable RequestURI (client-side requests, "*")
// use r.URL.
func requestCanonicalURI(r *http.Request) string {
	if p, ok := sentPath(r.RequestURI); ok {
		return uriEncode(p, false)
	}
	return canonicalURI(r.URL)
}

// sentPath extracts the path of an origin-form ("/p?q") or absolute-form
// ("http://host/p?q") request-target.
func sentPath(target string) (string, bool) {
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	if strings.HasPrefix(target, "/") {
		return target, true
	}
	scheme, rest, ok := strings.Cut(target, "://")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/") {
		return "", false
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[i:], true
	}
	return "/", true
}

// canonicalURI is the canonical URI of u for services other than S3: the
// path exactly as sent on the wire (still percent-encoded), URI-encoded once
// more with '/' kept. So "/tags/arn%3Aaws" becomes "/tags/arn%253Aaws".
//
// The path as sent is u.EscapedPath(): for a server request it is the
// request-target's path whenever that is a valid encoding (net/url keeps it in
// RawPath), which is what the client signed.
func canonicalURI(u *url.URL) string {
	var p string
	if u.Opaque != "" {
		// "//host/path" or "scheme://host/path" kept verbatim.
		p = u.Opaque
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		p = strings.TrimPrefix(p, "//")
		if i := strings.IndexByte(p, '/'); i >= 0 {
			p = p[i:]
		} else {
			p = ""
		}
	} else {
		p = u.EscapedPath()
	}
	if p == "" {
		p = "/"
	}
	return uriEncode(p, false)
}

// uriEncode percent-encodes every byte of s outside the RFC 3986 unreserved
// set (A-Z a-z 0-9 - _ . ~) with uppercase hex. '/' is kept unless
// encodeSlash is set.
func uriEncode(s string, encodeSlash bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || c == '/' && !encodeSlash {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// canonicalQuery encodes each name and value (RFC 3986, space as %20), then
// sorts the pairs by encoded name and then encoded value, as the SigV4
// specification requires ("the sorting occurs after encoding").
func canonicalQuery(q url.Values) string {
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(q))
	for k, vs := range q {
		ek := uriEncode(k, true)
		for _, v := range vs {
			pairs = append(pairs, pair{ek, uriEncode(v, true)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// canonicalHeaders renders "name:value\n" for each signed header name (which
// are already lowercase and sorted). "host" comes from r.Host (r.URL.Host if
// empty), because net/http moves the Host header there. Several values of
// one header are joined with ','; each value is trimmed and its runs of
// spaces collapsed to one. A signed header that is absent renders as empty.
func canonicalHeaders(r *http.Request, signed []string) string {
	lower := make(map[string][]string, len(r.Header))
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		lower[lk] = append(lower[lk], vs...)
	}
	var b strings.Builder
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		var values []string
		switch name {
		case "host":
			host := r.Host
			if host == "" {
				host = r.URL.Host
			}
			values = []string{host}
		case "content-length":
			values = lower[name]
			if len(values) == 0 && r.ContentLength > 0 {
				// Client-side requests keep the length in the field only.
				values = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		default:
			values = lower[name]
		}
		for i, v := range values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(trimHeaderValue(v))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// trimHeaderValue trims surrounding whitespace and collapses each run of
// spaces into a single space.
func trimHeaderValue(v string) string {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "  ") {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	prevSpace := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if prevSpace {
				continue
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// stringToSign builds the SigV4 string to sign.
func stringToSign(t time.Time, scope, canonical string) string {
	return algorithm + "\n" + t.UTC().Format(amzDateFormat) + "\n" + scope + "\n" + hashHex([]byte(canonical))
}

// signingKey derives the SigV4 signing key for one day, region and service.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, terminator)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
