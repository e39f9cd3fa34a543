package dockerfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// copySpec is what one COPY/ADD writes with.
type copySpec struct {
	uid, gid int         // -1: keep (ADD archives), else the owner
	mode     os.FileMode // 0: keep the source's mode
}

// copyCmd executes COPY (add false) or ADD (add true) of build context files
// into the open sandbox. Sources and destinations are resolved with os.Root,
// so neither symlinks in the context nor symlinks in the image can make a
// copy read or write outside them (a destination through an absolute
// symlink in the image is refused rather than followed).
func (b *builder) copyCmd(ctx context.Context, srcs []string, dest, chown, chmod string, add bool) error {
	if b.o.ContextDir == "" {
		return errors.New("no build context to copy from")
	}
	for _, s := range srcs {
		if msg := checkSource(s); msg != "" {
			return errors.New(msg)
		}
	}
	src, err := os.OpenRoot(b.o.ContextDir)
	if err != nil {
		return fmt.Errorf("opening the build context: %w", err)
	}
	defer src.Close()
	dst, err := os.OpenRoot(b.sb.RootFS())
	if err != nil {
		return fmt.Errorf("opening the build root: %w", err)
	}
	defer dst.Close()

	spec := copySpec{uid: 0, gid: 0}
	if chown != "" {
		if spec.uid, spec.gid, err = lookupOwner(dst, chown); err != nil {
			return err
		}
	}
	if chmod != "" {
		m, err := strconv.ParseUint(chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return fmt.Errorf("--chmod=%s: only octal modes are supported", chmod)
		}
		spec.mode = fileMode(uint32(m))
	}
	var matches []string
	for _, s := range srcs {
		rel := relPath(s)
		if strings.ContainsAny(rel, "*?[") {
			m, err := fs.Glob(src.FS(), rel)
			if err != nil {
				return fmt.Errorf("source %q: %w", s, err)
			}
			if len(m) == 0 {
				return fmt.Errorf("source %q matches no file of the build context", s)
			}
			matches = append(matches, m...)
			continue
		}
		matches = append(matches, rel)
	}
	if !path.IsAbs(dest) {
		dest = path.Join(b.cwd(), dest)
	}
	destDir := strings.HasSuffix(dest, "/") || strings.HasSuffix(dest, "/.") || len(matches) > 1
	dest = path.Clean(dest)
	if st, err := dst.Stat(relPath(dest)); err == nil && st.IsDir() {
		destDir = true
	}
	if dest == StagePath {
		b.staged = true
	}
	for _, m := range matches {
		st, err := src.Stat(m)
		if err != nil {
			return fmt.Errorf("source %s: %w", m, err)
		}
		switch {
		case st.IsDir():
			err = copyTree(ctx, src, m, dst, dest, spec)
		case add && isArchive(src, m):
			err = extractArchive(ctx, src, m, dst, dest, spec, chown != "")
		default:
			target := dest
			if destDir {
				target = path.Join(dest, path.Base(m))
			}
			err = copyFile(ctx, src, m, st, dst, target, spec)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// relPath turns an absolute in-root path into the relative name os.Root
// wants ("." for the root).
func relPath(p string) string {
	r := strings.TrimPrefix(path.Clean("/"+p), "/")
	if r == "" {
		return "."
	}
	return r
}

func fileMode(m uint32) os.FileMode {
	mode := os.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	return mode
}

// mkdirAll creates an in-root directory and its parents (0755, root-owned
// for the ones it creates, as Docker).
func mkdirAll(root *os.Root, p string) error {
	r := relPath(p)
	if r == "." {
		return nil
	}
	return root.MkdirAll(r, 0o755)
}

// copyTree copies the contents of the context directory dir into dest.
func copyTree(ctx context.Context, src *os.Root, dir string, dst *os.Root, dest string, spec copySpec) error {
	return fs.WalkDir(src.FS(), dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, dir), "/")
		if dir == "." {
			rel = p
		}
		target := path.Join(dest, rel)
		if rel == "." {
			target = dest
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if target == dest {
				// The destination directory keeps its mode and owner
				// when it exists already.
				if st, err := dst.Stat(relPath(target)); err == nil && st.IsDir() {
					return nil
				}
			}
			if err := mkdirAll(dst, target); err != nil {
				return fmt.Errorf("creating %s: %w", target, err)
			}
			return finish(dst, target, info.Mode(), info.ModTime(), spec, false)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := src.Readlink(p)
			if err != nil {
				return err
			}
			if err := replace(dst, target); err != nil {
				return err
			}
			if err := dst.Symlink(link, relPath(target)); err != nil {
				return fmt.Errorf("creating %s: %w", target, err)
			}
			return finish(dst, target, 0, info.ModTime(), spec, true)
		case d.Type().IsRegular():
			return copyFile(ctx, src, p, info, dst, target, spec)
		default:
			return fmt.Errorf("%s: special files cannot be copied", p)
		}
	})
}

