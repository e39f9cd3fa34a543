package base

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
)

// sanitizeGlobs are the paths (fs.Glob patterns inside the root
// filesystem) a golden image must not carry: host-specific identity (SSH
// host keys, the random seed, DHCP leases, cloud-init's instance state, the
// build host's resolv.conf), apt's package lists and caches, and leftovers
// of the build (temporary files, backup files, shell history).
var sanitizeGlobs = []string{
	"etc/ssh/ssh_host_*",
	"etc/resolv.conf",
	"var/lib/apt/lists/*_*",
	"var/lib/apt/lists/partial/*",
	"var/lib/apt/lists/auxfiles/*",
	"var/cache/apt/*.bin",
	"var/cache/apt/archives/*.deb",
	"var/cache/apt/archives/partial/*",
	"var/cache/debconf/*-old",
	"var/lib/dpkg/*-old",
	"var/lib/dhcp/*",
	"var/lib/cloud/*",
	"var/lib/systemd/random-seed",
	"tmp/*",
	"var/tmp/*",
	"root/.bash_history",
}

// sanitizeRootfs makes the root filesystem at dir a golden image: an empty
// /etc/machine-id (systemd makes a new one on first boot), no SSH host keys,
// no apt lists, no log files (directories stay), and nothing from
// sanitizeGlobs. It does not follow symlinks out of dir.
func sanitizeRootfs(dir string) error {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("sanitize rootfs: %w", err)
	}
	defer r.Close()
	if err := writeInRoot(r, "etc/machine-id", nil, 0o444); err != nil {
		return fmt.Errorf("sanitize rootfs: %w", err)
	}
	// dbus's copy, when it is a file of its own (a symlink to
	// /etc/machine-id is fine).
	if st, err := r.Lstat("var/lib/dbus/machine-id"); err == nil && st.Mode().IsRegular() {
		if err := r.Remove("var/lib/dbus/machine-id"); err != nil {
			return fmt.Errorf("sanitize rootfs: %w", err)
		}
	}
	fsys := r.FS()
	for _, pat := range sanitizeGlobs {
		matches, err := fs.Glob(fsys, pat)
		if err != nil {
			return fmt.Errorf("sanitize rootfs: %s: %w", pat, err)
		}
		for _, m := range matches {
			if err := r.RemoveAll(m); err != nil {
				return fmt.Errorf("sanitize rootfs: remove %s: %w", m, err)
			}
		}
	}
	if err := removeFilesUnder(r, "var/log"); err != nil {
		return fmt.Errorf("sanitize rootfs: %w", err)
	}
	return nil
}

// removeFilesUnder removes every non-directory below dir in r, keeping the
// directories (packages expect /var/log/apt and the like to exist).
func removeFilesUnder(r *os.Root, dir string) error {
	var files []string
	err := fs.WalkDir(r.FS(), dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return fs.SkipAll
			}
			return err
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("walk %s: %w", dir, err)
	}
	for _, f := range files {
		if err := r.Remove(path.Clean(f)); err != nil {
			return fmt.Errorf("remove %s: %w", f, err)
		}
	}
	return nil
}
