// Package gzlayer writes OCI layers: an uncompressed tar stream in,
// gzip out, with both forms hashed on the way, so that a finished layer
// knows its digest (of the gzip) and its DiffID (of the tar) without being
// read back.
package gzlayer

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Writer compresses what is written to it into another writer.
type Writer struct {
	zw           *gzip.Writer
	in           io.Writer // zw and the tar's hash
	compressed   countingHash
	uncompressed hash.Hash
}

// NewWriter returns a Writer compressing into w at the gzip level.
func NewWriter(w io.Writer, level int) (*Writer, error) {
	lw := &Writer{compressed: countingHash{h: sha256.New()}, uncompressed: sha256.New()}
	zw, err := gzip.NewWriterLevel(io.MultiWriter(w, &lw.compressed), level)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	lw.zw = zw
	lw.in = io.MultiWriter(zw, lw.uncompressed)
	return lw, nil
}

// Write takes the next bytes of the tar stream.
func (w *Writer) Write(p []byte) (int, error) { return w.in.Write(p) }

// Close ends the gzip stream (the writer it goes to stays open). Digest,
// DiffID and Size are valid after it.
func (w *Writer) Close() error {
	if err := w.zw.Close(); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	return nil
}

// Digest is the SHA-256 of the gzip stream.
func (w *Writer) Digest() v1.Hash { return sha256Hash(w.compressed.h) }

// DiffID is the SHA-256 of the tar stream.
func (w *Writer) DiffID() v1.Hash { return sha256Hash(w.uncompressed) }

// Size is the length of the gzip stream.
func (w *Writer) Size() int64 { return w.compressed.n }

func sha256Hash(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// countingHash hashes what is written and counts it.
type countingHash struct {
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}
