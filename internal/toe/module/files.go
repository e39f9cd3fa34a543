package module

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// absPath resolves p against the working directory and makes it absolute.
func absPath(env *Env, p string) string {
	if p == "" {
		return p
	}
	if !filepath.IsAbs(p) {
		if env != nil && env.WorkDir != "" {
			p = filepath.Join(env.WorkDir, p)
		} else if a, err := filepath.Abs(p); err == nil {
			p = a
		}
	}
	return filepath.Clean(p)
}

// endsWithSep reports whether a path names a folder by its trailing separator.
func endsWithSep(p string) bool { return strings.HasSuffix(p, "/") }

// hasWildcard reports whether the last path segment contains '*'.
func hasWildcard(p string) bool { return strings.Contains(filepath.Base(p), "*") }

// checkWildcardPlacement reports a '*' outside the last path segment.
func checkWildcardPlacement(p *problems, fieldPath, s string) {
	if isExpr(s) {
		return
	}
	if dir, _ := filepath.Split(s); strings.Contains(dir, "*") {
		p.add(fieldPath, "wildcard * is only allowed in the last path segment, got %q", s)
	}
}

// matchStar matches name against a pattern in which only '*' is special
// (any run of characters, possibly empty).
func matchStar(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	for i, s := range parts {
		parts[i] = regexp.QuoteMeta(s)
	}
	re, err := regexp.Compile("^" + strings.Join(parts, ".*") + "$")
	return err == nil && re.MatchString(name)
}

// expand returns the paths matching a source with a wildcard in its last
// segment (sorted), or the path itself. want filters entries: files
// (non-folders) or folders.
func expand(src string, folders bool) ([]string, error) {
	if !hasWildcard(src) {
		return []string{src}, nil
	}
	dir, pattern := filepath.Split(src)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read folder %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries {
		if !matchStar(pattern, e.Name()) {
			continue
		}
		full := filepath.Join(dir, e.Name())
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			if fi, err := os.Stat(full); err == nil {
				isDir = fi.IsDir()
			}
		}
		if isDir == folders {
			out = append(out, full)
		}
	}
	sort.Strings(out)
	return out, nil
}

// forEachItem runs fn for every list-form input item, stopping at the
// first failure (earlier items are not rolled back).
func forEachItem(name string, in any, check func(any) []Problem, fn func(i int, it values) error) error {
	if err := errProblems(name, check(in)); err != nil {
		return err
	}
	list, err := items(in)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for i, it := range list {
		if err := fn(i, it); err != nil {
			return fmt.Errorf("%s: inputs[%d]: %w", name, i, err)
		}
	}
	return nil
}

// ------------------------------------------------------------------ CreateFile

type createFile struct{}

var createFileSpec = spec{
	{"path", kString, true}, {"content", kString, false}, {"encoding", kEncoding, false},
	{"owner", kOwner, false}, {"group", kOwner, false}, {"permissions", kPerm, false},
	{"overwrite", kBool, false},
}

func (createFile) Name() string { return "CreateFile" }

func (createFile) Check(in any) []Problem { return checkItems(in, createFileSpec, nil) }

func (m createFile) Run(_ context.Context, env *Env, in any) (Result, error) {
	return Result{}, forEachItem(m.Name(), in, m.Check, func(_ int, it values) error {
		p := absPath(env, it.str("path"))
		overwrite, err := it.boolean("overwrite", true)
		if err != nil {
			return err
		}
		enc, err := lookupEncoding(it.str("encoding"))
		if err != nil {
			return err
		}
		if fi, err := os.Lstat(p); err == nil {
			if fi.IsDir() {
				return fmt.Errorf("%s is a folder", p)
			}
			if !overwrite {
				return fmt.Errorf("file %s already exists and overwrite is false", p)
			}
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			return fmt.Errorf("create parent folders: %w", err)
		}
		if err := os.WriteFile(p, enc.encode(it.str("content")), 0o666); err != nil {
			return fmt.Errorf("write file: %w", err)
		}
		return applyAttrs(p, it)
	})
}

// applyAttrs applies the optional permissions, owner and group inputs.
func applyAttrs(p string, it values) error {
	if it.has("permissions") {
		bits, err := ParsePermissions(it.str("permissions"))
		if err != nil {
			return err
		}
		if err := chmodPath(p, bits, false); err != nil {
			return err
		}
	}
	uid, gid, err := ownership(it.str("owner"), it.str("group"))
	if err != nil {
		return err
	}
	return chownPath(p, uid, gid, false)
}

// ------------------------------------------------------------------ AppendFile

type appendFile struct{}

var appendFileSpec = spec{{"path", kString, true}, {"content", kString, false}, {"encoding", kEncoding, false}}

func (appendFile) Name() string { return "AppendFile" }

func (appendFile) Check(in any) []Problem { return checkItems(in, appendFileSpec, nil) }

