package gzlayer

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestWriter: the digest, DiffID and size computed while writing are those
// of the gzip stream and of what was written, read back.
func TestWriter(t *testing.T) {
	for _, tt := range []struct {
		name  string
		in    string
		level int
	}{
		{"empty", "", gzip.BestSpeed},
		{"small", "a tar, say", gzip.BestSpeed},
		{"large, default level", strings.Repeat("0123456789", 50000), gzip.DefaultCompression},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w, err := NewWriter(&out, tt.level)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(w, tt.in); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			digest, size, _ := v1.SHA256(bytes.NewReader(out.Bytes()))
			if w.Digest() != digest || w.Size() != size {
				t.Fatalf("digest %v size %d, the stream's are %v %d", w.Digest(), w.Size(), digest, size)
			}
			zr, err := gzip.NewReader(&out)
			if err != nil {
				t.Fatal(err)
			}
			back, err := io.ReadAll(zr)
			if err != nil || string(back) != tt.in {
				t.Fatalf("gunzipped %d bytes (%v), wrote %d", len(back), err, len(tt.in))
			}
			if diffID, _, _ := v1.SHA256(strings.NewReader(tt.in)); w.DiffID() != diffID {
				t.Fatalf("DiffID %v, want %v", w.DiffID(), diffID)
			}
		})
	}
}
