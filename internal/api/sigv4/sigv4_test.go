package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/logging"
)

const (
	testService = "imagebuilder"
	testRegion  = "us-east-1"
	testHost    = "imagebuilder.us-east-1.amazonaws.com"
	// tagsPath is a restJson1 path with a URI-escaped ARN label, as the SDK
	// sends it for ListTagsForResource / TagResource / UntagResource.
	tagsPath = "/tags/arn%3Aaws%3Aimagebuilder%3Aus-east-1%3A000000000000%3Acomponent%2Fx%2F1.0.0%2F1"
)

var (
	// signTime is when test requests are signed; testNow is the verifier's
	// clock unless a case says otherwise.
	signTime = time.Date(2026, 11, 23, 10, 45, 10, 0, time.UTC)

	testCreds = Credentials{
		AccessKeyID:     "AKIDGOLDSMITHTEST",
		SecretAccessKey: "s3cr3t/Key+With/Slashes=",
		Account:         "000000000000",
	}
	otherCreds = Credentials{
		AccessKeyID:     "AKIDOTHER",
		SecretAccessKey: "another-secret",
		Account:         "111111111111",
	}
)

func lookup(keys ...Credentials) func(string) (Credentials, bool) {
	return func(id string) (Credentials, bool) {
		for _, k := range keys {
			if k.AccessKeyID == id {
				return k, true
			}
		}
		return Credentials{}, false
	}
}

func newVerifier(now time.Time) *Verifier {
	return &Verifier{
		Service: testService,
		Lookup:  lookup(testCreds, otherCreds),
		Now:     func() time.Time { return now },
	}
}

func sdkCreds(c Credentials) aws.Credentials {
	return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey}
}

func emptyHash() string { return hashHex(nil) }

// reqSpec describes a request to sign.
type reqSpec struct {
	method  string
	target  string // path?query, exactly as sent
	body    string
	headers [][2]string
	// payload is the payload hash handed to the signer; "" means the hex
	// SHA-256 of body (header signing) or UNSIGNED-PAYLOAD (presigning).
	payload string
}

func (s reqSpec) build(t *testing.T, base string) *http.Request {
	t.Helper()
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	r, err := http.NewRequest(s.method, base+s.target, body)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	for _, h := range s.headers {
		r.Header.Add(h[0], h[1])
	}
	return r
}

// sdkSigner returns an aws-sdk-go-v2 signer that logs its canonical request
// into *canonical.
func sdkSigner(canonical *string) *v4.Signer {
	return v4.NewSigner(func(o *v4.SignerOptions) {
		o.LogSigning = true
		o.Logger = logging.LoggerFunc(func(_ logging.Classification, format string, args ...any) {
			msg := fmt.Sprintf(format, args...)
			const start = "---[ CANONICAL STRING  ]-----------------------------\n"
			const end = "\n---[ STRING TO SIGN ]"
			if i := strings.Index(msg, start); i >= 0 {
				msg = msg[i+len(start):]
				if j := strings.Index(msg, end); j >= 0 {
					*canonical = msg[:j]
				}
			}
		})
	})
}

// signHeader signs r in place with the SDK's SignHTTP and returns the SDK's
// canonical request.
func signHeader(t *testing.T, r *http.Request, spec reqSpec, creds aws.Credentials, service string, at time.Time) string {
	t.Helper()
	payload := spec.payload
	if payload == "" {
		sum := sha256.Sum256([]byte(spec.body))
		payload = hex.EncodeToString(sum[:])
	}
	var canonical string
	if err := sdkSigner(&canonical).SignHTTP(context.Background(), creds, r, payload, service, testRegion, at); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
	return canonical
}

// presign presigns spec with the SDK's PresignHTTP and returns a request for
// the presigned URL carrying the headers that were signed, plus the SDK's
// canonical request.
func presign(t *testing.T, spec reqSpec, base string, creds aws.Credentials, service string, at time.Time) (*http.Request, string) {
	t.Helper()
	r := spec.build(t, base)
	payload := spec.payload
	if payload == "" {
		// A client that sends X-Amz-Content-Sha256 signs that value.
		payload = unsignedPayload
		for _, h := range spec.headers {
			if strings.EqualFold(h[0], headerContentSHA256) {
				payload = h[1]
			}
		}
	}
	var canonical string
	signedURL, hdr, err := sdkSigner(&canonical).PresignHTTP(context.Background(), creds, r, payload, service, testRegion, at)
	if err != nil {
		t.Fatalf("PresignHTTP: %v", err)
	}
	var body io.Reader
	if spec.body != "" {
		body = strings.NewReader(spec.body)
	}
	out, err := http.NewRequest(spec.method, signedURL, body)
	if err != nil {
		t.Fatalf("NewRequest(%q): %v", signedURL, err)
	}
	for k, vs := range hdr {
		if strings.EqualFold(k, "host") {
			continue
		}
		for _, v := range vs {
			out.Header.Add(k, v)
		}
	}
	// Headers that were not hoisted into the query travel as headers.
	for _, h := range spec.headers {
		if out.Header.Get(h[0]) == "" {
			out.Header.Add(h[0], h[1])
		}
	}
	return out, canonical
}

