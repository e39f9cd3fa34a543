package containerbuild

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/goldsmith/goldsmith/internal/instance/container"
)

// OCI layer markers (image-spec, layer.md).
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// readFilesLayered is readImageFiles for an image whose lower layers the
// cache holds unpacked (the parent image): the named files are read from
// the cache's directory and the layers above it are applied from their
// tars (files replaced, whiteouts and opaque directories removing them),
// which spares decompressing the parent's layers. Without a cache, or when
// it holds none of img's layers, it is readImageFiles.
func readFilesLayered(img v1.Image, cache *container.LayerCache, names ...string) (map[string][]byte, error) {
	if cache == nil {
		return readImageFiles(img, names...)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image configuration: %w", err)
	}
	dir, n := cache.Longest(cfg.RootFS.DiffIDs)
	if n == 0 {
		return readImageFiles(img, names...)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading the image's layers: %w", err)
	}
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		return readImageFiles(img, names...)
	}
	st := fileSet{want: map[string]bool{}, data: map[string][]byte{}, links: map[string]string{}}
	for _, name := range names {
		st.want[name] = true
		if err := st.readHost(dir, name); err != nil {
			return nil, err
		}
	}
	for i := n; i < len(layers); i++ {
		if err := st.applyLayer(layers[i]); err != nil {
			return nil, fmt.Errorf("reading layer %d of the image: %w", i+1, err)
		}
	}
	for name, t := range st.links {
		if data, ok := st.data[t]; ok {
			st.data[name] = data
		}
	}
	return st.data, nil
}

// fileSet is the state of the wanted files while layers are applied.
type fileSet struct {
	want  map[string]bool
	data  map[string][]byte // regular files
	links map[string]string // symlinks → target, relative to the root
}

// readHost reads name from the unpacked root dir (a regular file or a
// symlink; other types and missing files are left out). As in the
// flattened tar, a name is found only under real directories: parents
// that are symlinks are not followed (nor can they lead out of dir).
func (st *fileSet) readHost(dir, name string) error {
	p := dir
	for _, part := range strings.Split(path.Dir(name), "/") {
		if part == "." {
			break
		}
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.IsDir()) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading /%s of the image: %w", name, err)
		}
	}
	p = filepath.Join(p, path.Base(name))
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("reading /%s of the image: %w", name, err)
	}
	switch {
	case fi.Mode().IsRegular():
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("reading /%s of the image: %w", name, err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxMetadataFile))
		if err != nil {
			return fmt.Errorf("reading /%s of the image: %w", name, err)
		}
		st.data[name] = data
	case fi.Mode()&os.ModeSymlink != 0:
		t, err := os.Readlink(p)
		if err != nil {
			return fmt.Errorf("reading /%s of the image: %w", name, err)
		}
		st.links[name] = linkTarget(name, t)
	}
	return nil
}

func linkTarget(name, t string) string {
	if !path.IsAbs(t) {
		t = path.Join(path.Dir(name), t)
	}
	return path.Clean(strings.TrimPrefix(t, "/"))
}

// remove forgets the wanted files at or under p.
func (st *fileSet) remove(p string) {
	for name := range st.want {
		if name == p || strings.HasPrefix(name, p+"/") {
			delete(st.data, name)
			delete(st.links, name)
		}
	}
}

// applyLayer applies one layer: its whiteouts and opaque directories hide
// what the layers below gave, then its entries replace the wanted files.
func (st *fileSet) applyLayer(l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var hidden, opaque []string
	data := map[string][]byte{}
	links := map[string]string{}
	replaced := map[string]bool{} // wanted names this layer gives as something else
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		n := path.Clean(strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/"))
		dir, base := path.Split(n)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case base == opaqueMarker:
			opaque = append(opaque, dir)
			continue
		case strings.HasPrefix(base, whiteoutPrefix):
			hidden = append(hidden, path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix)))
			continue
		}
		if !st.want[n] {
			if h.Typeflag != tar.TypeDir {
				hidden = append(hidden, n) // a file where a wanted name's parent was
			}
			continue
		}
		switch h.Typeflag {
		case tar.TypeReg:
			b, err := io.ReadAll(io.LimitReader(tr, maxMetadataFile))
			if err != nil {
				return fmt.Errorf("reading /%s: %w", n, err)
			}
			data[n] = b
		case tar.TypeSymlink:
			links[n] = linkTarget(n, h.Linkname)
		default:
			replaced[n] = true
		}
	}
	for _, p := range hidden {
		st.remove(p)
	}
	for _, d := range opaque {
		for name := range st.want {
			if strings.HasPrefix(name, d+"/") {
				delete(st.data, name)
				delete(st.links, name)
			}
		}
	}
	for n := range replaced {
		st.remove(n)
	}
	for n, b := range data {
		st.remove(n)
		st.data[n] = b
	}
	for n, t := range links {
		st.remove(n)
		st.links[n] = t
	}
	return nil
}
