package containerbuild

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"

	"github.com/goldsmith/goldsmith/internal/instance/container"
)

// The on-disk state under Spec.ScratchDir (see the package documentation).
const (
	imageDir       = "image"
	buildStateFile = "build.json"
	buildDir       = "build"
	testDir        = "test"
)

// buildState is build.json: written last by BuildStage, it marks the
// layout as complete.
type buildState struct {
	ImageARN string `json:"imageArn"`
	Digest   string `json:"digest"`
}

func (s Spec) validate() error {
	if s.ScratchDir == "" {
		return errors.New("no scratch directory")
	}
	if !filepath.IsAbs(s.ScratchDir) {
		return fmt.Errorf("scratch directory %q is not absolute", s.ScratchDir)
	}
	if s.LogDir == "" {
		return errors.New("no log directory")
	}
	return nil
}

func (s Spec) path(elem ...string) string {
	return filepath.Join(append([]string{s.ScratchDir}, elem...)...)
}

// logDir returns (creating it) the log directory of one stage.
func (s Spec) logDir(stage string) (string, error) {
	dir := filepath.Join(s.LogDir, stage)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating the log directory: %w", err)
	}
	return dir, nil
}

// writeImage stores img as the only image of a fresh OCI layout and then
// records its digest in build.json.
func writeImage(s Spec, img v1.Image, cache *container.LayerCache, shared []v1.Hash) (v1.Hash, error) {
	dir := s.path(imageDir)
	if err := os.RemoveAll(dir); err != nil {
		return v1.Hash{}, fmt.Errorf("removing the previous image layout: %w", err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("creating the image layout: %w", err)
	}
	if err := storeImage(p, img, cache, shared); err != nil {
		return v1.Hash{}, fmt.Errorf("writing the image layout: %w", err)
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("image digest: %w", err)
	}
	data, err := json.Marshal(buildState{ImageARN: s.ImageARN, Digest: d.String()})
	if err != nil {
		return v1.Hash{}, fmt.Errorf("encoding %s: %w", buildStateFile, err)
	}
	tmp := s.path(buildStateFile + ".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return v1.Hash{}, fmt.Errorf("writing %s: %w", buildStateFile, err)
	}
	if err := os.Rename(tmp, s.path(buildStateFile)); err != nil {
		return v1.Hash{}, fmt.Errorf("writing %s: %w", buildStateFile, err)
	}
	return d, nil
}

// storeImage writes img's blobs into the layout p (the layers at the same
// time) and adds img to its index. The blobs of shared layers (the
// parent's) are hard links to the layer cache's copies when it has them,
// else written and then kept there for the next build (cache may be nil).
// A linked layer is not opened at all: for a layer of a registry image,
// opening it is already a request.
func storeImage(p layout.Path, img v1.Image, cache *container.LayerCache, shared []v1.Hash) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	if err := concurrently(layers, func(l v1.Layer) error { return storeLayer(p, l, cache, shared) }); err != nil {
		return err
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if err := p.WriteBlob(cfgName, io.NopCloser(bytes.NewReader(cfg))); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	if err := p.WriteBlob(d, io.NopCloser(bytes.NewReader(manifest))); err != nil {
		return err
	}
	desc, err := partial.Descriptor(img)
	if err != nil {
		return err
	}
	return p.AppendDescriptor(*desc)
}

func storeLayer(p layout.Path, l v1.Layer, cache *container.LayerCache, shared []v1.Hash) error {
	d, err := l.Digest()
	if err != nil {
		return err
	}
	dst := filepath.Join(string(p), "blobs", d.Algorithm, d.Hex)
	keep := cache != nil && slices.Contains(shared, d)
	if keep && linkBlob(cache.Blob(d), dst) {
		return nil
	}
	// A layer the build wrote (dockerfile.FileLayer) is linked too.
	if fl, ok := l.(interface{ File() string }); !ok || !linkBlob(fl.File(), dst) {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		if err := p.WriteBlob(d, rc); err != nil {
			return err
		}
	}
	if keep {
		if err := cache.KeepBlob(d, dst); err != nil {
			slog.Warn("keeping a layer blob", "digest", d, "err", err)
		}
	}
	return nil
}

// linkBlob hard-links the blob file src at dst; false when there is no src
// or it cannot be linked (the caller copies it then).
func linkBlob(src, dst string) bool {
	if src == "" || os.MkdirAll(filepath.Dir(dst), 0o755) != nil {
		return false
	}
	err := os.Link(src, dst)
	return err == nil || errors.Is(err, fs.ErrExist)
}

// readImage opens the image BuildStage stored.
func readImage(s Spec) (v1.Image, v1.Hash, error) {
	data, err := os.ReadFile(s.path(buildStateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, v1.Hash{}, errors.New("no built image: the build stage has not completed")
	}
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("reading %s: %w", buildStateFile, err)
	}
	var st buildState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, v1.Hash{}, fmt.Errorf("reading %s: %w", buildStateFile, err)
	}
	h, err := v1.NewHash(st.Digest)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("reading %s: %w", buildStateFile, err)
	}
	idx, err := layout.ImageIndexFromPath(s.path(imageDir))
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("opening the image layout: %w", err)
	}
	img, err := idx.Image(h)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("reading image %s from the layout: %w", h, err)
	}
	return img, h, nil
}

// openLog creates (truncating) a log file of a stage.
func openLog(dir, name string) (*os.File, error) {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("creating log %s: %w", name, err)
	}
	return f, nil
}