// ourCanonical is the canonical request the verifier builds for r.
func ourCanonical(t *testing.T, r *http.Request, body []byte) string {
	t.Helper()
	q := r.URL.Query()
	var (
		req request
		err *Error
	)
	if a := r.Header.Get(headerAuthorization); a != "" {
		req, err = fromHeader(r, a, q)
	} else {
		req, err = fromQuery(r, q)
	}
	if err != nil {
		t.Fatalf("gathering signature data: %v", err)
	}
	signed, err := parseSignedHeaders(req.signedHeaders)
	if err != nil {
		t.Fatalf("parseSignedHeaders: %v", err)
	}
	if req.payloadHash == "" {
		req.payloadHash = hashHex(body)
	}
	return req.canonical(r, signed)
}

// successSpecs are requests that must verify once signed by the SDK.
var successSpecs = []struct {
	name string
	spec reqSpec
}{
	{"get vanilla", reqSpec{method: "GET", target: "/"}},
	{"get with query", reqSpec{
		method: "GET",
		target: "/ListComponents?tagKeys=b&tagKeys=a&name=hello%20world&plus=a+b&uni=%C3%A9%E2%9C%93%F0%9F%94%A8" +
			"&lit=a%2Bb&star=%2A&empty=&sl=a%2Fb&sl=a-b&Upper=1&tilde=~x",
	}},
	{"get with raw unicode query", reqSpec{method: "GET", target: "/ListImages?owner=Self&filter=" + url.QueryEscape("名前 = x/y")}},
	{"put with json body", reqSpec{
		method:  "PUT",
		target:  "/CreateComponent",
		body:    `{"name":"x","semanticVersion":"1.0.0","platform":"Linux","data":"name: x\nschemaVersion: 1.0\n","clientToken":"6e1c3d7a-0f2b-4a7e-9a0e-2b7c1d9e8f00"}`,
		headers: [][2]string{{"Content-Type", "application/json"}},
	}},
	{"post with empty body", reqSpec{method: "POST", target: "/StartImagePipelineExecution"}},
	{"delete with arn query", reqSpec{
		method: "DELETE",
		target: "/DeleteComponent?componentBuildVersionArn=arn%3Aaws%3Aimagebuilder%3Aus-east-1%3A000000000000%3Acomponent%2Fx%2F1.0.0%2F1",
	}},
	{"get tags escaped arn", reqSpec{method: "GET", target: tagsPath}},
	{"post tags escaped arn", reqSpec{
		method:  "POST",
		target:  tagsPath,
		body:    `{"tags":{"k":"v"}}`,
		headers: [][2]string{{"Content-Type", "application/json"}},
	}},
	{"delete tags escaped arn with repeated keys", reqSpec{method: "DELETE", target: tagsPath + "?tagKeys=b&tagKeys=a&tagKeys=a%20b"}},
	{"path with reserved characters", reqSpec{method: "GET", target: "/a%20b/c%2Bd/e~f/%E2%9C%93/"}},
	{"header whitespace and repeats", reqSpec{
		method: "GET",
		target: "/ListComponents",
		headers: [][2]string{
			{"X-Goldsmith-Test", "  a   b    c  "},
			{"X-Goldsmith-Multi", "one"},
			{"X-Goldsmith-Multi", "two,  three"},
		},
	}},
	{"explicit content sha256", reqSpec{
		method:  "PUT",
		target:  "/CreateImageRecipe",
		body:    `{"name":"r"}`,
		headers: [][2]string{{"X-Amz-Content-Sha256", hashHex([]byte(`{"name":"r"}`))}},
	}},
	{"unsigned payload", reqSpec{
		method:  "PUT",
		target:  "/CreateImageRecipe",
		body:    `{"name":"r"}`,
		headers: [][2]string{{"X-Amz-Content-Sha256", unsignedPayload}},
		payload: unsignedPayload,
	}},
}

func TestVerifySDKSigned(t *testing.T) {
	for _, tc := range successSpecs {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.spec.build(t, "https://"+testHost)
			sdkCanonical := signHeader(t, r, tc.spec, sdkCreds(testCreds), testService, signTime)
			body := []byte(tc.spec.body)
			if got := ourCanonical(t, r, body); got != sdkCanonical {
				t.Fatalf("canonical request differs\nours:\n%s\nsdk:\n%s", got, sdkCanonical)
			}
			id, err := newVerifier(signTime).Verify(r, body)
			if err != nil {
				t.Fatalf("Verify: %v\nAuthorization: %s", err, r.Header.Get("Authorization"))
			}
			want := Identity{AccessKeyID: testCreds.AccessKeyID, Account: testCreds.Account, Region: testRegion}
			if id != want {
				t.Fatalf("identity = %+v, want %+v", id, want)
			}
		})
	}
}

func TestVerifySDKPresigned(t *testing.T) {
	for _, tc := range successSpecs {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			r, sdkCanonical := presign(t, spec, "https://"+testHost, sdkCreds(testCreds), testService, signTime)
			body := []byte(spec.body)
			if got := ourCanonical(t, r, body); got != sdkCanonical {
				t.Fatalf("canonical request differs\nours:\n%s\nsdk:\n%s", got, sdkCanonical)
			}
			id, err := newVerifier(signTime.Add(time.Minute)).Verify(r, body)
			if err != nil {
				t.Fatalf("Verify: %v\nURL: %s", err, r.URL)
			}
			if id.AccessKeyID != testCreds.AccessKeyID || id.Account != testCreds.Account || id.Region != testRegion {
				t.Fatalf("identity = %+v", id)
			}
		})
	}
}

