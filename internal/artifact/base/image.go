// Package base builds goldsmith's base container images without the
// internet: busybox from the host's Debian busybox-static binary, and a
// Debian minbase root filesystem made by mmdebstrap from the apt mirror the
// host uses. Each image is one OCI layer (gzip, media type
// application/vnd.oci.image.layer.v1.tar+gzip) with an OCI config for
// linux on the host's architecture.
//
// Builds are deterministic where it is cheap: every timestamp is Epoch
// (entries newer than Epoch are clamped to it), owners are numeric, the
// busybox layer's entries are sorted by name, and mmdebstrap runs with
// SOURCE_DATE_EPOCH so that the same mirror content gives the same digest.
package base

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/goldsmith/goldsmith/internal/gzlayer"
)

// Epoch is the timestamp of every base image: the creation time in its
// config and history, and the upper bound of file modification times.
var Epoch = time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)

// DefaultPath is the PATH of the base images' configs (Debian's default).
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// layerWriter streams a tar into a gzip buffer, hashing both forms, so that
// the finished layer knows its digest and diff ID without reading itself
// back.
type layerWriter struct {
	gz bytes.Buffer
	gw *gzlayer.Writer
	tw *tar.Writer
}

func newLayerWriter(level int) (*layerWriter, error) {
	lw := &layerWriter{}
	gw, err := gzlayer.NewWriter(&lw.gz, level)
	if err != nil {
		return nil, err
	}
	lw.gw, lw.tw = gw, tar.NewWriter(gw)
	return lw, nil
}

// layer closes the tar and gzip streams and returns the finished layer.
func (lw *layerWriter) layer() (v1.Layer, error) {
	if err := lw.tw.Close(); err != nil {
		return nil, fmt.Errorf("close tar: %w", err)
	}
	if err := lw.gw.Close(); err != nil {
		return nil, err
	}
	l, err := partial.CompressedToLayer(&memLayer{gz: lw.gz.Bytes(), digest: lw.gw.Digest(), diffID: lw.gw.DiffID()})
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	return l, nil
}

// memLayer is a gzip-compressed OCI layer held in memory.
type memLayer struct {
	gz             []byte
	digest, diffID v1.Hash
}

func (m *memLayer) Digest() (v1.Hash, error) { return m.digest, nil }
func (m *memLayer) DiffID() (v1.Hash, error) { return m.diffID, nil }
func (m *memLayer) Size() (int64, error)     { return int64(len(m.gz)), nil }
func (m *memLayer) MediaType() (types.MediaType, error) {
	return types.OCILayer, nil
}
func (m *memLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(m.gz)), nil
}

// newImage is an OCI image of one layer with the base images' config
// conventions: linux on the host architecture, PATH, the given Cmd and
// labels, every timestamp Epoch.
func newImage(layer v1.Layer, cmd []string, createdBy string, labels map[string]string) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = runtime.GOARCH
	cf.OS = "linux"
	cf.Created = v1.Time{Time: Epoch}
	cf.Config = v1.Config{
		Cmd:    cmd,
		Env:    []string{DefaultPath},
		Labels: labels,
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: createdBy},
	})
	if err != nil {
		return nil, fmt.Errorf("append layer: %w", err)
	}
	// Compute the manifest now so that errors surface here, not at push.
	if _, err := img.Digest(); err != nil {
		return nil, fmt.Errorf("image digest: %w", err)
	}
	return img, nil
}

// clamp bounds a modification time by Epoch.
func clamp(t time.Time) time.Time {
	if t.IsZero() || t.After(Epoch) {
		return Epoch
	}
	return t.UTC()
}
