package module

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// resolveUser maps a user name or numeric id to uid and primary gid. A
// numeric id unknown to the user database is used as is, with gid -1
// (unchanged).
func resolveUser(s string) (uid, gid int, err error) {
	s = strings.TrimSpace(s)
	if isNumericID(s) {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("user id %q out of range", s)
		}
		gid = -1
		if u, err := user.LookupId(s); err == nil {
			if g, err := strconv.Atoi(u.Gid); err == nil {
				gid = g
			}
		}
		return int(n), gid, nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return 0, 0, fmt.Errorf("user %q does not exist: %w", s, err)
	}
	uid, err = strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, fmt.Errorf("user %q has non-numeric uid %q", s, u.Uid)
	}
	gid, err = strconv.Atoi(u.Gid)
	if err != nil {
		gid = -1
	}
	return uid, gid, nil
}

// resolveGroup maps a group name or numeric id to a gid.
func resolveGroup(s string) (int, error) {
	s = strings.TrimSpace(s)
	if isNumericID(s) {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("group id %q out of range", s)
		}
		return int(n), nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, fmt.Errorf("group %q does not exist: %w", s, err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("group %q has non-numeric gid %q", s, g.Gid)
	}
	return gid, nil
}

// ownership resolves owner/group inputs to ids. Without a group, the
// owner's primary group is used; without an owner, only the group changes.
// (-1, -1) means nothing to do.
func ownership(owner, group string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if owner != "" {
		if uid, gid, err = resolveUser(owner); err != nil {
			return 0, 0, err
		}
	}
	if group != "" {
		if gid, err = resolveGroup(group); err != nil {
			return 0, 0, err
		}
	}
	return uid, gid, nil
}

// chownPath changes the owner of path (following a symlink at path itself)
// and, when recursive, of everything below it (symlinks below are changed
// themselves, not followed).
func chownPath(path string, uid, gid int, recursive bool) error {
	if uid == -1 && gid == -1 {
		return nil
	}
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	if !recursive {
		return nil
	}
	return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if p == path {
			return nil
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", p, err)
		}
		return nil
	})
}

// fileMode converts unix permission bits (including setuid, setgid and
// sticky) to an os.FileMode.
func fileMode(bits uint32) os.FileMode {
	m := os.FileMode(bits & 0o777)
	if bits&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if bits&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if bits&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}

// chmodPath sets permissions on path and, when recursive, on every file and
// folder below it (symlinks are skipped: chmod would follow them). Entries
// are changed deepest first so that removing a folder's search permission
// does not stop the walk.
func chmodPath(path string, bits uint32, recursive bool) error {
	mode := fileMode(bits)
	paths := []string{path}
	if recursive {
		err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("walk %s: %w", p, err)
			}
			if p != path && d.Type()&fs.ModeSymlink == 0 {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for i := len(paths) - 1; i >= 0; i-- {
		if err := os.Chmod(paths[i], mode); err != nil {
			return fmt.Errorf("chmod %s: %w", paths[i], err)
		}
	}
	return nil
}
