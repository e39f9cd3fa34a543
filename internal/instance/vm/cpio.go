package vm

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// CPIOEntry is one member of a newc cpio archive (an initramfs).
//
// The kind is taken from Mode's type bits: 0 = regular file, fs.ModeDir,
// fs.ModeSymlink, fs.ModeDevice|fs.ModeCharDevice (or fs.ModeCharDevice
// alone). The permission bits are Mode.Perm() plus setuid/setgid/sticky.
type CPIOEntry struct {
	Path   string      // inside the archive, e.g. "init" or "bin/sh" (a leading "/" is dropped)
	Mode   fs.FileMode // type and permission bits (0755 when the permission bits are zero on dirs, 0644 on files)
	Data   []byte      // regular file contents (used when Source is empty)
	Source string      // host path whose contents become the regular file (streamed, not held in memory)
	Target string      // symlink target
	Major  uint32      // char device major
	Minor  uint32      // char device minor
	UID    uint32
	GID    uint32
}

const (
	cpioTypeFile    = 0o100000
	cpioTypeDir     = 0o040000
	cpioTypeSymlink = 0o120000
	cpioTypeChar    = 0o020000
	cpioSetuid      = 0o4000
	cpioSetgid      = 0o2000
	cpioSticky      = 0o1000
)

// WriteCPIO writes files as an uncompressed "newc" (070701) cpio archive,
// the format the Linux kernel unpacks as an initramfs. Parent directories
// that are not listed are added (0755) before their first child; entries
// are written in the order given otherwise. Duplicate paths are an error.
// All mtimes are 0 so the archive is reproducible.
func WriteCPIO(w io.Writer, files []CPIOEntry) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	cw := &cpioWriter{w: bw, seen: map[string]bool{}, ino: 1}
	explicit := map[string]bool{}
	for _, e := range files {
		explicit[cleanCPIOPath(e.Path)] = true
	}
	for _, e := range files {
		p := cleanCPIOPath(e.Path)
		if p == "" {
			return fmt.Errorf("cpio entry %q: empty or invalid path", e.Path)
		}
		if cw.seen[p] {
			return fmt.Errorf("cpio entry %q: duplicate path", p)
		}
		// Implicit parents (those not listed anywhere in files).
		if err := cw.parents(p, explicit); err != nil {
			return err
		}
		if err := cw.entry(p, e); err != nil {
			return fmt.Errorf("cpio entry %q: %w", p, err)
		}
	}
	if err := cw.header("TRAILER!!!", 0, 0, 0, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("cpio trailer: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing cpio: %w", err)
	}
	return nil
}

func cleanCPIOPath(p string) string {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return ""
	}
	p = path.Clean(p)
	if p == "." || p == ".." || strings.HasPrefix(p, "../") {
		return ""
	}
	return p
}

type cpioWriter struct {
	w    *bufio.Writer
	seen map[string]bool
	ino  uint32
}

func (cw *cpioWriter) parents(p string, explicit map[string]bool) error {
	var missing []string
	for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
		if cw.seen[d] {
			break
		}
		if explicit[d] {
			return fmt.Errorf("cpio entry %q comes before its listed parent directory %q", p, d)
		}
		missing = append(missing, d)
	}
	sort.Slice(missing, func(i, j int) bool { return len(missing[i]) < len(missing[j]) })
	for _, d := range missing {
		if err := cw.entry(d, CPIOEntry{Mode: fs.ModeDir | 0o755}); err != nil {
			return fmt.Errorf("cpio parent %q: %w", d, err)
		}
	}
	return nil
}

func cpioPerm(m fs.FileMode, def uint32) uint32 {
	perm := uint32(m.Perm())
	if perm == 0 {
		perm = def
	}
	if m&fs.ModeSetuid != 0 {
		perm |= cpioSetuid
	}
	if m&fs.ModeSetgid != 0 {
		perm |= cpioSetgid
	}
	if m&fs.ModeSticky != 0 {
		perm |= cpioSticky
	}
	return perm
}

func (cw *cpioWriter) entry(p string, e CPIOEntry) error {
	cw.seen[p] = true
	switch {
	case e.Mode&fs.ModeDir != 0:
		return cw.header(p, cpioTypeDir|cpioPerm(e.Mode, 0o755), e.UID, e.GID, 2, 0, 0, 0)
	case e.Mode&fs.ModeSymlink != 0:
		if e.Target == "" {
			return fmt.Errorf("symlink without a target")
		}
		if err := cw.header(p, cpioTypeSymlink|0o777, e.UID, e.GID, 1, int64(len(e.Target)), 0, 0); err != nil {
			return err
		}
		return cw.data(strings.NewReader(e.Target), int64(len(e.Target)))
	case e.Mode&fs.ModeCharDevice != 0:
		return cw.header(p, cpioTypeChar|cpioPerm(e.Mode, 0o600), e.UID, e.GID, 1, 0, e.Major, e.Minor)
	case e.Mode.Type() == 0:
		mode := cpioTypeFile | cpioPerm(e.Mode, 0o644)
		if e.Source == "" {
			if err := cw.header(p, mode, e.UID, e.GID, 1, int64(len(e.Data)), 0, 0); err != nil {
				return err
			}
			return cw.data(bytes.NewReader(e.Data), int64(len(e.Data)))
		}
		f, err := os.Open(e.Source)
		if err != nil {
			return fmt.Errorf("opening source: %w", err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("stat source: %w", err)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("source %s is not a regular file", e.Source)
		}
		if err := cw.header(p, mode, e.UID, e.GID, 1, st.Size(), 0, 0); err != nil {
			return err
		}
		return cw.data(f, st.Size())
	default:
		return fmt.Errorf("unsupported file mode %v", e.Mode)
	}
}

// header writes a newc header and the NUL-terminated, padded name.
func (cw *cpioWriter) header(name string, mode, uid, gid, nlink uint32, size int64, rmaj, rmin uint32) error {
	if size > 0xffffffff {
		return fmt.Errorf("file too large for newc (%d bytes)", size)
	}
	ino := cw.ino
	cw.ino++
	if name == "TRAILER!!!" {
		ino = 0
	}
	_, err := fmt.Fprintf(cw.w, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, uid, gid, nlink, 0, uint32(size), 0, 0, rmaj, rmin, len(name)+1, 0)
	if err != nil {
		return err
	}
	if _, err := cw.w.WriteString(name); err != nil {
		return err
	}
	if err := cw.w.WriteByte(0); err != nil {
		return err
	}
	return cw.pad(110 + int64(len(name)) + 1)
}

func (cw *cpioWriter) data(r io.Reader, size int64) error {
	n, err := io.CopyN(cw.w, r, size)
	if err != nil {
		return fmt.Errorf("copying %d bytes (got %d): %w", size, n, err)
	}
	return cw.pad(size)
}

func (cw *cpioWriter) pad(n int64) error {
	if r := n % 4; r != 0 {
		_, err := cw.w.Write(make([]byte, 4-r))
		return err
	}
	return nil
}
