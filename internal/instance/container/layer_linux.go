package container

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// OCI layer markers (image-spec, layer.md).
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// overlay's own extended attributes, never part of a layer.
const (
	overlayXattrPrefix = "trusted.overlay."
	overlayOpaqueXattr = "trusted.overlay.opaque"
)

// WriteLayer writes upper/ as an uncompressed OCI layer tar. Overlay
// whiteouts (character devices 0/0) become ".wh.<name>" entries and opaque
// directories (trusted.overlay.opaque=y) get a ".wh..wh..opq" entry right
// after their own. Modes, owners, symlinks, hard links, devices and extended
// attributes (except trusted.overlay.*) are kept; modification times are
// kept to the second, clamped to Options.SourceDateEpoch when set. Entries
// come in a depth-first walk with names sorted, and owner names are left
// out, so the same upper/ always gives the same bytes.
func (s *Sandbox) WriteLayer(ctx context.Context, w io.Writer) error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.isClosed() {
		return errors.New("writing layer: sandbox closed")
	}
	s.releaseSession(ctx)
	if err := writeLayer(ctx, s.upper, w, s.opts.SourceDateEpoch); err != nil {
		return fmt.Errorf("writing layer of %s: %w", s.upper, err)
	}
	return nil
}

type layerWriter struct {
	ctx   context.Context
	root  string
	tw    *tar.Writer
	epoch time.Time
	links map[[2]uint64]string // (dev, inode) → first name, for hard links
}

// writeLayer writes the overlay upper directory dir as a layer tar to w.
func writeLayer(ctx context.Context, dir string, w io.Writer, epoch time.Time) error {
	lw := &layerWriter{ctx: ctx, root: dir, tw: tar.NewWriter(w), epoch: epoch, links: map[[2]uint64]string{}}
	if err := lw.walkDir(""); err != nil {
		return err
	}
	if err := lw.tw.Close(); err != nil {
		return fmt.Errorf("closing tar: %w", err)
	}
	return nil
}

func (lw *layerWriter) walkDir(rel string) error {
	f, err := os.Open(filepath.Join(lw.root, rel))
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("reading %s: %w", rel, err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := lw.ctx.Err(); err != nil {
			return err
		}
		if err := lw.entry(path.Join(rel, name)); err != nil {
			return err
		}
	}
	return nil
}

func (lw *layerWriter) mtime(st *unix.Stat_t) time.Time {
	t := time.Unix(st.Mtim.Sec, 0).UTC()
	if !lw.epoch.IsZero() && t.After(lw.epoch) {
		t = lw.epoch.Truncate(time.Second).UTC()
	}
	return t
}

func (lw *layerWriter) entry(rel string) error {
	host := filepath.Join(lw.root, rel)
	var st unix.Stat_t
	if err := unix.Lstat(host, &st); err != nil {
		return fmt.Errorf("stat %s: %w", rel, err)
	}
	hdr := &tar.Header{
		Name:    rel,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: lw.mtime(&st),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		if st.Rdev == 0 { // overlay whiteout
			dir, base := path.Split(rel)
			return lw.write(&tar.Header{Name: dir + whiteoutPrefix + base, Typeflag: tar.TypeReg, ModTime: hdr.ModTime}, "")
		}
		hdr.Typeflag = tar.TypeChar
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFBLK:
		hdr.Typeflag = tar.TypeBlock
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFLNK:
		target, err := os.Readlink(host)
		if err != nil {
			return fmt.Errorf("reading link %s: %w", rel, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
		if st.Nlink > 1 {
			key := [2]uint64{uint64(st.Dev), st.Ino}
			if first, ok := lw.links[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				lw.links[key] = rel
			}
		}
	case unix.S_IFSOCK:
		slog.DebugContext(lw.ctx, "socket left out of the layer", "path", rel)
		return nil
	default:
		return fmt.Errorf("%s: unsupported file type %o", rel, st.Mode&unix.S_IFMT)
	}
	xattrs, err := readXattrs(host)
	if err != nil {
		return fmt.Errorf("extended attributes of %s: %w", rel, err)
	}
	opaque := false
	for k, v := range xattrs {
		if k == overlayOpaqueXattr && v == "y" && hdr.Typeflag == tar.TypeDir {
			opaque = true
		}
		if strings.HasPrefix(k, overlayXattrPrefix) {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+k] = v
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		if err := lw.write(hdr, host); err != nil {
			return err
		}
	} else if err := lw.write(hdr, ""); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeDir {
		return nil
	}
	if opaque {
		if err := lw.write(&tar.Header{Name: rel + "/" + opaqueMarker, Typeflag: tar.TypeReg, ModTime: hdr.ModTime}, ""); err != nil {
			return err
		}
	}
	return lw.walkDir(rel)
}

// write writes hdr and, when contents is a path, the file's bytes.
func (lw *layerWriter) write(hdr *tar.Header, contents string) error {
	if err := lw.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("tar header %s: %w", hdr.Name, err)
	}
	if contents == "" {
		return nil
	}
	f, err := os.Open(contents)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(lw.tw, io.LimitReader(f, hdr.Size))
	if err != nil {
		return fmt.Errorf("copying %s: %w", hdr.Name, err)
	}
	if n != hdr.Size {
		return fmt.Errorf("copying %s: file shrank from %d to %d bytes while being read", hdr.Name, hdr.Size, n)
	}
	return nil
}

// readXattrs returns a file's extended attributes (not following symlinks).
func readXattrs(p string) (map[string]string, error) {
	size, err := unix.Llistxattr(p, nil)
	if errors.Is(err, unix.ENOTSUP) || size == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(p, buf)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		v, err := getXattr(p, name)
		if errors.Is(err, unix.ENODATA) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

func getXattr(p, name string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) {
			size, err := unix.Lgetxattr(p, name, nil)
			if err != nil {
				return "", err
			}
			buf = make([]byte, size+1)
			continue
		}
		if err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
}
