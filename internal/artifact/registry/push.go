package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Push stores img in repository (a path in this registry, such as
// "team/app") under every tag, straight into the registry's storage: the
// blobs it lacks (verified against their digests), then the manifest
// (checked like a pushed one: every blob it names must be there) and the
// tags. It returns once all of it is durable (one sync). It is for the
// engine, which runs in the same process as the registry: a push is then
// one sync instead of an HTTP exchange and a sync per stored object.
func (r *Registry) Push(ctx context.Context, repository string, tags []string, img v1.Image) error {
	if err := r.push(ctx, repository, tags, img); err != nil {
		return fmt.Errorf("registry: pushing to %s: %w", repository, err)
	}
	return nil
}

func (r *Registry) push(ctx context.Context, repository string, tags []string, img v1.Image) error {
	named, err := reference.WithName(repository)
	if err != nil {
		return err
	}
	for _, t := range tags {
		if _, err := reference.WithTag(named, t); err != nil {
			return err
		}
	}
	repo, err := r.local.Repository(ctx, named)
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	cfg, err := partial.ConfigLayer(img)
	if err != nil {
		return err
	}
	blobs := repo.Blobs(ctx)
	if err := concurrently(append(layers, cfg), func(l v1.Layer) error { return putBlob(ctx, blobs, l) }); err != nil {
		return err
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	m, desc, err := distribution.UnmarshalManifest(string(mt), raw)
	if err != nil {
		return fmt.Errorf("reading the manifest: %w", err)
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return err
	}
	if _, err := ms.Put(ctx, m); err != nil {
		return fmt.Errorf("storing the manifest: %w", err)
	}
	ts := repo.Tags(ctx)
	if err := concurrently(tags, func(t string) error {
		if err := ts.Tag(ctx, t, desc); err != nil {
			return fmt.Errorf("tagging %s: %w", t, err)
		}
		return nil
	}); err != nil {
		return err
	}
	return r.sync(r.storage)
}

// concurrently calls f for every item at the same time and joins the
// errors.
func concurrently[T any](items []T, f func(T) error) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Go(func() { errs[i] = f(it) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// smallBlob is the size up to which a blob is read into memory and stored
// in one write; larger ones go through an upload, streamed.
const smallBlob = 4 << 20

// putBlob stores l's blob unless the repository has it, after checking
// its content against its digest.
func putBlob(ctx context.Context, blobs distribution.BlobStore, l v1.Layer) error {
	h, err := l.Digest()
	if err != nil {
		return err
	}
	d := digest.Digest(h.String())
	if _, err := blobs.Stat(ctx, d); err == nil {
		return nil
	} else if !errors.Is(err, distribution.ErrBlobUnknown) {
		return fmt.Errorf("blob %s: %w", d, err)
	}
	size, err := l.Size()
	if err != nil {
		return err
	}
	mt, err := l.MediaType()
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	if size <= smallBlob {
		// A small blob is stored in one write, without an upload.
		data, err := io.ReadAll(io.LimitReader(rc, size+1))
		if err != nil {
			return fmt.Errorf("blob %s: %w", d, err)
		}
		if got := digest.FromBytes(data); got != d || int64(len(data)) != size {
			return fmt.Errorf("blob %s: %d bytes with digest %s, want %d: %w", d, len(data), got, size,
				distribution.ErrBlobInvalidDigest{Digest: d, Reason: errors.New("content does not match")})
		}
		if _, err := blobs.Put(ctx, string(mt), data); err != nil {
			return fmt.Errorf("blob %s: %w", d, err)
		}
		return nil
	}
	w, err := blobs.Create(ctx)
	if err != nil {
		return fmt.Errorf("blob %s: %w", d, err)
	}
	if _, err := io.Copy(w, rc); err != nil {
		_ = w.Cancel(ctx)
		return fmt.Errorf("blob %s: %w", d, err)
	}
	if _, err := w.Commit(ctx, ocispec.Descriptor{Digest: d, Size: size, MediaType: string(mt)}); err != nil {
		_ = w.Cancel(ctx)
		return fmt.Errorf("blob %s: %w", d, err)
	}
	return nil
}

// newLocal is the storage namespace Push writes through: the registry's
// storage, with its own driver instance over the same directory (the
// driver keeps no state) and no descriptor cache, so that nothing it
// caches can go stale behind the HTTP side's back.
func newLocal(ctx context.Context, dir string) (distribution.Namespace, error) {
	d, err := groupCommitFactory{}.Create(ctx, map[string]any{"rootdirectory": dir})
	if err != nil {
		return nil, err
	}
	return storage.NewRegistry(ctx, d, storage.EnableDelete)
}
