package app

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/goldsmith/goldsmith/internal/config"
	"github.com/goldsmith/goldsmith/internal/testsupport"
)

// TestBuildLogsToS3: with logging.s3Logs in the infrastructure
// configuration, a build's logs (toe's detailedoutput.json among them) land
// in the bucket under <prefix>/<image>/<version>/<build>/.
func TestBuildLogsToS3(t *testing.T) {
	testsupport.RequireRealBuilds(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	fake := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(fake.Close)
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(fake.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("build-logs")}); err != nil {
		t.Fatal(err)
	}
	f := newBuildFixture(ctx, t, func(c *config.Config) {
		c.S3 = config.S3{Endpoint: fake.URL, Region: "us-east-1", AccessKeyID: "k", SecretAccessKey: "s", UsePathStyle: true}
	})
	recipe, _ := f.recipe(ctx, t, "logged", markerComponent)
	infra := must[*ib.CreateInfrastructureConfigurationOutput](t)(f.c.CreateInfrastructureConfiguration(ctx, &ib.CreateInfrastructureConfigurationInput{
		Name: aws.String("with-logs"), InstanceProfileName: aws.String("local"),
		Logging: &types.Logging{S3Logs: &types.S3Logs{S3BucketName: aws.String("build-logs"), S3KeyPrefix: aws.String("goldsmith")}},
	}))
	created := must[*ib.CreateImageOutput](t)(f.c.CreateImage(ctx, &ib.CreateImageInput{ContainerRecipeArn: aws.String(recipe), InfrastructureConfigurationArn: infra.InfrastructureConfigurationArn}))
	img := waitForImage(ctx, t, f.c, aws.ToString(created.ImageBuildVersionArn))
	if img.State.Status != types.ImageStatusAvailable {
		t.Fatalf("image ended %s: %s", img.State.Status, aws.ToString(img.State.Reason))
	}
	list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("build-logs"), Prefix: aws.String("goldsmith/logged/1.0.0/1/")})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range list.Contents {
		if strings.HasSuffix(aws.ToString(o.Key), "detailedoutput.json") {
			found = true
		}
	}
	if !found {
		keys := []string{}
		for _, o := range list.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		t.Fatalf("no detailedoutput.json among the uploaded logs: %v", keys)
	}
}
