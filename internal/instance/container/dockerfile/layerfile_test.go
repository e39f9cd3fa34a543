package dockerfile

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestWriteLayerFile: the digests, DiffID and size computed while writing
// are those of the file read back, for an empty and a larger layer; a
// failing writer is an error.
func TestWriteLayerFile(t *testing.T) {
	tarOf := func(files ...[2]string) func(io.Writer) error {
		return func(w io.Writer) error {
			tw := tar.NewWriter(w)
			for _, f := range files {
				name, body := f[0], f[1]
				if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
					return err
				}
				if _, err := io.WriteString(tw, body); err != nil {
					return err
				}
			}
			return tw.Close()
		}
	}
	tests := []struct {
		name    string
		write   func(io.Writer) error
		wantErr string
	}{
		{"empty", tarOf(), ""},
		{"files", tarOf([2]string{"etc/marker", "built\n"}, [2]string{"opt/blob", strings.Repeat("x", 300000)}), ""},
		{"failing writer", func(io.Writer) error { return errors.New("upper vanished") }, "upper vanished"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "layer.tar.gz")
			l, err := writeLayerFile(path, tt.write)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("writeLayerFile = %v, want an error saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.File() != path {
				t.Fatalf("File = %s", l.File())
			}
			file, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			digest, size, _ := v1.SHA256(bytes.NewReader(file))
			if d, _ := l.Digest(); d != digest {
				t.Fatalf("Digest = %v, the file's is %v", d, digest)
			}
			if n, _ := l.Size(); n != size {
				t.Fatalf("Size = %d, the file has %d bytes", n, size)
			}
			rc, err := l.Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			var want bytes.Buffer
			if err := tt.write(&want); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			if err != nil || !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("uncompressed: %d bytes (%v), want %d", len(got), err, want.Len())
			}
			diffID, _, _ := v1.SHA256(bytes.NewReader(got))
			if d, _ := l.DiffID(); d != diffID {
				t.Fatalf("DiffID = %v, the tar's is %v", d, diffID)
			}
		})
	}
}
