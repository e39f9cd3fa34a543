package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/identity"
)

// fakeHandler records calls; every operation it does not override is
// answered by gen.UnimplementedHandler.
type fakeHandler struct {
	gen.UnimplementedHandler
	lastTags   *gen.UntagResourceRequest
	listCursor string
	creates    int
}

func (f *fakeHandler) UntagResource(_ context.Context, in *gen.UntagResourceRequest) (*gen.UntagResourceResponse, error) {
	f.lastTags = in
	return &gen.UntagResourceResponse{}, nil
}

func (f *fakeHandler) ListComponents(_ context.Context, in *gen.ListComponentsRequest) (*gen.ListComponentsResponse, error) {
	f.listCursor = in.NextToken
	return &gen.ListComponentsResponse{NextToken: "cursor-after-" + in.NextToken}, nil
}

func (f *fakeHandler) GetComponent(context.Context, *gen.GetComponentRequest) (*gen.GetComponentResponse, error) {
	panic("boom")
}

func (f *fakeHandler) CreateComponent(_ context.Context, in *gen.CreateComponentRequest) (*gen.CreateComponentResponse, error) {
	f.creates++
	return &gen.CreateComponentResponse{ComponentBuildVersionArn: "arn:aws:imagebuilder:us-east-1:000000000000:component/" + in.Name + "/1.0.0/1"}, nil
}

// headerAuth trusts an X-Test-Account header (tests only).
type headerAuth struct{}

func (headerAuth) Authenticate(r *http.Request, _ []byte) (identity.Caller, error) {
	acct := r.Header.Get("X-Test-Account")
	if acct == "" {
		return identity.Caller{}, &AuthError{Code: "MissingAuthenticationTokenException", Message: "Missing Authentication Token"}
	}
	return identity.Caller{Account: acct, Region: "us-east-1"}, nil
}

type memIdem struct{ m map[string][2]string }

func (i *memIdem) Lookup(_ context.Context, account, op, token string) (string, []byte, bool, error) {
	v, ok := i.m[account+op+token]
	return v[0], []byte(v[1]), ok, nil
}

func (i *memIdem) Remember(_ context.Context, account, op, token, hash string, resp []byte) error {
	i.m[account+op+token] = [2]string{hash, string(resp)}
	return nil
}

