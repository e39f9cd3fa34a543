package container

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// cacheTmpPrefix starts the names of the directories a LayerCache fills
// before renaming them into place.
const cacheTmpPrefix = ".tmp-"

// staleFill is how old an unfinished fill must be before NewLayerCache
// removes it (another process may still be filling it).
const staleFill = 10 * time.Minute

// LayerCache keeps image layers unpacked, shared by builds: the directory
// of a chain of layers (named by its OCI chain ID) holds them applied in
// order. It also keeps layer blobs (Blob, KeepBlob). A directory is complete once it has its final name and is never
// written again, so any number of sandboxes may use it as a lower
// directory at the same time (overlayfs does not write to lowers).
// Entries are not evicted; the cache is safe for concurrent use, also by
// several processes sharing the directory.
type LayerCache struct {
	dir string
	mu  sync.Mutex // serializes fills in this process
}

// NewLayerCache opens (creating it) the cache in dir and removes fills
// that a crashed process left unfinished.
func NewLayerCache(dir string) (*LayerCache, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), cacheTmpPrefix) {
			continue
		}
		if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < staleFill {
			continue
		}
		if err := os.RemoveAll(filepath.Join(abs, e.Name())); err != nil {
			return nil, fmt.Errorf("layer cache: removing an unfinished fill: %w", err)
		}
	}
	return &LayerCache{dir: abs}, nil
}

// Dir is the cache's directory.
func (c *LayerCache) Dir() string { return c.dir }

// ChainID is the OCI chain ID of layers given by their DiffIDs (bottom
// first; image-spec config.md): the first DiffID, then
// sha256(parent + " " + DiffID) for each next. An empty chain has the ID "".
func ChainID(diffIDs []v1.Hash) string {
	var chain string
	for _, d := range diffIDs {
		if chain == "" {
			chain = d.String()
			continue
		}
		sum := sha256.Sum256([]byte(chain + " " + d.String()))
		chain = "sha256:" + hex.EncodeToString(sum[:])
	}
	return chain
}

func diffIDs(layers []v1.Layer) ([]v1.Hash, error) {
	out := make([]v1.Hash, len(layers))
	for i, l := range layers {
		d, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("layer %d: diff ID: %w", i+1, err)
		}
		out[i] = d
	}
	return out, nil
}

// Lower returns the directory that holds layers (bottom first) applied in
// order, unpacking them on a miss. The caller must not write to it.
func (c *LayerCache) Lower(ctx context.Context, layers []v1.Layer) (string, error) {
	ids, err := diffIDs(layers)
	if err != nil {
		return "", fmt.Errorf("layer cache: %w", err)
	}
	final := c.path(ChainID(ids))
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := os.Stat(final); err == nil { // filled while we waited
		return final, nil
	}
	start := time.Now()
	tmp, err := os.MkdirTemp(c.dir, cacheTmpPrefix)
	if err != nil {
		return "", fmt.Errorf("layer cache: %w", err)
	}
	if err := c.fill(ctx, tmp, layers); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("layer cache: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = os.RemoveAll(tmp)
		if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTEMPTY) {
			return final, nil // another process filled it first
		}
		return "", fmt.Errorf("layer cache: %w", err)
	}
	slog.DebugContext(ctx, "layer cache filled", "dir", final, "layers", len(layers), "elapsed", time.Since(start))
	return final, nil
}

func (c *LayerCache) fill(ctx context.Context, dir string, layers []v1.Layer) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i+1, err)
		}
		err = Unpack(ctx, rc, dir)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i+1, err)
		}
	}
	return nil
}

// Longest returns the directory of the longest prefix of the layers given
// by their DiffIDs (bottom first; an image's config.RootFS.DiffIDs) that
// the cache holds, and the prefix's length; ("", 0) when it holds none. It
// never unpacks anything.
func (c *LayerCache) Longest(diffIDs []v1.Hash) (string, int) {
	for n := len(diffIDs); n > 0; n-- {
		dir := c.path(ChainID(diffIDs[:n]))
		if _, err := os.Stat(dir); err == nil {
			return dir, n
		}
	}
	return "", 0
}

// blobsDir holds the cache's layer blobs.
const blobsDir = "blobs"

// Blob is the path of the kept blob (a compressed layer, as a registry
// serves it) with digest d, "" when the cache has none. The file must not
// be written to; link or copy it.
func (c *LayerCache) Blob(d v1.Hash) string {
	p := c.blobPath(d)
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
		return p
	}
	return ""
}

// KeepBlob keeps the file at src, whose content has digest d (the caller
// vouches for it), as a hard link: images built on the same parent can
// then be stored without fetching the parent's layers again. It does
// nothing when the cache has the blob or src is on another file system.
func (c *LayerCache) KeepBlob(d v1.Hash, src string) error {
	p := c.blobPath(d)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("layer cache: %w", err)
	}
	err := os.Link(src, p)
	if err == nil || errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.EXDEV) {
		return nil
	}
	return fmt.Errorf("layer cache: keeping blob %s: %w", d, err)
}

func (c *LayerCache) blobPath(d v1.Hash) string {
	return filepath.Join(c.dir, blobsDir, d.Algorithm+"-"+d.Hex)
}

// path is the directory of a chain ID.
func (c *LayerCache) path(chain string) string {
	if chain == "" {
		return filepath.Join(c.dir, "empty")
	}
	return filepath.Join(c.dir, strings.ReplaceAll(chain, ":", "-"))
}
