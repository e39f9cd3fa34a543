package app

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/goldsmith/goldsmith/internal/config"
)

// TestComponentFromS3 reads component documents from an S3-compatible
// endpoint (an in-process gofakes3 server).
func TestComponentFromS3(t *testing.T) {
	fake := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(fake.Close)
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(fake.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("s3key", "s3secret", "")})
	ctx := context.Background()
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("docs")}); err != nil {
		t.Fatal(err)
	}
	for key, body := range map[string]string{"hello.yml": helloDoc, "script.sh": "echo imported from s3\n"} {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("docs"), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	a := startServer(t, func(c *config.Config) {
		c.S3 = config.S3{Endpoint: fake.URL, Region: "us-east-1", AccessKeyID: "s3key", SecretAccessKey: "s3secret", UsePathStyle: true}
	})
	c := client(a, "test", "test")
	out, err := c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("from-s3"), SemanticVersion: aws.String("1.0.0"),
		Platform: types.PlatformLinux, Uri: aws.String("s3://docs/hello.yml")})
	if err != nil {
		t.Fatal(err)
	}
	got := must[*ib.GetComponentOutput](t)(c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: out.ComponentBuildVersionArn}))
	if aws.ToString(got.Component.Data) != helloDoc {
		t.Errorf("data = %q", aws.ToString(got.Component.Data))
	}
	imp, err := c.ImportComponent(ctx, &ib.ImportComponentInput{Name: aws.String("imported-s3"), SemanticVersion: aws.String("1.0.0"),
		Type: types.ComponentTypeBuild, Format: types.ComponentFormatShell, Platform: types.PlatformLinux, Uri: aws.String("s3://docs/script.sh")})
	if err != nil {
		t.Fatal(err)
	}
	got = must[*ib.GetComponentOutput](t)(c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: imp.ComponentBuildVersionArn}))
	if !strings.Contains(aws.ToString(got.Component.Data), "echo imported from s3") {
		t.Errorf("imported data = %q", aws.ToString(got.Component.Data))
	}
	_, err = c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("missing"), SemanticVersion: aws.String("1.0.0"),
		Platform: types.PlatformLinux, Uri: aws.String("s3://docs/nope.yml")})
	wantCode(t, err, "InvalidParameterValueException")
}