func newTestServer(t *testing.T) (*Server, *fakeHandler) {
	t.Helper()
	h := &fakeHandler{}
	s, err := New(Config{Handler: h, Authenticator: headerAuth{}, Idempotency: &memIdem{m: map[string][2]string{}},
		TokenKey: bytes.Repeat([]byte{7}, 32), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s, h
}

func do(s *Server, method, target, body, account string) (*httptest.ResponseRecorder, map[string]any) {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if account != "" {
		req.Header.Set("X-Test-Account", account)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	var doc map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &doc)
	return rec, doc
}

func TestServerProtocol(t *testing.T) {
	s, h := newTestServer(t)
	arn := "arn:aws:imagebuilder:us-east-1:000000000000:component/x/1.0.0/1"
	escaped := "arn%3Aaws%3Aimagebuilder%3Aus-east-1%3A000000000000%3Acomponent%2Fx%2F1.0.0%2F1"

	rec, _ := do(s, "DELETE", "/tags/"+escaped+"?tagKeys=a&tagKeys=b", "", "000000000000")
	if rec.Code != 200 || h.lastTags == nil || h.lastTags.ResourceArn != arn || strings.Join(h.lastTags.TagKeys, ",") != "a,b" {
		t.Fatalf("untag: %d %+v", rec.Code, h.lastTags)
	}
	if rec.Body.String() != "{}" {
		t.Errorf("empty output encoded as %q", rec.Body.String())
	}

	cases := []struct {
		name, method, target, body, account string
		status                              int
		code                                string
	}{
		{"unauthenticated", "POST", "/ListComponents", "", "", 403, "MissingAuthenticationTokenException"},
		{"panic", "GET", "/GetComponent?componentBuildVersionArn=" + escaped, "", "000000000000", 500, "ServiceException"},
		{"unimplemented", "PUT", "/CreateImageRecipe", `{"name":"rec","semanticVersion":"1.0.0","parentImage":"p","clientToken":"t","components":[{"componentArn":"` + arn + `"}]}`, "000000000000", 400, "ClientException"},
		{"wrong method", "GET", "/ListComponents", "", "000000000000", 404, "UnknownOperationException"},
		{"enum", "POST", "/ListComponents", `{"owner":"Nobody"}`, "000000000000", 400, "InvalidRequestException"},
		{"range", "POST", "/ListComponents", `{"maxResults":0}`, "000000000000", 400, "InvalidRequestException"},
		{"version code", "PUT", "/CreateComponent", `{"name":"abc","semanticVersion":"1","platform":"Linux","clientToken":"t","data":"x"}`, "000000000000", 400, "InvalidVersionNumberException"},
		{"tag op code", "POST", "/tags/" + escaped, `{"tags":{}}`, "000000000000", 400, "InvalidParameterException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, doc := do(s, tc.method, tc.target, tc.body, tc.account)
			if rec.Code != tc.status || rec.Header().Get("X-Amzn-ErrorType") != tc.code {
				t.Fatalf("got %d %q %v, want %d %s", rec.Code, rec.Header().Get("X-Amzn-ErrorType"), doc, tc.status, tc.code)
			}
			if rec.Header().Get("x-amzn-RequestId") == "" {
				t.Error("no request ID")
			}
			if msg, _ := doc["message"].(string); msg == "" {
				t.Errorf("no message: %v", doc)
			}
		})
	}
}

func TestPaginationTokens(t *testing.T) {
	s, h := newTestServer(t)
	_, doc := do(s, "POST", "/ListComponents", "{}", "000000000000")
	tok, _ := doc["nextToken"].(string)
	if tok == "" || strings.Contains(tok, "cursor-after") {
		t.Fatalf("token %q must be opaque", tok)
	}
	body, _ := json.Marshal(map[string]string{"nextToken": tok})
	rec, _ := do(s, "POST", "/ListComponents", string(body), "000000000000")
	if rec.Code != 200 || h.listCursor != "cursor-after-" {
		t.Fatalf("round trip: %d cursor %q", rec.Code, h.listCursor)
	}
	rec, _ = do(s, "POST", "/ListComponents", string(body), "111111111111")
	if rec.Code != 400 || rec.Header().Get("X-Amzn-ErrorType") != gen.CodeInvalidPaginationToken {
		t.Errorf("other account: %d %s", rec.Code, rec.Header().Get("X-Amzn-ErrorType"))
	}
}

func TestIdempotency(t *testing.T) {
	s, h := newTestServer(t)
	body := `{"name":"abc","semanticVersion":"1.0.0","platform":"Linux","clientToken":"tok","data":"x"}`
	r1, d1 := do(s, "PUT", "/CreateComponent", body, "000000000000")
	r2, d2 := do(s, "PUT", "/CreateComponent", body, "000000000000")
	if r1.Code != 200 || r2.Code != 200 || h.creates != 1 || d1["componentBuildVersionArn"] != d2["componentBuildVersionArn"] || d2["clientToken"] != "tok" {
		t.Fatalf("replay: %d %d creates=%d %v %v", r1.Code, r2.Code, h.creates, d1, d2)
	}
	r3, _ := do(s, "PUT", "/CreateComponent", strings.Replace(body, `"x"`, `"y"`, 1), "000000000000")
	if r3.Code != 400 || r3.Header().Get("X-Amzn-ErrorType") != gen.CodeIdempotentParameterMismatch {
		t.Errorf("mismatch: %d %s", r3.Code, r3.Header().Get("X-Amzn-ErrorType"))
	}
	r4, _ := do(s, "PUT", "/CreateComponent", body, "111111111111")
	if r4.Code != 200 || h.creates != 2 {
		t.Errorf("the same token from another account is a new call: %d creates=%d", r4.Code, h.creates)
	}
}
