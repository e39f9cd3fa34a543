package container

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Cleanup removes what sandboxes under scratchRoot left behind after a
// crash: runc containers named goldsmith-* whose bundle is under
// scratchRoot are killed and deleted, overlay mounts under scratchRoot are
// unmounted (lazily when busy), and the sandbox scratch directories (those
// Open created) are removed. Other files under scratchRoot are left alone.
func Cleanup(ctx context.Context, scratchRoot string) error {
	root, err := filepath.Abs(scratchRoot)
	if err != nil {
		return fmt.Errorf("cleanup: %w", err)
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
	dirs, err := sandboxDirs(root)
	if err != nil {
		errs = append(errs, err)
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
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("cleanup: %w", err)
	}
	defer f.Close()
	mounts, err := parseMountinfo(f)
	if err != nil {
		return nil, fmt.Errorf("cleanup: %w", err)
	}
	var out []string
	for _, m := range mounts {
		if m.fstype == "overlay" && isUnder(m.target, root) {
			out = append(out, m.target)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}

type mountInfo struct{ target, fstype string }

// parseMountinfo reads /proc/<pid>/mountinfo (proc(5)): the mount point is
// field 5 (octal-escaped), the file system type follows the "-" separator.
func parseMountinfo(r io.Reader) ([]mountInfo, error) {
	var out []mountInfo
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 7 {
			continue
		}
		sep := -1
		for i := 6; i < len(fields); i++ {
			if fields[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+1 >= len(fields) {
			continue
		}
		out = append(out, mountInfo{target: unescapeOctal(fields[4]), fstype: fields[sep+1]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	return out, nil
}

// unescapeOctal undoes the kernel's \ooo escapes (space, tab, newline, \).
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
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
