package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/goldsmith/goldsmith/internal/mountinfo"
)

// Cleanup removes what sandboxes under scratchRoot left behind after a
// crash: runc containers named goldsmith-* whose bundle is under
// scratchRoot are killed and deleted, overlay mounts under scratchRoot are
// unmounted (lazily when busy), and the sandbox scratch directories (those
// Open created) are removed. Other files under scratchRoot are left alone.
// A sandbox's container bundle and overlay live in its scratch directory,
// which Open marks first and Close removes last: when no such directory is
// under scratchRoot there is nothing else to look for (no `runc list`).
func Cleanup(ctx context.Context, scratchRoot string) error {
	root, err := filepath.Abs(scratchRoot)
	if err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	dirs, err := sandboxDirs(root)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return nil
	}
	var errs []error
	ids, err := listContainers(ctx, root)
	if err != nil {
		errs = append(errs, err)
	}
	for _, id := range ids {
		slog.InfoContext(ctx, "cleanup: removing sandbox container", "id", id)
		killContainer(ctx, id)
		deleteContainer(ctx, id)
	}
	mounts, err := overlayMountsUnder(root)
	if err != nil {
		errs = append(errs, err)
	}
	for _, m := range mounts {
		slog.InfoContext(ctx, "cleanup: unmounting sandbox overlay", "target", m)
		if err := unmount(ctx, m); err != nil {
			errs = append(errs, fmt.Errorf("cleanup: %w", err))
		}
	}
	for _, d := range dirs {
		slog.InfoContext(ctx, "cleanup: removing sandbox scratch directory", "dir", d)
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, fmt.Errorf("cleanup: %w", err))
		}
	}
	return errors.Join(errs...)
}

// listContainers lists goldsmith containers whose bundle is under root.
func listContainers(ctx context.Context, root string) ([]string, error) {
	if _, err := os.Stat(StateRoot); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	out, err := exec.CommandContext(ctx, "runc", "--root", StateRoot, "list", "--format", "json").Output()
	if err != nil {
		return nil, fmt.Errorf("cleanup: runc list: %w", err)
	}
	var list []struct {
		ID     string `json:"id"`
		Bundle string `json:"bundle"`
	}
	if s := strings.TrimSpace(string(out)); s != "" && s != "null" {
		if err := json.Unmarshal(out, &list); err != nil {
			return nil, fmt.Errorf("cleanup: runc list: %w", err)
		}
	}
	var ids []string
	for _, c := range list {
		if strings.HasPrefix(c.ID, IDPrefix) && isUnder(c.Bundle, root) {
			ids = append(ids, c.ID)
		}
	}
	return ids, nil
}

func isUnder(p, root string) bool {
	return strings.HasPrefix(filepath.Clean(p), strings.TrimSuffix(root, "/")+"/")
}

// overlayMountsUnder lists overlay mount points strictly under root,
// deepest first.
func overlayMountsUnder(root string) ([]string, error) {
	mounts, err := mountinfo.Self()
	if err != nil {
		return nil, fmt.Errorf("cleanup: %w", err)
	}
	var overlays []mountinfo.Mount
	for _, m := range mounts {
		if m.FSType == "overlay" {
			overlays = append(overlays, m)
		}
	}
	return mountinfo.Under(overlays, root), nil
}

// sandboxDirs finds the scratch directories under root that Open created.
func sandboxDirs(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if _, err := os.Lstat(filepath.Join(p, markerFile)); err == nil {
			dirs = append(dirs, p)
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return dirs, fmt.Errorf("cleanup: finding sandbox directories: %w", err)
	}
	return dirs, nil
}
