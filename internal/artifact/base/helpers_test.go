package base

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// tarEntry is one entry of a layer as a test sees it.
type tarEntry struct {
	hdr  *tar.Header
	data []byte
}

// layerEntries reads the single layer of img, in order, keeping the
// contents of files up to keep bytes.
func layerEntries(t *testing.T, img v1.Image, keep int64) ([]string, map[string]tarEntry) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatalf("layers: %v", err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	mt, err := layers[0].MediaType()
	if err != nil || mt != types.OCILayer {
		t.Fatalf("layer media type = %q, %v; want %q", mt, err, types.OCILayer)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatalf("uncompressed: %v", err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var order []string
	byName := map[string]tarEntry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("layer tar: %v", err)
		}
		var data []byte
		if h.Typeflag == tar.TypeReg && h.Size <= keep {
			if data, err = io.ReadAll(tr); err != nil {
				t.Fatalf("read %s: %v", h.Name, err)
			}
		}
		order = append(order, h.Name)
		byName[h.Name] = tarEntry{hdr: h, data: data}
	}
	return order, byName
}

// checkConfig checks the config conventions shared by the base images.
func checkConfig(t *testing.T, img v1.Image, cmd string) {
	t.Helper()
	mt, err := img.MediaType()
	if err != nil || mt != types.OCIManifestSchema1 {
		t.Fatalf("manifest media type = %q, %v", mt, err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != types.OCIConfigJSON {
		t.Fatalf("config media type = %q", m.Config.MediaType)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Architecture != "amd64" && cf.Architecture != "arm64" || cf.OS != "linux" {
		t.Fatalf("platform = %s/%s", cf.OS, cf.Architecture)
	}
	if len(cf.Config.Cmd) != 1 || cf.Config.Cmd[0] != cmd {
		t.Fatalf("cmd = %q, want [%s]", cf.Config.Cmd, cmd)
	}
	if len(cf.Config.Env) != 1 || cf.Config.Env[0] != DefaultPath {
		t.Fatalf("env = %q", cf.Config.Env)
	}
	if !cf.Created.Time.Equal(Epoch) || len(cf.History) != 1 || len(cf.RootFS.DiffIDs) != 1 {
		t.Fatalf("created %v, history %v, diff ids %v", cf.Created, cf.History, cf.RootFS.DiffIDs)
	}
}

// needRoot skips tests that need root and the named host commands.
func needRoot(t *testing.T, cmds ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (run the tests as root, as CI does)")
	}
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("needs %s (scripts/host-packages.sh installs it)", c)
		}
	}
}

func needBusybox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(BusyboxBinary); err != nil {
		t.Skipf("needs %s from Debian's busybox-static (scripts/host-packages.sh installs it): %v", BusyboxBinary, err)
	}
}

// tarOf builds a tar from entries for tests of the tar rewriting.
func tarOf(t testing.TB, hdrs ...*tar.Header) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hdrs {
		data := make([]byte, h.Size)
		for i := range data {
			data[i] = 'x'
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
