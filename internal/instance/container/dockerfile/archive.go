package dockerfile

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// isArchive reports whether a context file is a tar archive, plain or
// gzip-compressed (what ADD extracts). Other compressions are reported by
// extractArchive as errors, never copied as is by mistake.
func isArchive(src *os.Root, p string) bool {
	f, err := src.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return true
	case bytes.HasPrefix(head, []byte("BZh")), bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}),
		bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return true
	}
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

// extractArchive unpacks a context tar archive into the directory dest, as
// ADD does. Entries keep their owners unless --chown was given.
func extractArchive(ctx context.Context, src *os.Root, p string, dst *os.Root, dest string, spec copySpec, chown bool) error {
	f, err := src.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, _ := br.Peek(6)
	var r io.Reader = br
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("ADD %s: %w", p, err)
		}
		defer gz.Close()
		r = gz
	case bytes.HasPrefix(head, []byte("BZh")), bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}),
		bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return fmt.Errorf("ADD %s: only plain and gzip-compressed tar archives are extracted", p)
	}
	if err := mkdirAll(dst, dest); err != nil {
		return fmt.Errorf("creating %s: %w", dest, err)
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ADD %s: %w", p, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := relPath(h.Name)
		if name == "." {
			continue
		}
		target := path.Join(dest, name)
		es := spec
		if !chown {
			es.uid, es.gid = h.Uid, h.Gid
		}
		mode := h.FileInfo().Mode()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := mkdirAll(dst, target); err != nil {
				return fmt.Errorf("creating %s: %w", target, err)
			}
			err = finish(dst, target, mode, h.ModTime, es, false)
		case tar.TypeReg:
			err = writeFile(ctx, tr, dst, target, mode, h.ModTime, es)
		case tar.TypeSymlink:
			if err = mkdirAll(dst, path.Dir(target)); err == nil {
				if err = replace(dst, target); err == nil {
					err = dst.Symlink(h.Linkname, relPath(target))
				}
			}
			if err == nil {
				err = finish(dst, target, 0, h.ModTime, es, true)
			}
		case tar.TypeLink:
			if err = replace(dst, target); err == nil {
				err = dst.Link(relPath(path.Join(dest, relPath(h.Linkname))), relPath(target))
			}
		default:
			return fmt.Errorf("ADD %s: %s: entry type %q is not supported", p, h.Name, h.Typeflag)
		}
		if err != nil {
			return fmt.Errorf("ADD %s: %s: %w", p, h.Name, err)
		}
	}
}

// unstage removes the staging directory from the sandbox before its layer
// is written, after copying toe's logs to Options.LogDir.
func (b *builder) unstage(ctx context.Context, rootfs string) error {
	if !b.staged {
		return nil
	}
	b.staged = false
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return fmt.Errorf("opening the build root: %w", err)
	}
	defer root.Close()
	stage := relPath(StagePath)
	if b.o.LogDir != "" {
		if err := ExportTree(ctx, root, path.Join(stage, stageLogs), b.o.LogDir); err != nil {
			return fmt.Errorf("keeping the component logs: %w", err)
		}
	}
	if err := root.RemoveAll(stage); err != nil {
		return fmt.Errorf("removing %s: %w", StagePath, err)
	}
	return nil
}

// ExportTree copies the directories and regular files under dir in root to
// the host directory out (symlinks and special files are skipped); a
// missing dir copies nothing.
func ExportTree(ctx context.Context, root *os.Root, dir, out string) error {
	if _, err := root.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return fs.WalkDir(root.FS(), dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, dir), "/")
		target := filepath.Join(out, filepath.FromSlash(rel))
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			in, err := root.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			o, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			if _, err := io.Copy(o, ctxReader{ctx, in}); err != nil {
				o.Close()
				return err
			}
			return o.Close()
		}
		return nil
	})
}