// TestVerifyOverHTTP sends SDK-signed requests through a real net/http
// server, so the verifier sees what a server sees: RawPath from the request
// line, Host moved to r.Host, Content-Length as a header.
func TestVerifyOverHTTP(t *testing.T) {
	v := newVerifier(signTime)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id, err := v.Verify(r, body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				http.Error(w, "not an *Error: "+err.Error(), http.StatusInternalServerError)
				return
			}
			http.Error(w, e.Error(), e.StatusCode())
			return
		}
		fmt.Fprintf(w, "%s %s %s", id.AccessKeyID, id.Account, id.Region)
	}))
	defer srv.Close()
	client := srv.Client()

	do := func(t *testing.T, r *http.Request) {
		t.Helper()
		resp, err := client.Do(r)
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, got)
		}
		if want := testCreds.AccessKeyID + " " + testCreds.Account + " " + testRegion; string(got) != want {
			t.Fatalf("body %q, want %q", got, want)
		}
	}
	for _, tc := range successSpecs {
		t.Run("header/"+tc.name, func(t *testing.T) {
			r := tc.spec.build(t, srv.URL)
			signHeader(t, r, tc.spec, sdkCreds(testCreds), testService, signTime)
			do(t, r)
		})
		t.Run("presigned/"+tc.name, func(t *testing.T) {
			r, _ := presign(t, tc.spec, srv.URL, sdkCreds(testCreds), testService, signTime)
			do(t, r)
		})
	}
}

// TestTagsPathDoubleEncoding pins down how the canonical URI of an escaped
// ARN label is built: the escaped path is URI-encoded once more.
func TestTagsPathDoubleEncoding(t *testing.T) {
	const want = "/tags/arn%253Aaws%253Aimagebuilder%253Aus-east-1%253A000000000000%253Acomponent%252Fx%252F1.0.0%252F1"
	spec := reqSpec{method: "GET", target: tagsPath}
	r := spec.build(t, "https://"+testHost)
	if got := canonicalURI(r.URL); got != want {
		t.Fatalf("canonicalURI = %q, want %q", got, want)
	}
	sdkCanonical := signHeader(t, r, spec, sdkCreds(testCreds), testService, signTime)
	if line := strings.Split(sdkCanonical, "\n")[1]; line != want {
		t.Fatalf("SDK canonical URI = %q, want %q", line, want)
	}
	// The same request as a server parses it from the request line.
	sr := httptest.NewRequest("GET", tagsPath, nil)
	if got := canonicalURI(sr.URL); got != want {
		t.Fatalf("server-side canonicalURI = %q, want %q", got, want)
	}
}

func TestCanonicalURI(t *testing.T) {
	for _, tc := range []struct{ target, want string }{
		{"", "/"},
		{"/", "/"},
		{"/a/b", "/a/b"},
		{"/a%20b", "/a%2520b"},
		{"/a b", "/a%2520b"}, // net/url escapes the space first
		{"/a:b", "/a%3Ab"},   // sent unescaped, so encoded once
		{"/a%3Ab", "/a%253Ab"},
		{"/a%3ab", "/a%253ab"}, // hex case as sent is preserved
		{"/%E2%9C%93", "/%25E2%259C%2593"},
		{"/a/../b/./c//", "/a/../b/./c//"}, // no normalisation, like the SDK
	} {
		u := &url.URL{}
		if tc.target != "" {
			var err error
			u, err = url.Parse(tc.target)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.target, err)
			}
		}
		if got := canonicalURI(u); got != tc.want {
			t.Errorf("canonicalURI(%q) = %q, want %q", tc.target, got, tc.want)
		}
	}
}

// TestAWSTestSuiteGetVanilla checks the "get-vanilla" example of the AWS
// SigV4 test suite.
func TestAWSTestSuiteGetVanilla(t *testing.T) {
	v := &Verifier{
		Service: "service",
		Lookup: lookup(Credentials{
			AccessKeyID:     "AKIDEXAMPLE",
			SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
			Account:         "123456789012",
		}),
		Now: func() time.Time { return time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC) },
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = "example.amazonaws.com"
	r.Header.Set("X-Amz-Date", "20150830T123600Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "+
		"SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
	id, err := v.Verify(r, nil)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if want := (Identity{AccessKeyID: "AKIDEXAMPLE", Account: "123456789012", Region: "us-east-1"}); id != want {
		t.Fatalf("identity = %+v, want %+v", id, want)
	}
	// One bit off in the signature must fail.
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "+
		"SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf30")
	if _, err := v.Verify(r, nil); err == nil {
		t.Fatal("Verify accepted a wrong signature")
	}
}

