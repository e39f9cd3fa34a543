package vm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
)

// Ext4 reads an ext2/3/4 filesystem inside a raw disk image through
// debugfs (e2fsprogs), without mounting anything.
type Ext4 struct {
	raw    string
	offset int64
}

// OpenExt4 returns a reader for the filesystem at byte offset of raw.
func OpenExt4(raw string, offset int64) *Ext4 { return &Ext4{raw: raw, offset: offset} }

// Offset is the filesystem's byte offset in the raw image.
func (e *Ext4) Offset() int64 { return e.offset }

// maxSymlinks bounds symlink resolution (as the kernel's 40).
const maxSymlinks = 40

// debugfs runs one request and returns stdout; any stderr line other than
// the version banner is an error (debugfs exits 0 on most failures).
func (e *Ext4) debugfs(ctx context.Context, request string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "debugfs", "-R", request, e.raw+"?offset="+strconv.FormatInt(e.offset, 10))
	cmd.Env = append(os.Environ(), "DEBUGFS_PAGER=__none__", "PAGER=__none__")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("debugfs %q: %w: %s", request, ctxErr(ctx, err), strings.TrimSpace(stderr.String()))
	}
	var msgs []string
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "debugfs ") {
			msgs = append(msgs, l)
		}
	}
	if len(msgs) > 0 {
		return nil, fmt.Errorf("debugfs %q: %s", request, strings.Join(msgs, "; "))
	}
	return stdout.Bytes(), nil
}

// quote makes p one debugfs argument.
func quote(p string) (string, error) {
	if strings.ContainsAny(p, "\"\n\x00") {
		return "", fmt.Errorf("path %q cannot be passed to debugfs", p)
	}
	return `"` + p + `"`, nil
}

type inodeInfo struct {
	typ    string // regular, directory, symlink, ...
	target string // fast symlink target
}

func (e *Ext4) stat(ctx context.Context, p string) (inodeInfo, error) {
	q, err := quote(p)
	if err != nil {
		return inodeInfo{}, err
	}
	out, err := e.debugfs(ctx, "stat "+q)
	if err != nil {
		return inodeInfo{}, err
	}
	var info inodeInfo
	for _, l := range strings.Split(string(out), "\n") {
		if i := strings.Index(l, "Type: "); i >= 0 && strings.HasPrefix(l, "Inode:") {
			if f := strings.Fields(l[i+len("Type: "):]); len(f) > 0 {
				info.typ = f[0]
			}
		}
		if t, ok := strings.CutPrefix(l, "Fast link dest: "); ok {
			if u, err := strconv.Unquote(t); err == nil {
				info.target = u
			} else {
				info.target = strings.Trim(t, `"`)
			}
		}
	}
	if info.typ == "" {
		return inodeInfo{}, fmt.Errorf("debugfs stat %s: no inode type in output", p)
	}
	return info, nil
}

// resolve follows symlinks in the last component (debugfs itself follows
// them in the directory part), relative ones from the link's directory and
// absolute ones from the filesystem root.
func (e *Ext4) resolve(ctx context.Context, p string) (string, inodeInfo, error) {
	p = path.Clean("/" + p)
	for range maxSymlinks {
		info, err := e.stat(ctx, p)
		if err != nil {
			return "", inodeInfo{}, err
		}
		if info.typ != "symlink" {
			return p, info, nil
		}
		target := info.target
		if target == "" { // slow symlink: the target is the inode's data
			q, err := quote(p)
			if err != nil {
				return "", inodeInfo{}, err
			}
			out, err := e.debugfs(ctx, "cat "+q)
			if err != nil {
				return "", inodeInfo{}, fmt.Errorf("reading symlink %s: %w", p, err)
			}
			target = string(out)
		}
		if strings.HasPrefix(target, "/") {
			p = path.Clean(target)
		} else {
			p = path.Clean(path.Join(path.Dir(p), target))
		}
	}
	return "", inodeInfo{}, fmt.Errorf("%s: too many levels of symbolic links", p)
}

// ReadFile returns a regular file's contents, following symlinks inside
// the filesystem.
func (e *Ext4) ReadFile(ctx context.Context, p string) ([]byte, error) {
	rp, info, err := e.resolve(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if info.typ != "regular" {
		return nil, fmt.Errorf("reading %s: %s is a %s, not a regular file", p, rp, info.typ)
	}
	q, err := quote(rp)
	if err != nil {
		return nil, err
	}
	out, err := e.debugfs(ctx, "cat "+q)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return out, nil
}

// ReadDir lists a directory's entry names (without "." and ".."), sorted
// as debugfs returns them (directory order).
func (e *Ext4) ReadDir(ctx context.Context, p string) ([]string, error) {
	rp, info, err := e.resolve(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", p, err)
	}
	if info.typ != "directory" {
		return nil, fmt.Errorf("listing %s: %s is a %s, not a directory", p, rp, info.typ)
	}
	q, err := quote(rp)
	if err != nil {
		return nil, err
	}
	out, err := e.debugfs(ctx, "ls -p "+q)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", p, err)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		// /inode/mode/uid/gid/name/size/
		f := strings.Split(l, "/")
		if len(f) < 7 || f[5] == "." || f[5] == ".." || f[1] == "0" {
			continue
		}
		names = append(names, f[5])
	}
	return names, nil
}

