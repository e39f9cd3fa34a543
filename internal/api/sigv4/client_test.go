package sigv4

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder"
)

// TestImageBuilderClient drives the real generated Image Builder client
// against a server that verifies every request, so the path, query and
// header serialisation are exactly what users' SDKs produce.
func TestImageBuilderClient(t *testing.T) {
	var (
		mu       sync.Mutex
		lastPath string
	)
	v := &Verifier{Service: testService, Lookup: lookup(testCreds)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		lastPath = r.URL.EscapedPath()
		mu.Unlock()
		if _, err := v.Verify(r, body); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Amzn-ErrorType", e.Code)
			w.WriteHeader(e.StatusCode())
			_, _ = io.WriteString(w, `{"message":"`+e.Message+`"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"tags":{}}`)
	}))
	defer srv.Close()

	client := imagebuilder.New(imagebuilder.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return sdkCreds(testCreds), nil
		}),
		HTTPClient: srv.Client(),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	const arn = "arn:aws:imagebuilder:us-east-1:000000000000:component/x/1.0.0/1"
	if _, err := client.ListTagsForResource(ctx, &imagebuilder.ListTagsForResourceInput{ResourceArn: aws.String(arn)}); err != nil {
		t.Fatalf("ListTagsForResource: %v", err)
	}
	mu.Lock()
	if lastPath != tagsPath {
		t.Errorf("client sent path %q, want %q", lastPath, tagsPath)
	}
	mu.Unlock()
	if _, err := client.TagResource(ctx, &imagebuilder.TagResourceInput{
		ResourceArn: aws.String(arn),
		Tags:        map[string]string{"team": "forge", "note": "héllo wörld"},
	}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := client.UntagResource(ctx, &imagebuilder.UntagResourceInput{
		ResourceArn: aws.String(arn),
		TagKeys:     []string{"team", "note", "a b/c"},
	}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}

	// A client with the wrong secret gets the AWS error back.
	bad := imagebuilder.New(imagebuilder.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: "wrong"}, nil
		}),
		HTTPClient:       srv.Client(),
		RetryMaxAttempts: 1,
	})
	_, err := bad.ListTagsForResource(ctx, &imagebuilder.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Fatalf("wrong secret: err = %v, want InvalidSignatureException", err)
	}
}
