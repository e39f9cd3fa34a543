package container

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxSymlinks bounds symlink resolution, as the kernel does (ELOOP).
const maxSymlinks = 40

// cleanEntryName turns a tar entry name into a clean path relative to the
// layer root. Names that climb out of it ("..", "../x", "a/../../x") are
// refused; a leading "/" or "./" is dropped. "" means the root itself.
func cleanEntryName(name string) (string, error) {
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("entry %q: NUL in name", name)
	}
	rel := strings.TrimLeft(name, "/")
	for _, part := range strings.Split(rel, "/") {
		if part == ".." {
			return "", fmt.Errorf("entry %q: path traversal outside the layer root", name)
		}
	}
	rel = path.Clean(rel)
	if rel == "." {
		return "", nil
	}
	return rel, nil
}

// resolveInRoot returns the host path of rel inside root, following
// symlinks as if root were "/" (absolute targets and ".." stay inside
// root). The last component is followed only when followLast is true.
// Missing components end the resolution: the rest is appended as is.
func resolveInRoot(root, rel string, followLast bool) (string, error) {
	return walkInRoot(root, rel, followLast, false)
}

// mkdirInRoot is resolveInRoot for rel's parent, creating missing
// directories (0755) on the way; it returns the host path of rel itself,
// whose last component is not followed.
func mkdirInRoot(root, rel string) (string, error) {
	dir, base := path.Split(rel)
	hostDir, err := walkInRoot(root, dir, true, true)
	if err != nil {
		return "", err
	}
	return filepath.Join(hostDir, base), nil
}

func walkInRoot(root, rel string, followLast, create bool) (string, error) {
	todo := splitPath(rel)
	cur := "" // resolved, symlink-free, relative to root
	links := 0
	for len(todo) > 0 {
		comp := todo[0]
		todo = todo[1:]
		if comp == "." {
			continue
		}
		if comp == ".." {
			cur = path.Dir(cur)
			if cur == "." || cur == "/" {
				cur = ""
			}
			continue
		}
		next := path.Join(cur, comp)
		host := filepath.Join(root, next)
		fi, err := os.Lstat(host)
		if errors.Is(err, os.ErrNotExist) {
			if !create {
				return filepath.Join(root, next, path.Join(todo...)), nil
			}
			if err := os.Mkdir(host, 0o755); err != nil {
				return "", fmt.Errorf("creating %s: %w", next, err)
			}
			cur = next
			continue
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink != 0 && (len(todo) > 0 || followLast) {
			if links++; links > maxSymlinks {
				return "", fmt.Errorf("resolving %s: too many levels of symbolic links", rel)
			}
			target, err := os.Readlink(host)
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(target, "/") {
				cur = ""
			}
			todo = append(splitPath(target), todo...)
			continue
		}
		if len(todo) > 0 && !fi.IsDir() {
			return "", fmt.Errorf("resolving %s: %s is not a directory", rel, next)
		}
		cur = next
	}
	return filepath.Join(root, cur), nil
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
