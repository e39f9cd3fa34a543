package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/goldsmith/goldsmith/internal/artifact/registry"
	"github.com/goldsmith/goldsmith/internal/config"
	"github.com/goldsmith/goldsmith/internal/testsupport"
)

// TestBuildPushesToConfiguredECR: with `ecr: {us-east-1: ...}` in the
// configuration, builds in us-east-1 push to that registry with its
// credentials instead of the built-in one.
func TestBuildPushesToConfiguredECR(t *testing.T) {
	testsupport.RequireRealBuilds(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	reg, err := registry.New(ctx, t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	external := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "builder" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="external"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(external.Close)
	host := strings.TrimPrefix(external.URL, "http://")

	f := newBuildFixture(ctx, t, func(c *config.Config) {
		c.ECR = map[string]config.ExternalRegistry{"us-east-1": {Address: host, Username: "builder", Password: "s3cret", Insecure: true}}
	})
	recipe, infra := f.recipe(ctx, t, "to-ecr", markerComponent)
	created := must[*ib.CreateImageOutput](t)(f.c.CreateImage(ctx, &ib.CreateImageInput{ContainerRecipeArn: aws.String(recipe), InfrastructureConfigurationArn: aws.String(infra)}))
	img := waitForImage(ctx, t, f.c, aws.ToString(created.ImageBuildVersionArn))
	if img.State.Status != types.ImageStatusAvailable {
		t.Fatalf("image ended %s: %s", img.State.Status, aws.ToString(img.State.Reason))
	}
	uri := img.OutputResources.Containers[0].ImageUris[0]
	if !strings.HasPrefix(uri, host+"/to-ecr@sha256:") {
		t.Fatalf("pushed to %s, want the configured registry %s", uri, host)
	}
	ref, err := name.ParseReference(uri, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Image(ref, remote.WithContext(ctx), remote.WithAuth(&authn.Basic{Username: "builder", Password: "s3cret"})); err != nil {
		t.Fatalf("pull with credentials: %v", err)
	}
	if _, err := remote.Image(ref, remote.WithContext(ctx)); err == nil {
		t.Fatal("the external registry answered without credentials")
	}
}
