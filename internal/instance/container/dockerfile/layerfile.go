package dockerfile

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/goldsmith/goldsmith/internal/gzlayer"
)

// FileLayer is a layer Build wrote: a gzip-compressed tar file whose
// digests were computed as it was written, so that nothing reads it again
// to know them. The layers a build adds to Result.Image are FileLayers;
// whoever stores them may link File rather than copy it.
type FileLayer struct {
	path           string
	digest, diffID v1.Hash
	size           int64
}

// File is the path of the compressed layer (the blob, as it is pushed).
func (l *FileLayer) File() string { return l.path }

// Digest is the SHA-256 of the compressed layer.
func (l *FileLayer) Digest() (v1.Hash, error) { return l.digest, nil }

// DiffID is the SHA-256 of the uncompressed tar.
func (l *FileLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Size is the size of the compressed layer.
func (l *FileLayer) Size() (int64, error) { return l.size, nil }

// MediaType is an OCI gzip layer's.
func (l *FileLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

// Compressed opens the file.
func (l *FileLayer) Compressed() (io.ReadCloser, error) { return os.Open(l.path) }

// Uncompressed opens the file through a gzip reader.
func (l *FileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("layer %s: %w", l.path, err)
	}
	return &gunzipFile{Reader: zr, f: f}, nil
}

type gunzipFile struct {
	*gzip.Reader
	f *os.File
}

func (g *gunzipFile) Close() error { return errors.Join(g.Reader.Close(), g.f.Close()) }

// writeLayerFile creates the layer file path from the uncompressed tar
// stream write produces, compressing it (gzip, fastest) and hashing both
// forms on the way.
func writeLayerFile(path string, write func(io.Writer) error) (*FileLayer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	l, err := writeLayer(f, write)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing layer %s: %w", path, err)
	}
	l.path = path
	return l, nil
}

func writeLayer(f *os.File, write func(io.Writer) error) (*FileLayer, error) {
	bw := bufio.NewWriterSize(f, 64<<10)
	gw, err := gzlayer.NewWriter(bw, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if err := write(gw); err != nil {
		return nil, err
	}
	if err := gw.Close(); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return &FileLayer{digest: gw.Digest(), diffID: gw.DiffID(), size: gw.Size()}, nil
}