func (m appendFile) Run(_ context.Context, env *Env, in any) (Result, error) {
	return Result{}, forEachItem(m.Name(), in, m.Check, func(_ int, it values) error {
		p := absPath(env, it.str("path"))
		enc, err := lookupEncoding(it.str("encoding"))
		if err != nil {
			return err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("file to append to: %w", err)
		}
		if fi.IsDir() {
			return fmt.Errorf("%s is a folder", p)
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		if _, err := f.Write(enc.encode(it.str("content"))); err != nil {
			_ = f.Close()
			return fmt.Errorf("append to %s: %w", p, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("close %s: %w", p, err)
		}
		return nil
	})
}

// ---------------------------------------------------------------- CreateFolder

type createFolder struct{}

var createFolderSpec = spec{
	{"path", kString, true}, {"owner", kOwner, false}, {"group", kOwner, false},
	{"permissions", kPerm, false}, {"overwrite", kBool, false},
}

func (createFolder) Name() string { return "CreateFolder" }

func (createFolder) Check(in any) []Problem { return checkItems(in, createFolderSpec, nil) }

// Run creates the folder and its parents. An existing folder is kept (its
// content untouched) unless overwrite is false, which is an error.
func (m createFolder) Run(_ context.Context, env *Env, in any) (Result, error) {
	return Result{}, forEachItem(m.Name(), in, m.Check, func(_ int, it values) error {
		p := absPath(env, it.str("path"))
		overwrite, err := it.boolean("overwrite", true)
		if err != nil {
			return err
		}
		if fi, err := os.Stat(p); err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s exists and is not a folder", p)
			}
			if !overwrite {
				return fmt.Errorf("folder %s already exists and overwrite is false", p)
			}
		}
		if err := os.MkdirAll(p, 0o777); err != nil {
			return fmt.Errorf("create folder: %w", err)
		}
		return applyAttrs(p, it)
	})
}

// --------------------------------------------------------------- CreateSymlink

type createSymlink struct{}

var createSymlinkSpec = spec{{"path", kString, true}, {"target", kString, true}, {"force", kBool, false}}

func (createSymlink) Name() string { return "CreateSymlink" }

func (createSymlink) Check(in any) []Problem { return checkItems(in, createSymlinkSpec, nil) }

func (m createSymlink) Run(_ context.Context, env *Env, in any) (Result, error) {
	return Result{}, forEachItem(m.Name(), in, m.Check, func(_ int, it values) error {
		link := absPath(env, it.str("path"))
		target := absPath(env, it.str("target"))
		force, err := it.boolean("force", false)
		if err != nil {
			return err
		}
		if _, err := os.Stat(target); err != nil {
			return fmt.Errorf("symlink target: %w", err)
		}
		if fi, err := os.Lstat(link); err == nil {
			if fi.Mode()&fs.ModeSymlink == 0 {
				return fmt.Errorf("%s exists and is not a symbolic link", link)
			}
			if !force {
				return fmt.Errorf("symbolic link %s already exists and force is false", link)
			}
			if err := os.Remove(link); err != nil {
				return fmt.Errorf("replace link: %w", err)
			}
		}
		if err := os.MkdirAll(filepath.Dir(link), 0o777); err != nil {
			return fmt.Errorf("create parent folders: %w", err)
		}
		if err := os.Symlink(target, link); err != nil {
			return fmt.Errorf("create link: %w", err)
		}
		return nil
	})
}

// ------------------------------------------------------------------ DeleteFile

type deleteFile struct{}

var deleteFileSpec = spec{{"path", kString, true}}

func (deleteFile) Name() string { return "DeleteFile" }

func (deleteFile) Check(in any) []Problem {
	return checkItems(in, deleteFileSpec, func(p *problems, path string, m map[string]any) {
		if s, ok := m["path"].(string); ok {
			checkWildcardPlacement(p, join(path, "path"), s)
		}
	})
}

// Run deletes the file, or every file (not folder) matching a wildcard in
// the file name. A file that does not exist is not an error.
func (m deleteFile) Run(_ context.Context, env *Env, in any) (Result, error) {
	return Result{}, forEachItem(m.Name(), in, m.Check, func(_ int, it values) error {
		p := absPath(env, it.str("path"))
		matches, err := expand(p, false)
		if err != nil {
			return err
		}
		for _, f := range matches {
			fi, err := os.Lstat(f)
			if errors.Is(err, fs.ErrNotExist) {
				env.logger().Info("file to delete does not exist", "path", f)
				continue
			}
			if err != nil {
				return fmt.Errorf("delete: %w", err)
			}
			if fi.IsDir() {
				return fmt.Errorf("%s is a folder (use DeleteFolder)", f)
			}
			if err := os.Remove(f); err != nil {
				return fmt.Errorf("delete: %w", err)
			}
		}
		return nil
	})
}

// ---------------------------------------------------------------- DeleteFolder

type deleteFolder struct{}

var deleteFolderSpec = spec{{"path", kString, true}, {"force", kBool, false}}

func (deleteFolder) Name() string { return "DeleteFolder" }

func (deleteFolder) Check(in any) []Problem { return checkItems(in, deleteFolderSpec, nil) }

// Run removes the folder; without force only an empty one. A folder that
// does not exist is not an error.
func (m deleteFolder) Run(_ context.Context, env *Env, in any) (Result, error) {
	return Result{}, forEachItem(m.Name(), in, m.Check, func(_ int, it values) error {
		p := absPath(env, it.str("path"))
		force, err := it.boolean("force", false)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			env.logger().Info("folder to delete does not exist", "path", p)
			return nil
		}
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a folder (use DeleteFile)", p)
		}
		if force {
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("delete: %w", err)
			}
			return nil
		}
		if err := os.Remove(p); err != nil {
			if entries, rerr := os.ReadDir(p); rerr == nil && len(entries) > 0 {
				return fmt.Errorf("folder %s is not empty and force is false", p)
			}
			return fmt.Errorf("delete: %w", err)
		}
		return nil
	})
}
