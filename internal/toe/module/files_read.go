package module

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ------------------------------------------------------------------- ListFiles

type listFiles struct{}

var listFilesSpec = spec{{"path", kString, true}, {"fileNamePattern", kString, false}, {"recursive", kBool, false}}

func (listFiles) Name() string { return "ListFiles" }

func (listFiles) Check(in any) []Problem { return checkItems(in, listFilesSpec, nil) }

// Run lists the files (not folders) in a folder, optionally recursively and
// filtered by a file-name pattern with '*'. Output files: the paths joined
// with commas (all items together).
func (m listFiles) Run(_ context.Context, env *Env, in any) (Result, error) {
	var all []string
	err := forEachItem(m.Name(), in, m.Check, func(_ int, it values) error {
		root := absPath(env, it.str("path"))
		recursive, err := it.boolean("recursive", false)
		if err != nil {
			return err
		}
		pattern := it.str("fileNamePattern")
		fi, err := os.Stat(root)
		if err != nil {
			return fmt.Errorf("folder to list: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a folder", root)
		}
		return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("list %s: %w", p, err)
			}
			if p == root {
				return nil
			}
			if d.IsDir() {
				if !recursive {
					return filepath.SkipDir
				}
				return nil
			}
			if pattern == "" || matchStar(pattern, d.Name()) {
				all = append(all, p)
			}
			return nil
		})
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Outputs: map[string]any{"files": strings.Join(all, ",")}}, nil
}

// -------------------------------------------------------------------- ReadFile

type readFile struct{}

var readFileSpec = spec{{"path", kString, true}, {"encoding", kEncoding, false}, {"printFileContent", kBool, false}}

func (readFile) Name() string { return "ReadFile" }

func (readFile) Check(in any) []Problem { return checkItems(in, readFileSpec, nil) }

// Run reads a text file (following symlinks) and decodes it. Output
// content; with several items the contents are joined with "\n".
func (m readFile) Run(_ context.Context, env *Env, in any) (Result, error) {
	var contents []string
	err := forEachItem(m.Name(), in, m.Check, func(_ int, it values) error {
		p := absPath(env, it.str("path"))
		enc, err := lookupEncoding(it.str("encoding"))
		if err != nil {
			return err
		}
		printIt, err := it.boolean("printFileContent", false)
		if err != nil {
			return err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("file to read: %w", err)
		}
		if fi.IsDir() {
			return fmt.Errorf("%s is a folder", p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		text, err := enc.decode(data)
		if err != nil {
			return fmt.Errorf("decode %s as %s: %w", p, enc.name, err)
		}
		if printIt {
			out := env.stdout()
			_, _ = io.WriteString(out, text)
			if !strings.HasSuffix(text, "\n") {
				_, _ = io.WriteString(out, "\n")
			}
		}
		contents = append(contents, text)
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Outputs: map[string]any{"content": strings.Join(contents, "\n")}}, nil
}

// ------------------------------------------------------------- SetFileEncoding

type setFileEncoding struct{}

var setFileEncodingSpec = spec{{"path", kString, true}, {"encoding", kEncoding, false}}

func (setFileEncoding) Name() string { return "SetFileEncoding" }

func (setFileEncoding) Check(in any) []Problem { return checkItems(in, setFileEncodingSpec, nil) }

// Run re-encodes a file. The current encoding is taken from its byte order
// mark (UTF-16/32) or assumed to be UTF-8; the result has no byte order mark.
func (m setFileEncoding) Run(_ context.Context, env *Env, in any) (Result, error) {
	return Result{}, forEachItem(m.Name(), in, m.Check, func(_ int, it values) error {
		p := absPath(env, it.str("path"))
		enc, err := lookupEncoding(it.str("encoding"))
		if err != nil {
			return err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("file to re-encode: %w", err)
		}
		if fi.IsDir() {
			return fmt.Errorf("%s is a folder", p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		from := detectEncoding(data)
		text, err := from.decode(data)
		if err != nil {
			return fmt.Errorf("decode %s as %s: %w", p, from.name, err)
		}
		if err := os.WriteFile(p, enc.encode(text), fi.Mode().Perm()); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	})
}

// ------------------------------------------------------ SetFileOwner/FolderOwner

type setOwner struct{ folder bool }

func (s setOwner) Name() string {
	if s.folder {
		return "SetFolderOwner"
	}
	return "SetFileOwner"
}

func (s setOwner) spec() spec {
	sp := spec{{"path", kString, true}, {"owner", kOwner, true}, {"group", kOwner, false}}
	if s.folder {
		sp = append(sp, field{"recursive", kBool, false})
	}
	return sp
}

func (s setOwner) Check(in any) []Problem { return checkItems(in, s.spec(), nil) }

// Run changes owner and group (default: the owner's primary group). A
// symlink path changes its target. Folders are recursive by default.
func (s setOwner) Run(_ context.Context, env *Env, in any) (Result, error) {
	return Result{}, forEachItem(s.Name(), in, s.Check, func(_ int, it values) error {
		p := absPath(env, it.str("path"))
		recursive, err := it.boolean("recursive", true)
		if err != nil {
			return err
		}
		if err := s.checkKind(p); err != nil {
			return err
		}
		uid, gid, err := ownership(it.str("owner"), it.str("group"))
		if err != nil {
			return err
		}
		return chownPath(p, uid, gid, s.folder && recursive)
	})
}

func (s setOwner) checkKind(p string) error { return checkKind(p, s.folder) }

// checkKind requires p to exist and be a folder (or not).
func checkKind(p string, folder bool) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("path: %w", err)
	}
	if folder && !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", p)
	}
	if !folder && fi.IsDir() {
		return fmt.Errorf("%s is a folder", p)
	}
	return nil
}

// --------------------------------------------- SetFilePermissions/FolderPermissions

type setPermissions struct{ folder bool }

func (s setPermissions) Name() string {
	if s.folder {
		return "SetFolderPermissions"
	}
	return "SetFilePermissions"
}

func (s setPermissions) spec() spec {
	sp := spec{{"path", kString, true}, {"permissions", kPerm, true}}
	if s.folder {
		sp = append(sp, field{"recursive", kBool, false})
	}
	return sp
}

func (s setPermissions) Check(in any) []Problem { return checkItems(in, s.spec(), nil) }

// Run sets octal permissions; folders are recursive by default.
func (s setPermissions) Run(_ context.Context, env *Env, in any) (Result, error) {
	return Result{}, forEachItem(s.Name(), in, s.Check, func(_ int, it values) error {
		p := absPath(env, it.str("path"))
		recursive, err := it.boolean("recursive", true)
		if err != nil {
			return err
		}
		if err := checkKind(p, s.folder); err != nil {
			return err
		}
		bits, err := ParsePermissions(it.str("permissions"))
		if err != nil {
			return err
		}
		return chmodPath(p, bits, s.folder && recursive)
	})
}
