package registry

import (
	"context"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestSkopeoInterop checks the registry with a second client: skopeo pushes
// an OCI layout (chunked uploads, its own manifest handling), ggcr pulls it,
// and skopeo copies it back out.
func TestSkopeoInterop(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("needs skopeo (scripts/host-packages.sh installs it)")
	}
	ctx := context.Background()
	host, _ := serve(t, t.TempDir(), slog.New(slog.DiscardHandler))
	img := ociImage(t, 2, 256<<10)
	work := t.TempDir()
	lp, err := layout.Write(filepath.Join(work, "in"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "v1"})); err != nil {
		t.Fatal(err)
	}
	skopeo := func(args ...string) {
		t.Helper()
		full := append([]string{"--insecure-policy", "--tmpdir", work}, args...)
		if out, err := exec.CommandContext(ctx, "skopeo", full...).CombinedOutput(); err != nil {
			t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	skopeo("copy", "--dest-tls-verify=false", "oci:"+filepath.Join(work, "in")+":v1", "docker://"+host+"/skopeo/app:v1")

	got, err := remote.Image(ref(t, host+"/skopeo/app:v1"), remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	sameImage(t, got, img)

	skopeo("copy", "--src-tls-verify=false", "docker://"+host+"/skopeo/app:v1", "oci:"+filepath.Join(work, "out")+":v1")
	out, err := layout.ImageIndexFromPath(filepath.Join(work, "out"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := out.IndexManifest()
	if err != nil || len(m.Manifests) != 1 || m.Manifests[0].Digest != digestOf(t, img) {
		t.Fatalf("copied back: %+v, %v", m, err)
	}
}
