package container

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Unpack applies one OCI layer tar (uncompressed or gzip) onto dir:
// ".wh.<name>" entries delete name, ".wh..wh..opq" empties its directory of
// everything the layer does not itself add, and the other entries are
// written with their modes, owners (when running as root), times and
// extended attributes. Entries whose names climb out of dir are refused, and
// symlinks met on the way are resolved inside dir.
func Unpack(ctx context.Context, layer io.Reader, dir string) error {
	root, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("unpacking layer: %w", err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return fmt.Errorf("unpacking layer: %s is not a directory", root)
	}
	br := bufio.NewReader(layer)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("unpacking layer: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	u := &unpacker{ctx: ctx, root: root, asRoot: os.Geteuid() == 0, written: map[string]bool{}}
	if err := u.run(tar.NewReader(r)); err != nil {
		return fmt.Errorf("unpacking layer into %s: %w", root, err)
	}
	return nil
}

type dirTimes struct {
	host  string
	mtime time.Time
}

type unpacker struct {
	ctx     context.Context
	root    string
	asRoot  bool
	written map[string]bool // entries this layer wrote, kept by opaque markers
	dirs    []dirTimes      // directory times, set last
}

func (u *unpacker) run(tr *tar.Reader) error {
	for {
		if err := u.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		rel, err := cleanEntryName(hdr.Name)
		if err != nil {
			return err
		}
		if err := u.entry(rel, hdr, tr); err != nil {
			return fmt.Errorf("entry %s: %w", hdr.Name, err)
		}
	}
	for i := len(u.dirs) - 1; i >= 0; i-- {
		d := u.dirs[i]
		if err := lutimes(d.host, d.mtime); err != nil {
			return fmt.Errorf("setting times of %s: %w", d.host, err)
		}
	}
	return nil
}

func (u *unpacker) entry(rel string, hdr *tar.Header, r io.Reader) error {
	dirRel, base := path.Split(rel)
	dirRel = strings.TrimSuffix(dirRel, "/")
	switch {
	case rel == "":
		if hdr.Typeflag != tar.TypeDir {
			return errors.New("the layer root must be a directory")
		}
		return u.applyMeta(u.root, hdr, true)
	case base == opaqueMarker:
		return u.opaque(dirRel)
	case strings.HasPrefix(base, whiteoutPrefix):
		name := strings.TrimPrefix(base, whiteoutPrefix)
		if name == "" || name == "." || name == ".." {
			return errors.New("malformed whiteout")
		}
		host, err := resolveInRoot(u.root, path.Join(dirRel, name), false)
		if err != nil {
			return err
		}
		if err := os.RemoveAll(host); err != nil {
			return fmt.Errorf("whiteout: %w", err)
		}
		return nil
	}
	host, err := mkdirInRoot(u.root, rel)
	if err != nil {
		return err
	}
	existing, err := os.Lstat(host)
	if err == nil && !(existing.IsDir() && hdr.Typeflag == tar.TypeDir) {
		if err := os.RemoveAll(host); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if existing == nil || !existing.IsDir() {
			if err := os.Mkdir(host, 0o700); err != nil {
				return err
			}
		}
	case tar.TypeReg, tar.TypeGNUSparse:
		f, err := os.OpenFile(host, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("writing: %w", err)
		}
	case tar.TypeSymlink:
		if err := os.Symlink(hdr.Linkname, host); err != nil {
			return err
		}
	case tar.TypeLink:
		targetRel, err := cleanEntryName(hdr.Linkname)
		if err != nil || targetRel == "" {
			return fmt.Errorf("hard link to %q outside the layer root", hdr.Linkname)
		}
		target, err := resolveInRoot(u.root, targetRel, false)
		if err != nil {
			return err
		}
		if err := os.Link(target, host); err != nil {
			return err
		}
		u.markWritten(rel)
		return nil // a hard link shares its target's metadata
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknod(host, kind|0o600, int(dev)); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	u.markWritten(rel)
	return u.applyMeta(host, hdr, hdr.Typeflag == tar.TypeDir)
}

// applyMeta sets owner, mode, extended attributes and times (for
// directories, times are set once everything is written).
func (u *unpacker) applyMeta(host string, hdr *tar.Header, isDir bool) error {
	if u.asRoot {
		if err := os.Lchown(host, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || strings.HasPrefix(name, overlayXattrPrefix) {
			continue
		}
		if err := unix.Lsetxattr(host, name, []byte(v), 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) || (!u.asRoot && errors.Is(err, unix.EPERM)) {
				slog.DebugContext(u.ctx, "extended attribute not kept", "path", hdr.Name, "xattr", name, "err", err)
				continue
			}
			return fmt.Errorf("setting xattr %s: %w", name, err)
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// after chown, which clears set-id bits
		if err := unix.Fchmodat(unix.AT_FDCWD, host, uint32(hdr.Mode&0o7777), 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if isDir {
		u.dirs = append(u.dirs, dirTimes{host: host, mtime: hdr.ModTime})
		return nil
	}
	if err := lutimes(host, hdr.ModTime); err != nil {
		return fmt.Errorf("setting times: %w", err)
	}
	return nil
}

// markWritten records rel and its parents as written by this layer.
func (u *unpacker) markWritten(rel string) {
	for ; rel != "." && rel != "" && !u.written[rel]; rel = path.Dir(rel) {
		u.written[rel] = true
	}
}

// opaque empties dirRel of everything this layer has not written.
func (u *unpacker) opaque(dirRel string) error {
	host, err := resolveInRoot(u.root, dirRel, true)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(host)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opaque directory: %w", err)
	}
	for _, e := range entries {
		if u.written[path.Join(dirRel, e.Name())] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(host, e.Name())); err != nil {
			return fmt.Errorf("opaque directory: %w", err)
		}
	}
	return nil
}

func lutimes(host string, mtime time.Time) error {
	t := unix.Timespec{Sec: mtime.Unix(), Nsec: int64(mtime.Nanosecond())}
	ts := []unix.Timespec{t, t}
	return unix.UtimesNanoAt(unix.AT_FDCWD, host, ts, unix.AT_SYMLINK_NOFOLLOW)
}
