package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
)

// BenchmarkGetComponent measures a GetComponent round trip through the
// official Go SDK against goldsmith and, as the baseline in the same run,
// against a bare net/http handler that returns the same JSON body.
// scripts/bench.sh reports the ratio and the parallel throughput.
func BenchmarkGetComponent(b *testing.B) {
	a := startServer(b)
	c := client(a, "test", "test")
	ctx := context.Background()
	out, err := c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("bench"), SemanticVersion: aws.String("1.0.0"),
		Platform: types.PlatformLinux, Data: aws.String(helloDoc)})
	if err != nil {
		b.Fatal(err)
	}
	in := &ib.GetComponentInput{ComponentBuildVersionArn: out.ComponentBuildVersionArn}

	// Capture goldsmith's exact response body for the baseline.
	var body []byte
	capture := ib.New(ib.Options{Region: "us-east-1", BaseEndpoint: aws.String(a.URL()), Credentials: c.Options().Credentials,
		HTTPClient: captureClient{http.DefaultClient, &body}})
	if _, err := capture.GetComponent(ctx, in); err != nil {
		b.Fatal(err)
	}
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
		_, _ = w.Write(body)
	}))
	b.Cleanup(bare.Close)
	bareClient := ib.New(ib.Options{Region: "us-east-1", BaseEndpoint: aws.String(bare.URL), Credentials: c.Options().Credentials, RetryMaxAttempts: 1})

	for _, tc := range []struct {
		name string
		c    *ib.Client
	}{{"baseline", bareClient}, {"goldsmith", c}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := tc.c.GetComponent(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"-parallel", func(b *testing.B) {
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := tc.c.GetComponent(ctx, in); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

type captureClient struct {
	c    *http.Client
	body *[]byte
}

func (cc captureClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := cc.c.Do(r)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	*cc.body = b
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}