// TestDateHeaderFallback signs with a Date header instead of X-Amz-Date. The
// SDK always sends X-Amz-Date, so the canonical request is written out by
// hand here and signed with a local HMAC chain.
func TestDateHeaderFallback(t *testing.T) {
	const date = "Mon, 23 Nov 2026 10:45:10 GMT"
	canonical := "GET\n/ListComponents\nowner=Self\ndate:" + date + "\nhost:" + testHost + "\n\ndate;host\n" + emptyHash()
	sts := "AWS4-HMAC-SHA256\n20261123T104510Z\n20261123/us-east-1/imagebuilder/aws4_request\n" + sha256Hex(canonical)
	mac := func(key []byte, s string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	k := mac([]byte("AWS4"+testCreds.SecretAccessKey), "20261123")
	k = mac(k, "us-east-1")
	k = mac(k, "imagebuilder")
	k = mac(k, "aws4_request")
	sig := hex.EncodeToString(mac(k, sts))

	r := httptest.NewRequest("GET", "/ListComponents?owner=Self", nil)
	r.Host = testHost
	r.Header.Set("Date", date)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testCreds.AccessKeyID+
		"/20261123/us-east-1/imagebuilder/aws4_request,SignedHeaders=date;host,Signature="+sig)
	if _, err := newVerifier(signTime).Verify(r, nil); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// failure describes a request that must be rejected.
type failure struct {
	name string
	spec reqSpec
	// sign signs the request; nil means SDK header signing with testCreds,
	// service imagebuilder, at signTime.
	sign func(t *testing.T, spec reqSpec) *http.Request
	// mutate tampers with the signed request and body.
	mutate func(r *http.Request, body *[]byte)
	now    time.Time // zero means signTime
	code   string    // "" means the request must verify
	msg    string    // substring of the message, or exact if exactMsg
	exact  bool
}

var basicGet = reqSpec{method: "GET", target: "/ListComponents?owner=Self&tagKeys=a&tagKeys=b"}
var basicPut = reqSpec{
	method:  "PUT",
	target:  "/CreateComponent",
	body:    `{"name":"x","semanticVersion":"1.0.0"}`,
	headers: [][2]string{{"Content-Type", "application/json"}},
}

func signedWith(creds Credentials, service string, at time.Time) func(*testing.T, reqSpec) *http.Request {
	return func(t *testing.T, spec reqSpec) *http.Request {
		r := spec.build(t, "https://"+testHost)
		signHeader(t, r, spec, sdkCreds(creds), service, at)
		return r
	}
}

func presignedWith(expires string, at time.Time) func(*testing.T, reqSpec) *http.Request {
	return func(t *testing.T, spec reqSpec) *http.Request {
		if expires != "" {
			sep := "?"
			if strings.Contains(spec.target, "?") {
				sep = "&"
			}
			spec.target += sep + "X-Amz-Expires=" + expires
		}
		r, _ := presign(t, spec, "https://"+testHost, sdkCreds(testCreds), testService, at)
		return r
	}
}

func editAuth(f func(string) string) func(*http.Request, *[]byte) {
	return func(r *http.Request, _ *[]byte) {
		r.Header.Set("Authorization", f(r.Header.Get("Authorization")))
	}
}

// dropParam removes ", Name=..." (or "Name=...") from an Authorization header.
func dropParam(name string) func(*http.Request, *[]byte) {
	return editAuth(func(h string) string {
		alg, rest, _ := strings.Cut(h, " ")
		var kept []string
		for p := range strings.SplitSeq(rest, ",") {
			if !strings.HasPrefix(strings.TrimSpace(p), name+"=") {
				kept = append(kept, strings.TrimSpace(p))
			}
		}
		return alg + " " + strings.Join(kept, ", ")
	})
}

func TestVerifyFailures(t *testing.T) {
	const mismatch = msgSignatureMismatch
	cases := []failure{
		{
			name: "no auth at all",
			sign: func(t *testing.T, spec reqSpec) *http.Request { return spec.build(t, "https://"+testHost) },
			code: CodeMissingAuthenticationToken, msg: "Missing Authentication Token", exact: true,
		},
		{
			name:   "garbled authorization header",
			mutate: editAuth(func(string) string { return "garbage" }),
			code:   CodeIncompleteSignature,
			msg: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. " +
				"Authorization header requires 'SignedHeaders' parameter. Authorization=garbage",
			exact: true,
		},
		{
			name:   "bearer token",
			mutate: editAuth(func(string) string { return "Bearer abc.def" }),
			code:   CodeIncompleteSignature, msg: "requires 'Credential' parameter",
		},
		{
			name:   "unsupported algorithm",
			mutate: editAuth(func(h string) string { return strings.Replace(h, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1) }),
			code:   CodeIncompleteSignature, msg: "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'.",
		},
		{
			name:   "parameter without equals",
			mutate: editAuth(func(h string) string { return h + ", Bogus" }),
			code:   CodeIncompleteSignature, msg: "'Bogus' not a valid key=value pair (missing equal-sign)",
		},
		{
			name:   "missing Signature",
			mutate: dropParam("Signature"),
			code:   CodeIncompleteSignature, msg: "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 Credential=",
		},
		{
			name:   "missing SignedHeaders",
			mutate: dropParam("SignedHeaders"),
			code:   CodeIncompleteSignature, msg: "Authorization header requires 'SignedHeaders' parameter.",
		},
		{
			name:   "missing Credential",
			mutate: dropParam("Credential"),
			code:   CodeIncompleteSignature, msg: "Authorization header requires 'Credential' parameter.",
		},
		{
			name: "duplicate Signature",
			mutate: editAuth(func(h string) string {
				return h + ", Signature=0000000000000000000000000000000000000000000000000000000000000000"
			}),
			code: CodeIncompleteSignature, msg: "duplicate 'Signature' parameter",
		},
		{
			name: "malformed credential",
			mutate: editAuth(func(h string) string {
				return strings.Replace(h, "/"+testRegion+"/", "/", 1)
			}),
			code: CodeIncompleteSignature, msg: "Credential is malformed",
		},
		{
			name: "bad credential terminator",
			mutate: editAuth(func(h string) string {
				return strings.Replace(h, "aws4_request", "aws5_request", 1)
			}),
			code: CodeIncompleteSignature, msg: "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'.",
		},
		{
			name: "signed headers without host",
			mutate: editAuth(func(h string) string {
				return strings.Replace(h, "SignedHeaders=host;", "SignedHeaders=", 1)
			}),
			code: CodeIncompleteSignature, msg: "'Host' or ':authority' must be a 'SignedHeader'",
		},
		{
			name: "unsorted signed headers",
			mutate: editAuth(func(h string) string {
				return strings.Replace(h, "SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date;host", 1)
			}),
			code: CodeIncompleteSignature, msg: "SignedHeaders is malformed",
		},
		{
			name:   "missing date",
			mutate: func(r *http.Request, _ *[]byte) { r.Header.Del("X-Amz-Date") },
			code:   CodeIncompleteSignature, msg: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
		},
		{
			name:   "malformed date",
			mutate: func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Date", "2026-11-23T10:45:10Z") },
			code:   CodeIncompleteSignature, msg: "Date must be in ISO-8601 'basic format'. Got '2026-11-23T10:45:10Z'.",
		},
		{
			name: "malformed date header fallback",
			mutate: func(r *http.Request, _ *[]byte) {
				r.Header.Del("X-Amz-Date")
				r.Header.Set("Date", "yesterday")
			},
			code: CodeIncompleteSignature, msg: "Date header is malformed: 'yesterday'.",
		},
		{
			name: "date header moved from x-amz-date is not what was signed",
			mutate: func(r *http.Request, _ *[]byte) {
				r.Header.Set("Date", r.Header.Get("X-Amz-Date"))
				r.Header.Del("X-Amz-Date")
			},
			code: CodeInvalidSignature, msg: mismatch,
		},
		{
			name:   "two authorization headers",
			mutate: func(r *http.Request, _ *[]byte) { r.Header.Add("Authorization", r.Header.Get("Authorization")) },
			code:   CodeIncompleteSignature, msg: "Only one Authorization header is allowed.",
		},
		{
			name:   "date not matching scope",
			mutate: func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Date", "20261124T000010Z") },
			now:    time.Date(2026, 11, 24, 0, 0, 10, 0, time.UTC),
			code:   CodeInvalidSignature,
			msg:    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261123' != '20261124', from '20261124T000010Z'.",
			exact:  true,
		},
		{
			name: "unknown access key",
			sign: signedWith(Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: "x"}, testService, signTime),
			code: CodeUnrecognizedClient, msg: "The security token included in the request is invalid.", exact: true,
		},
		{
			name: "wrong secret",
			sign: signedWith(Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: "wrong"}, testService, signTime),
			code: CodeInvalidSignature, msg: mismatch, exact: true,
		},
		{
			name: "other key's identity",
			sign: signedWith(otherCreds, testService, signTime),
		},
		{
			name:   "tampered body",
			spec:   basicPut,
			mutate: func(_ *http.Request, b *[]byte) { *b = bytes.Replace(*b, []byte(`"x"`), []byte(`"y"`), 1) },
			code:   CodeInvalidSignature, msg: mismatch, exact: true,
		},
		{
			name: "tampered body with signed content sha256",
			spec: reqSpec{
				method: "PUT", target: "/CreateComponent", body: `{"name":"x"}`,
				headers: [][2]string{{"X-Amz-Content-Sha256", sha256Hex(`{"name":"x"}`)}},
			},
			mutate: func(_ *http.Request, b *[]byte) { *b = []byte(`{"name":"y"}`) },
			code:   CodeInvalidSignature, msg: "The provided 'x-amz-content-sha256' header does not match what was computed.",
		},
		{
			name: "body swapped under unsigned payload is accepted",
			spec: reqSpec{
				method: "PUT", target: "/CreateComponent", body: `{"name":"x"}`,
				headers: [][2]string{{"X-Amz-Content-Sha256", unsignedPayload}}, payload: unsignedPayload,
			},
			mutate: func(_ *http.Request, b *[]byte) { *b = []byte(`{"name":"y"}`) },
		},
		{
			name:   "content sha256 header switched to unsigned",
			spec:   basicPut,
			mutate: func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Content-Sha256", unsignedPayload) },
			code:   CodeInvalidSignature, msg: mismatch,
		},
		{
			name: "unsupported content sha256",
			spec: basicPut,
			mutate: func(r *http.Request, _ *[]byte) {
				r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
			},
			code: CodeIncompleteSignature, msg: "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a SHA-256 hex digest",
		},
		{
			name: "tampered query value",
			mutate: func(r *http.Request, _ *[]byte) {
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "owner=Self", "owner=Amazon", 1)
			},
			code: CodeInvalidSignature, msg: mismatch,
		},
		{
			name:   "added query parameter",
			mutate: func(r *http.Request, _ *[]byte) { r.URL.RawQuery += "&tagKeys=c" },
			code:   CodeInvalidSignature, msg: mismatch,
		},
		{
			name:   "tampered path",
			mutate: func(r *http.Request, _ *[]byte) { r.URL.Path = "/ListImages" },
			code:   CodeInvalidSignature, msg: mismatch,
		},
		{
			name:   "tampered method",
			mutate: func(r *http.Request, _ *[]byte) { r.Method = "DELETE" },
			code:   CodeInvalidSignature, msg: mismatch,
		},
		{
			name:   "tampered signed header",
			spec:   basicPut,
			mutate: func(r *http.Request, _ *[]byte) { r.Header.Set("Content-Type", "text/plain") },
			code:   CodeInvalidSignature, msg: mismatch,
		},
		{
			name:   "tampered host",
			mutate: func(r *http.Request, _ *[]byte) { r.Host = "evil.example.com" },
			code:   CodeInvalidSignature, msg: mismatch,
		},
		{
			name:   "unsigned header added is ignored",
			mutate: func(r *http.Request, _ *[]byte) { r.Header.Set("User-Agent", "curl/8") },
		},
		{
			name:   "unsigned security token",
			mutate: func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Security-Token", "token") },
			code:   CodeIncompleteSignature, msg: "'X-Amz-Security-Token' must be a 'SignedHeader'",
		},
		{
			name: "signed security token",
			sign: func(t *testing.T, spec reqSpec) *http.Request {
				r := spec.build(t, "https://"+testHost)
				c := sdkCreds(testCreds)
				c.SessionToken = "FQoGZXIvYXdzEXAMPLETOKEN"
				signHeader(t, r, spec, c, testService, signTime)
				if r.Header.Get("X-Amz-Security-Token") == "" {
					t.Fatal("SDK did not send the session token")
				}
				return r
			},
		},
		{
			name:   "non-hex signature",
			mutate: editAuth(func(h string) string { return h[:strings.Index(h, "Signature=")] + "Signature=zz" }),
			code:   CodeInvalidSignature, msg: mismatch,
		},
		{
			name: "wrong service in scope",
			sign: signedWith(testCreds, "ec2", signTime),
			code: CodeInvalidSignature, msg: "Credential should be scoped to correct service: 'imagebuilder'. ", exact: true,
		},
		{
			name:   "invalid region in scope",
			mutate: editAuth(func(h string) string { return strings.Replace(h, "/"+testRegion+"/", "/US_EAST/", 1) }),
			code:   CodeInvalidSignature, msg: "Credential should be scoped to a valid region, not 'US_EAST'. ", exact: true,
		},
		{
			name: "aws example: signed 35 minutes ago",
			sign: signedWith(testCreds, testService, time.Date(2026, 11, 23, 10, 10, 10, 0, time.UTC)),
			code: CodeInvalidSignature,
			msg:  "Signature expired: 20261123T101010Z is now earlier than 20261123T103010Z (20261123T104510Z - 15 min.)", exact: true,
		},
		{
			name: "skew -16 min",
			now:  signTime.Add(16 * time.Minute),
			code: CodeInvalidSignature,
			msg:  "Signature expired: 20261123T104510Z is now earlier than 20261123T104610Z (20261123T110110Z - 15 min.)", exact: true,
		},
		{
			name: "skew +16 min",
			now:  signTime.Add(-16 * time.Minute),
			code: CodeInvalidSignature,
			msg:  "Signature not yet current: 20261123T104510Z is still later than 20261123T104410Z (20261123T102910Z + 15 min.)", exact: true,
		},
		{name: "skew -14 min is fine", now: signTime.Add(14 * time.Minute)},
		{name: "skew +14 min is fine", now: signTime.Add(-14 * time.Minute)},
		{name: "skew exactly 15 min is fine", now: signTime.Add(15 * time.Minute)},
		{
			name: "presigned ok before expiry",
			sign: presignedWith("60", signTime),
			now:  signTime.Add(59 * time.Second),
		},
		{
			name: "presigned ok long after signing within expiry",
			sign: presignedWith("3600", signTime),
			now:  signTime.Add(59 * time.Minute),
		},
		{
			name: "presigned expired",
			sign: presignedWith("60", signTime),
			now:  signTime.Add(61 * time.Second),
			code: CodeAccessDenied, msg: "Request has expired", exact: true,
		},
		{
			name: "presigned without expiry falls back to skew",
			sign: presignedWith("", signTime),
			now:  signTime.Add(16 * time.Minute),
			code: CodeInvalidSignature, msg: "Signature expired:",
		},
		{
			name: "presigned from the future",
			sign: presignedWith("60", signTime),
			now:  signTime.Add(-16 * time.Minute),
			code: CodeInvalidSignature, msg: "Signature not yet current:",
		},
		{
			name: "presigned expires too long",
			sign: presignedWith("604801", signTime),
			code: CodeIncompleteSignature, msg: "X-Amz-Expires must be less than a week (in seconds) that is 604800",
		},
		{
			name: "presigned expires negative",
			sign: presignedWith("-1", signTime),
			code: CodeIncompleteSignature, msg: "X-Amz-Expires must be non-negative",
		},
		{
			name: "presigned expires not a number",
			sign: presignedWith("soon", signTime),
			code: CodeIncompleteSignature, msg: "X-Amz-Expires should be a number",
		},
		{
			name: "presigned tampered query",
			sign: presignedWith("60", signTime),
			mutate: func(r *http.Request, _ *[]byte) {
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "owner=Self", "owner=Amazon", 1)
			},
			code: CodeInvalidSignature, msg: mismatch,
		},
		{
			name: "presigned tampered expiry",
			sign: presignedWith("60", signTime),
			mutate: func(r *http.Request, _ *[]byte) {
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=60", "X-Amz-Expires=600", 1)
			},
			now:  signTime.Add(5 * time.Minute),
			code: CodeInvalidSignature, msg: mismatch,
		},
		{
			name: "presigned missing signature",
			sign: presignedWith("60", signTime),
			mutate: func(r *http.Request, _ *[]byte) {
				q := r.URL.Query()
				q.Del("X-Amz-Signature")
				r.URL.RawQuery = q.Encode()
			},
			code: CodeIncompleteSignature, msg: "AWS query-string parameters must include 'X-Amz-Signature'. Re-examine the query-string parameters.", exact: true,
		},
		{
			name: "presigned wrong algorithm",
			sign: presignedWith("60", signTime),
			mutate: func(r *http.Request, _ *[]byte) {
				q := r.URL.Query()
				q.Set("X-Amz-Algorithm", "AWS4-ECDSA-P256-SHA256")
				r.URL.RawQuery = q.Encode()
			},
			code: CodeIncompleteSignature, msg: "X-Amz-Algorithm only supports",
		},
		{
			name: "presigned plus authorization header",
			sign: presignedWith("60", signTime),
			mutate: func(r *http.Request, _ *[]byte) {
				r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
			},
			code: CodeIncompleteSignature, msg: "Only one auth mechanism allowed",
		},
		{
			name: "presigned body is not covered",
			spec: basicPut,
			sign: presignedWith("60", signTime),
			mutate: func(_ *http.Request, b *[]byte) {
				*b = []byte(`{"anything":"else"}`)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			if spec.method == "" {
				spec = basicGet
			}
			sign := tc.sign
			if sign == nil {
				sign = signedWith(testCreds, testService, signTime)
			}
			r := sign(t, spec)
			body := []byte(spec.body)
			if tc.mutate != nil {
				tc.mutate(r, &body)
			}
			now := tc.now
			if now.IsZero() {
				now = signTime
			}
			id, err := newVerifier(now).Verify(r, body)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if id.AccessKeyID == "" || id.Region != testRegion {
					t.Fatalf("identity = %+v", id)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify succeeded (%+v), want %s", id, tc.code)
			}
			if id != (Identity{}) {
				t.Errorf("identity %+v returned with an error", id)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			if e.Code != tc.code {
				t.Errorf("code = %s, want %s (message %q)", e.Code, tc.code, e.Message)
			}
			if tc.exact && e.Message != tc.msg || !tc.exact && !strings.Contains(e.Message, tc.msg) {
				t.Errorf("message = %q, want %q", e.Message, tc.msg)
			}
			if e.StatusCode() != http.StatusForbidden {
				t.Errorf("status = %d", e.StatusCode())
			}
		})
	}
}

