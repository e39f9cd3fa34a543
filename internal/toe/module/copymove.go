package module

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// transfer implements CopyFile, CopyFolder, MoveFile and MoveFolder.
type transfer struct {
	move   bool
	folder bool
}

var transferSpec = spec{{"source", kString, true}, {"destination", kString, true}, {"overwrite", kBool, false}}

func (t transfer) Name() string {
	verb, noun := "Copy", "File"
	if t.move {
		verb = "Move"
	}
	if t.folder {
		noun = "Folder"
	}
	return verb + noun
}

func (t transfer) what() string {
	if t.folder {
		return "folder"
	}
	return "file"
}

func (t transfer) Check(in any) []Problem {
	return checkItems(in, transferSpec, func(p *problems, path string, m map[string]any) {
		if s, ok := m["source"].(string); ok {
			checkWildcardPlacement(p, join(path, "source"), s)
		}
		if s, ok := m["destination"].(string); ok && !isExpr(s) && strings.Contains(s, "*") {
			p.add(join(path, "destination"), "must not contain a wildcard, got %q", s)
		}
	})
}

// Run copies or moves each source. A wildcard in the source's last segment
// selects every matching file (or folder) and makes the destination a
// folder. A destination ending with "/" is a folder that receives the
// source under its own name; otherwise the destination is the new name —
// except that a file copied or moved onto an existing folder lands inside
// it. Missing destination folders are created. An existing target is
// replaced unless overwrite is false (then it is an error); a folder target
// is replaced as a whole, not merged.
func (t transfer) Run(_ context.Context, env *Env, in any) (Result, error) {
	return Result{}, forEachItem(t.Name(), in, t.Check, func(_ int, it values) error {
		overwrite, err := it.boolean("overwrite", true)
		if err != nil {
			return err
		}
		src := absPath(env, it.str("source"))
		dstRaw := it.str("destination")
		dst := absPath(env, dstRaw)
		wild := hasWildcard(src)
		matches, err := expand(src, t.folder)
		if err != nil {
			return err
		}
		if wild && len(matches) == 0 {
			return fmt.Errorf("no %s matches %s", t.what(), src)
		}
		intoFolder := endsWithSep(dstRaw) || wild
		for _, s := range matches {
			fi, err := os.Stat(s)
			if err != nil {
				return fmt.Errorf("source %s: %w", t.what(), err)
			}
			if fi.IsDir() != t.folder {
				if t.folder {
					return fmt.Errorf("source %s is not a folder", s)
				}
				return fmt.Errorf("source %s is a folder (use %sFolder)", s, map[bool]string{true: "Move", false: "Copy"}[t.move])
			}
			target := dst
			if intoFolder {
				target = filepath.Join(dst, filepath.Base(s))
			} else if !t.folder {
				if di, err := os.Stat(dst); err == nil && di.IsDir() {
					target = filepath.Join(dst, filepath.Base(s))
				}
			}
			if err := t.one(env, s, fi, target, overwrite); err != nil {
				return err
			}
		}
		return nil
	})
}

// one transfers a single file or folder to its final path.
func (t transfer) one(env *Env, src string, srcInfo fs.FileInfo, target string, overwrite bool) error {
	if t.folder && (target == src || strings.HasPrefix(target, src+string(filepath.Separator))) {
		return fmt.Errorf("cannot %s folder %s into itself (%s)", strings.ToLower(t.Name()[:4]), src, target)
	}
	if ti, err := os.Lstat(target); err == nil {
		if si, err := os.Stat(target); err == nil && os.SameFile(si, srcInfo) {
			return fmt.Errorf("source and destination are the same %s: %s", t.what(), target)
		}
		switch {
		case ti.IsDir() && !t.folder:
			return fmt.Errorf("a folder named %s already exists", target)
		case !ti.IsDir() && t.folder:
			return fmt.Errorf("%s already exists and is not a folder", target)
		case !overwrite:
			return fmt.Errorf("%s %s already exists and overwrite is false", t.what(), target)
		}
		if t.folder {
			if err := os.RemoveAll(target); err != nil {
				return fmt.Errorf("replace folder %s: %w", target, err)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("destination: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o777); err != nil {
		return fmt.Errorf("create destination folders: %w", err)
	}
	if t.move {
		err := os.Rename(src, target)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EXDEV) {
			return fmt.Errorf("move %s to %s: %w", src, target, err)
		}
		// Different file systems: copy, then remove the source.
		if err := copyAny(env, src, srcInfo, target); err != nil {
			return err
		}
		if err := os.RemoveAll(src); err != nil {
			return fmt.Errorf("remove moved source %s: %w", src, err)
		}
		return nil
	}
	return copyAny(env, src, srcInfo, target)
}

func copyAny(env *Env, src string, fi fs.FileInfo, dst string) error {
	if fi.IsDir() {
		return copyTree(env, src, dst)
	}
	return copyRegular(src, dst, fi.Mode().Perm())
}

// copyRegular copies file content (following symlinks) and permissions.
func copyRegular(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open source: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("close %s: %w", dst, err)
	}
	if err := os.Chmod(dst, perm); err != nil {
		return fmt.Errorf("chmod %s: %w", dst, err)
	}
	return nil
}

// copyTree copies a folder recursively; symlinks inside are recreated as
// symlinks, special files are skipped.
func copyTree(env *Env, src, dst string) error {
	type dirMode struct {
		path string
		mode fs.FileMode
	}
	var dirs []dirMode
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o700); err != nil {
				return fmt.Errorf("create folder %s: %w", target, err)
			}
			dirs = append(dirs, dirMode{target, info.Mode().Perm()})
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("read link %s: %w", p, err)
			}
			if err := os.Symlink(link, target); err != nil {
				return fmt.Errorf("create link %s: %w", target, err)
			}
			return nil
		case d.Type().IsRegular():
			return copyRegular(p, target, info.Mode().Perm())
		default:
			env.logger().Warn("skipping special file", "path", p)
			return nil
		}
	})
	if err != nil {
		return err
	}
	// Folder permissions last (deepest first), once the content is in place.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i].path, dirs[i].mode); err != nil {
			return fmt.Errorf("chmod %s: %w", dirs[i].path, err)
		}
	}
	return nil
}
