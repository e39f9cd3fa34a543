package base

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"regexp"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BusyboxBinary is where Debian's busybox-static installs the binary.
const BusyboxBinary = "/bin/busybox"

// Busybox builds a busybox image from the host's BusyboxBinary: the binary
// at /bin/busybox, a symlink to it per applet (as `busybox --list-full`
// names them, /bin/sh among them), /etc/passwd and /etc/group with root
// and nobody, /etc/os-release, /tmp (1777) and /root (0700). Cmd is
// ["/bin/sh"].
func Busybox(ctx context.Context) (v1.Image, error) {
	return busyboxFrom(ctx, BusyboxBinary)
}

func busyboxFrom(ctx context.Context, bin string) (v1.Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("busybox: read %s (install busybox-static): %w", bin, err)
	}
	list, err := exec.CommandContext(ctx, bin, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox: %s --list-full: %w", bin, cmdError(err))
	}
	applets, err := parseApplets(string(list))
	if err != nil {
		return nil, fmt.Errorf("busybox: %w", err)
	}
	// Plain `busybox` prints its usage, version first, and exits 0 (or 1 on
	// some builds); only the text matters.
	usage, _ := exec.CommandContext(ctx, bin).CombinedOutput()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("busybox: %w", err)
	}
	version, full, err := parseVersion(string(usage))
	if err != nil {
		return nil, fmt.Errorf("busybox: %w", err)
	}

	entries := busyboxEntries(data, applets, version, full)
	lw, err := newLayerWriter(gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("busybox: %w", err)
	}
	for _, e := range entries {
		if err := e.write(lw.tw); err != nil {
			return nil, fmt.Errorf("busybox: layer: %w", err)
		}
	}
	layer, err := lw.layer()
	if err != nil {
		return nil, fmt.Errorf("busybox: %w", err)
	}
	img, err := newImage(layer, []string{"/bin/sh"},
		"goldsmith base busybox: "+full+" from "+bin,
		map[string]string{
			"org.opencontainers.image.title":   "busybox",
			"org.opencontainers.image.version": version,
		})
	if err != nil {
		return nil, fmt.Errorf("busybox: %w", err)
	}
	return img, nil
}

// entry is one file of a generated layer.
type entry struct {
	name   string // relative, no leading slash; directories without a trailing slash
	mode   int64  // permission bits (and sticky)
	kind   byte   // tar.TypeDir, tar.TypeReg or tar.TypeSymlink
	target string // symlink target
	data   []byte
}

func (e entry) write(tw *tar.Writer) error {
	h := &tar.Header{
		Typeflag: e.kind,
		Name:     e.name,
		Linkname: e.target,
		Mode:     e.mode,
		ModTime:  Epoch,
		Format:   tar.FormatPAX,
	}
	if e.kind == tar.TypeDir {
		h.Name += "/"
	}
	if e.kind == tar.TypeReg {
		h.Size = int64(len(e.data))
	}
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("%s: %w", e.name, err)
	}
	if e.kind == tar.TypeReg {
		if _, err := tw.Write(e.data); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
	}
	return nil
}

// busyboxEntries lays out the busybox root filesystem, sorted by name with
// every parent directory before its children.
func busyboxEntries(binary []byte, applets []string, version, full string) []entry {
	files := map[string]entry{}
	dir := func(name string, mode int64) {
		files[name] = entry{name: name, mode: mode, kind: tar.TypeDir}
	}
	for _, d := range []string{"bin", "dev", "etc", "home", "proc", "sbin", "sys", "usr", "usr/bin", "usr/sbin", "var"} {
		dir(d, 0o755)
	}
	dir("root", 0o700)
	dir("tmp", 0o1777)
	dir("var/tmp", 0o1777)
	file := func(name string, mode int64, data string) {
		files[name] = entry{name: name, mode: mode, kind: tar.TypeReg, data: []byte(data)}
	}
	file("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
	file("etc/group", 0o644, "root:x:0:\nnobody:x:65534:\n")
	file("etc/os-release", 0o644, osRelease(version, full))
	applets = append(applets, "bin/sh")
	for _, a := range applets {
		if a == "bin/busybox" {
			continue
		}
		for p := path.Dir(a); p != "."; p = path.Dir(p) {
			if _, ok := files[p]; !ok {
				dir(p, 0o755)
			}
		}
		files[a] = entry{name: a, mode: 0o777, kind: tar.TypeSymlink, target: BusyboxBinary}
	}
	files["bin/busybox"] = entry{name: "bin/busybox", mode: 0o755, kind: tar.TypeReg, data: binary}

	out := make([]entry, 0, len(files))
	for _, e := range files {
		out = append(out, e)
	}
	// Sorting by name puts "a" before "a/b" but also "a-b" before "a/b";
	// either way a parent comes before its children.
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func osRelease(version, full string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "NAME=\"BusyBox\"\n")
	fmt.Fprintf(&b, "ID=busybox\n")
	fmt.Fprintf(&b, "VERSION_ID=%q\n", version)
	fmt.Fprintf(&b, "VERSION=%q\n", strings.TrimPrefix(full, "BusyBox v"))
	fmt.Fprintf(&b, "PRETTY_NAME=%q\n", "BusyBox "+version+" (goldsmith base image)")
	fmt.Fprintf(&b, "HOME_URL=\"https://busybox.net/\"\n")
	return b.String()
}

// appletPath is what a line of `busybox --list-full` may hold.
var appletPath = regexp.MustCompile(`^[A-Za-z0-9_.\[\]+-]+(/[A-Za-z0-9_.\[\]+-]+)*$`)

// parseApplets reads `busybox --list-full`: one relative path per line
// (usr/bin/awk, sbin/ifconfig, bin/sh). It rejects absolute paths, "..",
// and anything that is not a plain path, and returns them sorted and
// deduplicated.
func parseApplets(list string) ([]string, error) {
	seen := map[string]bool{}
	for i, line := range strings.Split(list, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !appletPath.MatchString(line) || path.Clean(line) != line || strings.Contains("/"+line+"/", "/../") || strings.Contains("/"+line+"/", "/./") {
			return nil, fmt.Errorf("applet list line %d: bad path %q", i+1, line)
		}
		seen[line] = true
	}
	if len(seen) == 0 {
		return nil, errors.New("applet list is empty")
	}
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out, nil
}

var versionLine = regexp.MustCompile(`BusyBox v([0-9][0-9A-Za-z.+~-]*)[^\n]*`)

// parseVersion finds the version in busybox's usage text: "BusyBox v1.35.0
// (Debian 1:1.35.0-4+b3) multi-call binary." gives "1.35.0" and the line up
// to "multi-call binary".
func parseVersion(usage string) (version, full string, err error) {
	m := versionLine.FindStringSubmatch(usage)
	if m == nil {
		return "", "", errors.New("no version in busybox's usage text")
	}
	full = strings.TrimSuffix(strings.TrimSpace(m[0]), " multi-call binary.")
	return m[1], full, nil
}

// cmdError adds a command's stderr to its exit error.
func cmdError(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(bytes.TrimSpace(ee.Stderr)) > 0 {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(tail(ee.Stderr, 2048)))
	}
	return err
}

// tail is the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