func TestVerifierDefaults(t *testing.T) {
	// Nil Now uses the wall clock, zero MaxSkew means 15 minutes.
	v := &Verifier{Service: testService, Lookup: lookup(testCreds)}
	spec := basicGet
	r := spec.build(t, "https://"+testHost)
	signHeader(t, r, spec, sdkCreds(testCreds), testService, time.Now().Add(-14*time.Minute))
	if _, err := v.Verify(r, nil); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	r = spec.build(t, "https://"+testHost)
	signHeader(t, r, spec, sdkCreds(testCreds), testService, time.Now().Add(-16*time.Minute))
	if _, err := v.Verify(r, nil); err == nil || !strings.Contains(err.Error(), "Signature expired") {
		t.Fatalf("Verify = %v, want Signature expired", err)
	}
	// A custom MaxSkew is honoured, and messages name it.
	v.MaxSkew = time.Minute
	r = spec.build(t, "https://"+testHost)
	signHeader(t, r, spec, sdkCreds(testCreds), testService, time.Now().Add(-2*time.Minute))
	if _, err := v.Verify(r, nil); err == nil || !strings.Contains(err.Error(), " - 1 min.)") {
		t.Fatalf("Verify = %v, want Signature expired with 1 min.", err)
	}
	// Nil Lookup knows no keys.
	v = &Verifier{Service: testService}
	r = spec.build(t, "https://"+testHost)
	signHeader(t, r, spec, sdkCreds(testCreds), testService, time.Now())
	var e *Error
	if _, err := v.Verify(r, nil); !errors.As(err, &e) || e.Code != CodeUnrecognizedClient {
		t.Fatalf("Verify = %v, want %s", err, CodeUnrecognizedClient)
	}
}