// copyFile copies one regular context file to target.
func copyFile(ctx context.Context, src *os.Root, p string, info fs.FileInfo, dst *os.Root, target string, spec copySpec) error {
	in, err := src.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeFile(ctx, in, dst, target, info.Mode(), info.ModTime(), spec)
}

// writeFile writes r to target through the root and sets mode, owner and
// modification time.
func writeFile(ctx context.Context, r io.Reader, dst *os.Root, target string, mode os.FileMode, mtime time.Time, spec copySpec) error {
	if err := mkdirAll(dst, path.Dir(target)); err != nil {
		return fmt.Errorf("creating %s: %w", path.Dir(target), err)
	}
	if err := replace(dst, target); err != nil {
		return err
	}
	out, err := dst.OpenFile(relPath(target), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", target, err)
	}
	if _, err := io.Copy(out, ctxReader{ctx, r}); err != nil {
		out.Close()
		return fmt.Errorf("writing %s: %w", target, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", target, err)
	}
	return finish(dst, target, mode, mtime, spec, false)
}

// replace removes a non-directory at target so it can be written anew.
func replace(dst *os.Root, target string) error {
	st, err := dst.Lstat(relPath(target))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case st.IsDir():
		return fmt.Errorf("%s is a directory", target)
	}
	return dst.Remove(relPath(target))
}

// finish sets mode (spec's when given), owner and mtime of target.
func finish(dst *os.Root, target string, mode os.FileMode, mtime time.Time, spec copySpec, symlink bool) error {
	r := relPath(target)
	if symlink {
		if spec.uid >= 0 {
			return dst.Lchown(r, spec.uid, spec.gid)
		}
		return nil
	}
	if spec.mode != 0 {
		mode = spec.mode
	}
	if err := dst.Chmod(r, mode&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
		return fmt.Errorf("chmod %s: %w", target, err)
	}
	if spec.uid >= 0 {
		if err := dst.Chown(r, spec.uid, spec.gid); err != nil {
			return fmt.Errorf("chown %s: %w", target, err)
		}
	}
	if err := dst.Chtimes(r, mtime, mtime); err != nil {
		return fmt.Errorf("chtimes %s: %w", target, err)
	}
	return nil
}

// lookupOwner resolves --chown=user[:group] against the image's
// /etc/passwd and /etc/group. A numeric user without a group gets the same
// numeric group; a named user without a group gets its primary group.
func lookupOwner(root *os.Root, chown string) (uid, gid int, err error) {
	user, group, hasGroup := strings.Cut(chown, ":")
	uid, primary, err := lookupID(root, "etc/passwd", user)
	if err != nil {
		return 0, 0, fmt.Errorf("--chown=%s: %w", chown, err)
	}
	if !hasGroup {
		return uid, primary, nil
	}
	gid, _, err = lookupID(root, "etc/group", group)
	if err != nil {
		return 0, 0, fmt.Errorf("--chown=%s: %w", chown, err)
	}
	return uid, gid, nil
}

// lookupID resolves a name or number in a passwd- or group-format file;
// primary is the passwd entry's group (or the number itself).
func lookupID(root *os.Root, file, name string) (id, primary int, err error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, n, nil
	}
	data, err := root.ReadFile(file)
	if err != nil {
		return 0, 0, fmt.Errorf("looking up %q: %w", name, err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 || f[0] != name {
			continue
		}
		id, err := strconv.Atoi(f[2])
		if err != nil {
			return 0, 0, fmt.Errorf("/%s: bad id for %q", file, name)
		}
		primary = id
		if len(f) >= 4 && file == "etc/passwd" {
			if g, err := strconv.Atoi(f[3]); err == nil {
				primary = g
			}
		}
		return id, primary, nil
	}
	return 0, 0, fmt.Errorf("%q is not in /%s", name, file)
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