// Exists reports whether p exists (following symlinks).
func (e *Ext4) Exists(ctx context.Context, p string) bool {
	_, _, err := e.resolve(ctx, p)
	return err == nil
}

// Copy writes the regular file p (symlinks followed) to the host path dst.
func (e *Ext4) Copy(ctx context.Context, p, dst string) error {
	rp, info, err := e.resolve(ctx, p)
	if err != nil {
		return fmt.Errorf("copying %s: %w", p, err)
	}
	if info.typ != "regular" {
		return fmt.Errorf("copying %s: %s is a %s, not a regular file", p, rp, info.typ)
	}
	qs, err := quote(rp)
	if err != nil {
		return err
	}
	qd, err := quote(dst)
	if err != nil {
		return err
	}
	if _, err := e.debugfs(ctx, "dump "+qs+" "+qd); err != nil {
		return fmt.Errorf("copying %s to %s: %w", p, dst, err)
	}
	if _, err := os.Stat(dst); err != nil {
		return fmt.Errorf("copying %s to %s: %w", p, dst, err)
	}
	return nil
}

// ext4Superblock returns the filesystem UUID when offset holds an ext2/3/4
// superblock (magic 0xEF53), else ok=false.
func ext4Superblock(f *os.File, offset int64) (uuid string, ok bool) {
	sb := make([]byte, 1024)
	if _, err := f.ReadAt(sb, offset+1024); err != nil {
		return "", false
	}
	if binary.LittleEndian.Uint16(sb[0x38:]) != 0xef53 {
		return "", false
	}
	u := sb[0x68 : 0x68+16]
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), true
}

// ErrNoRoot is returned by FindRoot when no ext filesystem holds /etc/os-release.
var ErrNoRoot = errors.New("no ext2/3/4 filesystem with /etc/os-release found")

// FindRoot returns the ext4 filesystem (a partition or the whole disk)
// that holds /etc/os-release, its partition (nil for a bare filesystem)
// and the filesystem UUID.
func FindRoot(ctx context.Context, raw string) (*Ext4, *Partition, string, error) {
	f, err := os.Open(raw)
	if err != nil {
		return nil, nil, "", fmt.Errorf("finding root filesystem: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, "", fmt.Errorf("finding root filesystem: %w", err)
	}
	parts, err := Partitions(f, st.Size())
	if err != nil {
		return nil, nil, "", fmt.Errorf("finding root filesystem in %s: %w", raw, err)
	}
	type candidate struct {
		offset int64
		part   *Partition
	}
	var cands []candidate
	for i := range parts {
		cands = append(cands, candidate{parts[i].Start, &parts[i]})
	}
	if len(parts) == 0 {
		cands = append(cands, candidate{0, nil})
	}
	for _, c := range cands {
		uuid, ok := ext4Superblock(f, c.offset)
		if !ok {
			continue
		}
		fs := OpenExt4(raw, c.offset)
		if fs.Exists(ctx, "/etc/os-release") {
			return fs, c.part, uuid, nil
		}
		if ctx.Err() != nil {
			return nil, nil, "", ctx.Err()
		}
	}
	return nil, nil, "", fmt.Errorf("%s: %w", raw, ErrNoRoot)
}

// RawView gives a raw file for any image: path itself for an unencrypted
// raw image, else a sparse qemu-img convert to raw in dir. close removes
// the temporary file (and is a no-op for raw).
func RawView(ctx context.Context, p, format string, secret []byte, dir string) (raw string, closeFn func(), err error) {
	if format == "raw" && secret == nil {
		return p, func() {}, nil
	}
	f, err := os.CreateTemp(dir, "rawview-*.raw")
	if err != nil {
		return "", nil, fmt.Errorf("raw view of %s: %w", p, err)
	}
	name := f.Name()
	f.Close()
	if err := Convert(ctx, p, format, name, "raw", ConvertOptions{SrcSecret: secret}); err != nil {
		_ = os.Remove(name)
		return "", nil, fmt.Errorf("raw view of %s: %w", p, err)
	}
	return name, func() { _ = os.Remove(name) }, nil
}
