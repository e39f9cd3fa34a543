package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
)

// ErrNotImage reports that a reference names something other than an
// image manifest (an index, say): Image does not read it; a pull over HTTP
// picks the platform.
var ErrNotImage = errors.New("not an image manifest")

// Image reads the image ref (a tag or a digest) of repository (a path in
// this registry) straight from the registry's storage: what a pull over
// HTTP gets, without the HTTP exchange. The manifest and the configuration
// are read now, the layers when used (through ctx). A reference to an
// index returns ErrNotImage (wrapped); to nothing, an error wrapping
// distribution's ErrManifestUnknown or ErrTagUnknown.
func (r *Registry) Image(ctx context.Context, repository, ref string) (v1.Image, error) {
	img, err := r.image(ctx, repository, ref)
	if err != nil {
		return nil, fmt.Errorf("registry: reading %s:%s: %w", repository, ref, err)
	}
	return img, nil
}

func (r *Registry) image(ctx context.Context, repository, ref string) (v1.Image, error) {
	named, err := reference.WithName(repository)
	if err != nil {
		return nil, err
	}
	repo, err := r.local.Repository(ctx, named)
	if err != nil {
		return nil, err
	}
	d, err := digest.Parse(ref)
	if err != nil {
		if _, err := reference.WithTag(named, ref); err != nil {
			return nil, err
		}
		desc, err := repo.Tags(ctx).Get(ctx, ref)
		if err != nil {
			return nil, err
		}
		d = desc.Digest
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return nil, err
	}
	m, err := ms.Get(ctx, d)
	if err != nil {
		return nil, err
	}
	mt, raw, err := m.Payload()
	if err != nil {
		return nil, err
	}
	switch types.MediaType(mt) {
	case types.OCIManifestSchema1, types.DockerManifestSchema2:
	default:
		return nil, fmt.Errorf("%w: %s is a %s", ErrNotImage, d, mt)
	}
	core := &storedImage{ctx: ctx, blobs: repo.Blobs(ctx), mediaType: types.MediaType(mt), manifest: raw}
	mf, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("reading the manifest %s: %w", d, err)
	}
	if core.config, err = core.blobs.Get(ctx, digest.Digest(mf.Config.Digest.String())); err != nil {
		return nil, fmt.Errorf("reading the configuration %s: %w", mf.Config.Digest, err)
	}
	img, err := partial.CompressedToImage(core)
	if err != nil {
		return nil, err
	}
	core.img = img
	return img, nil
}

// storedImage is an image in the registry's storage
// (partial.CompressedImageCore).
type storedImage struct {
	ctx       context.Context
	blobs     distribution.BlobStore
	mediaType types.MediaType
	manifest  []byte
	config    []byte
	img       v1.Image // the image over it, for its manifest and configuration
}

func (s *storedImage) RawConfigFile() ([]byte, error)      { return s.config, nil }
func (s *storedImage) MediaType() (types.MediaType, error) { return s.mediaType, nil }
func (s *storedImage) RawManifest() ([]byte, error)        { return s.manifest, nil }
func (s *storedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	return &storedLayer{img: s, digest: h}, nil
}

// storedLayer is a blob of a storedImage. Its size, media type and DiffID
// come from the manifest and the configuration, as they do for a pull
// over HTTP (without them the layer would be read to compute them).
type storedLayer struct {
	img    *storedImage
	digest v1.Hash
}

func (l *storedLayer) Digest() (v1.Hash, error) { return l.digest, nil }

func (l *storedLayer) DiffID() (v1.Hash, error) { return partial.BlobToDiffID(l.img.img, l.digest) }

func (l *storedLayer) Size() (int64, error) { return partial.BlobSize(l.img.img, l.digest) }

func (l *storedLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.img.blobs.Open(l.img.ctx, digest.Digest(l.digest.String()))
	if err != nil {
		return nil, fmt.Errorf("registry: opening blob %s: %w", l.digest, err)
	}
	return rc, nil
}

func (l *storedLayer) MediaType() (types.MediaType, error) {
	d, err := partial.BlobDescriptor(l.img.img, l.digest)
	if err != nil {
		return "", err
	}
	return d.MediaType, nil
}