func TestVerifyDoesNotTouchBody(t *testing.T) {
	spec := basicPut
	r := spec.build(t, "https://"+testHost)
	signHeader(t, r, spec, sdkCreds(testCreds), testService, signTime)
	if _, err := newVerifier(signTime).Verify(r, []byte(spec.body)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	rest, err := io.ReadAll(r.Body)
	if err != nil || string(rest) != spec.body {
		t.Fatalf("r.Body = %q, %v; want it unread", rest, err)
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Code: CodeAccessDenied, Message: "Request has expired"}
	if got := e.Error(); got != "AccessDeniedException: Request has expired" {
		t.Fatalf("Error() = %q", got)
	}
}

func TestParseAuthorization(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    authorization
		wantErr string
	}{
		{
			in:   "AWS4-HMAC-SHA256 Credential=A/20261123/us-east-1/imagebuilder/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
			want: authorization{Credential: "A/20261123/us-east-1/imagebuilder/aws4_request", SignedHeaders: "host;x-amz-date", Signature: "abc"},
		},
		{
			in:   "  AWS4-HMAC-SHA256 Signature=abc,SignedHeaders=host,Credential=c ,Extra=1 ",
			want: authorization{Credential: "c", SignedHeaders: "host", Signature: "abc"},
		},
		{in: "", wantErr: "requires 'Credential' parameter"},
		{in: "AWS4-HMAC-SHA256", wantErr: "requires 'Credential' parameter"},
		{in: "AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=a", wantErr: "requires 'Credential' parameter"},
		{in: "AWS4-HMAC-SHA256 Credential=c, SignedHeaders=host", wantErr: "requires 'Signature' parameter"},
		{in: "AWS4-HMAC-SHA256 Credential=c SignedHeaders=host, Signature=a", wantErr: "requires 'SignedHeaders' parameter"},
		{in: "AWS4-X Credential=c", wantErr: "Unsupported AWS 'algorithm'"},
		{in: "AWS4-HMAC-SHA256 Credential", wantErr: "missing equal-sign"},
	} {
		got, err := parseAuthorization(tc.in)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Message, tc.wantErr) || err.Code != CodeIncompleteSignature {
				t.Errorf("parseAuthorization(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("parseAuthorization(%q): %v", tc.in, err)
		case got != tc.want:
			t.Errorf("parseAuthorization(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	q, err := url.ParseQuery("b=2&a=z&a=y&a%2Fb=1&a-b=1&sp=a+b&u=%C3%A9&e=")
	if err != nil {
		t.Fatal(err)
	}
	// Pairs are sorted by encoded key, then encoded value: "a" < "a%2Fb"
	// < "a-b" because '%' (0x25) sorts before '-' (0x2D).
	const want = "a=y&a=z&a%2Fb=1&a-b=1&b=2&e=&sp=a%20b&u=%C3%A9"
	if got := canonicalQuery(q); got != want {
		t.Fatalf("canonicalQuery = %q, want %q", got, want)
	}
}

func TestTrimHeaderValue(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"  a  ":         "a",
		"a   b    c":    "a b c",
		"\t a  b \t":    "a b",
		"a \t  b":       "a \t b",
		"\"a   b\"":     "\"a b\"",
		"no-extra-only": "no-extra-only",
	} {
		if got := trimHeaderValue(in); got != want {
			t.Errorf("trimHeaderValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseAuthorization checks that parsing any Authorization header (and
// the credential and signed-headers values it yields) never panics, and that
// a successful parse yields all three parameters.
func FuzzParseAuthorization(f *testing.F) {
	for _, seed := range []string{
		"",
		"garbage",
		"AWS4-HMAC-SHA256",
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		"AWS4-HMAC-SHA256 Signature=a,SignedHeaders=host,Credential=a/b/c/d/aws4_request",
		"AWS4-HMAC-SHA256 Credential=,,,=,Signature==,SignedHeaders=;;",
		"AWS4-HMAC-SHA256 Credential=a//b/, Signature=a, Signature=b",
		"AWS4-ECDSA-P256-SHA256 Credential=x",
		"Bearer eyJhbGciOi.x.y",
		"AWS4-HMAC-SHA256 \x00Credential=\xff/\xfe",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		a, err := parseAuthorization(header)
		if err != nil {
			if err.Code != CodeIncompleteSignature || err.Message == "" {
				t.Fatalf("unexpected error %+v", err)
			}
			return
		}
		if a.Credential == "" || a.SignedHeaders == "" || a.Signature == "" {
			t.Fatalf("parse succeeded with a missing parameter: %+v", a)
		}
		if c, err := parseCredential(a.Credential); err == nil {
			_ = c.Scope()
			_ = validRegion(c.Region)
		}
		_, _ = parseSignedHeaders(a.SignedHeaders)
		_ = trimHeaderValue(header)
		_ = uriEncode(header, false)
	})
}

// TestRawRequestTarget sends a request whose path carries bytes a non-Go
// client may leave unescaped ('"', '{', raw UTF-8). A spec-following signer
// encodes those bytes once; net/url would re-escape them in EscapedPath, so
// the verifier must use the request-target as received.
func TestRawRequestTarget(t *testing.T) {
	const rawPath = "/a\"b/{c}/é"
	var (
		mu     sync.Mutex
		result error
	)
	v := newVerifier(signTime)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := v.Verify(r, nil)
		mu.Lock()
		result = err
		mu.Unlock()
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	// An Opaque URL makes the SDK sign the path bytes as given.
	r := &http.Request{
		Method: "GET",
		URL:    &url.URL{Scheme: "http", Host: host, Opaque: "//" + host + rawPath, RawQuery: "k=v"},
		Header: http.Header{},
		Host:   host,
	}
	canonical := signHeader(t, r, reqSpec{}, sdkCreds(testCreds), testService, signTime)
	if want := "/a%22b/%7Bc%7D/%C3%A9"; strings.Split(canonical, "\n")[1] != want {
		t.Fatalf("SDK canonical URI = %q, want %q", strings.Split(canonical, "\n")[1], want)
	}

	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s?k=v HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\nAuthorization: %s\r\nConnection: close\r\n\r\n",
		rawPath, host, r.Header.Get("X-Amz-Date"), r.Header.Get("Authorization"))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if result != nil {
		t.Fatalf("Verify: %v", result)
	}
}

func TestSentPath(t *testing.T) {
	for _, tc := range []struct {
		target, want string
		ok           bool
	}{
		{"/a%3Ab?x=1", "/a%3Ab", true},
		{"/", "/", true},
		{"http://h:1/p/q?x", "/p/q", true},
		{"https://h", "/", true},
		{"*", "", false},
		{"", "", false},
		{"h:1", "", false},
	} {
		got, ok := sentPath(tc.target)
		if got != tc.want || ok != tc.ok {
			t.Errorf("sentPath(%q) = %q, %v; want %q, %v", tc.target, got, ok, tc.want, tc.ok)
		}
	}
}
