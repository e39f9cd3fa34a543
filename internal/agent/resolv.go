package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// resolvBackup is a resolv.conf replaced for the build; the original (file
// or symlink) is kept on the image's disk, so that a crash before restore
// is repaired on the next boot.
type resolvBackup struct {
	target, backup, none string
}

// replaceResolvConf moves target (the image's /etc/resolv.conf) aside into
// dir and writes content in its place. An earlier backup left by a crash is
// restored first.
func replaceResolvConf(dir, target, content string) (*resolvBackup, error) {
	b := &resolvBackup{target: target, backup: filepath.Join(dir, "resolv.conf.orig"), none: filepath.Join(dir, "resolv.conf.none")}
	if err := b.restore(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("resolv.conf backup: %w", err)
	}
	if _, err := os.Lstat(target); err == nil {
		if err := os.Rename(target, b.backup); err != nil {
			return nil, fmt.Errorf("resolv.conf backup: %w", err)
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(b.none, nil, 0o600); err != nil {
			return nil, fmt.Errorf("resolv.conf backup: %w", err)
		}
	} else {
		return nil, fmt.Errorf("resolv.conf: %w", err)
	}
	if err := os.WriteFile(target, []byte(content), 0o644); err != nil {
		return nil, fmt.Errorf("writing resolv.conf: %w", err)
	}
	return b, nil
}

// restore puts the original resolv.conf back (nothing to do without a
// backup).
func (b *resolvBackup) restore() error {
	if _, err := os.Lstat(b.backup); err == nil {
		if err := os.Remove(b.target); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restoring resolv.conf: %w", err)
		}
		if err := os.Rename(b.backup, b.target); err != nil {
			return fmt.Errorf("restoring resolv.conf: %w", err)
		}
		return nil
	}
	if _, err := os.Lstat(b.none); err == nil {
		if err := os.Remove(b.target); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restoring resolv.conf: %w", err)
		}
		return os.Remove(b.none)
	}
	return nil
}
