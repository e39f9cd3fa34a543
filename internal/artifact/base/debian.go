package base

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/goldsmith/goldsmith/internal/tailbuf"
)

// MmdebstrapStopGrace is how long a cancelled mmdebstrap gets, after
// SIGTERM, to unmount and remove its temporary chroot before it is killed.
const MmdebstrapStopGrace = 30 * time.Second

// Debian builds a Debian minbase image of suite (bookworm, trixie, ...) with
// `mmdebstrap --variant=minbase --format=tar`. mirror is passed to
// mmdebstrap as is (a URL, or one-line "deb ..." entries); "" takes the
// Debian and security mirrors from the host's own apt sources (see
// HostMirrors). The layer leaves out device nodes under /dev and the host's
// /etc/resolv.conf and /etc/hostname; Cmd is ["/bin/bash"]. mmdebstrap must
// run as root (or in a user namespace mmdebstrap can set up); it keeps its temporary chroot under $TMPDIR.
func Debian(ctx context.Context, suite, mirror string) (v1.Image, error) {
	if suite == "" || strings.ContainsAny(suite, " \t\n/") {
		return nil, fmt.Errorf("debian: bad suite %q", suite)
	}
	mirrors := []string{mirror}
	if mirror == "" {
		m, err := HostMirrors("/", suite)
		if err != nil {
			return nil, fmt.Errorf("debian: %w", err)
		}
		mirrors = m
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		return nil, fmt.Errorf("debian: mmdebstrap is not installed: %w", err)
	}

	args := []string{
		"--quiet", "--variant=minbase", "--format=tar",
		`--customize-hook=rm -f "$1/etc/resolv.conf" "$1/etc/hostname"`,
		suite, "-",
	}
	args = append(args, mirrors...)
	cmd := exec.CommandContext(ctx, "mmdebstrap", args...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+strconv.FormatInt(Epoch.Unix(), 10))
	// On cancel, signal mmdebstrap's whole process group, as a terminal's
	// Ctrl-C would: its workers stop, and the main process, which waits for
	// them, then unmounts and removes its chroot.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = MmdebstrapStopGrace
	stderr := tailbuf.New(8 << 10)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("debian: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("debian: start mmdebstrap: %w", err)
	}

	lw, err := newLayerWriter(gzip.BestSpeed)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("debian: %w", err)
	}
	copyErr := rewriteRootfs(out, lw.tw)
	if copyErr != nil {
		// Drain so that mmdebstrap is not stuck writing to a full pipe.
		_, _ = io.Copy(io.Discard, out)
	}
	waitErr := cmd.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("debian: mmdebstrap %s: %w", suite, err)
	}
	if waitErr != nil {
		return nil, fmt.Errorf("debian: mmdebstrap %s: %w: %s", suite, waitErr, strings.TrimSpace(stderr.String()))
	}
	if copyErr != nil {
		return nil, fmt.Errorf("debian: read mmdebstrap output: %w", copyErr)
	}
	layer, err := lw.layer()
	if err != nil {
		return nil, fmt.Errorf("debian: %w", err)
	}
	img, err := newImage(layer, []string{"/bin/bash"},
		"goldsmith base debian: mmdebstrap --variant=minbase "+suite,
		map[string]string{
			"org.opencontainers.image.title":   "debian",
			"org.opencontainers.image.version": suite,
		})
	if err != nil {
		return nil, fmt.Errorf("debian: %w", err)
	}
	return img, nil
}

// rewriteRootfs copies a root filesystem tar from r to tw for use as an OCI
// layer: names lose their "./" prefix (the root entry itself is dropped),
// device nodes, FIFOs and everything below dev/ are left out (runtimes
// provide /dev), modification times are clamped to Epoch, access and change
// times and user and group names are dropped. The order is kept.
func rewriteRootfs(r io.Reader, tw *tar.Writer) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tar: %w", err)
		}
		name := cleanName(h.Name)
		if name == "" {
			continue
		}
		switch h.Typeflag {
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			continue
		}
		if strings.HasPrefix(name, "dev/") && name != "dev/" {
			continue
		}
		h.Name = name
		if h.Typeflag == tar.TypeLink {
			h.Linkname = cleanName(h.Linkname)
		}
		h.ModTime = clamp(h.ModTime)
		h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
		h.Uname, h.Gname = "", ""
		h.Format = tar.FormatUnknown
		for k := range h.PAXRecords {
			// Keep vendor records (SCHILY.xattr.*); the standard ones
			// (path, mtime, atime, ...) come from the header fields.
			if !strings.Contains(k, ".") {
				delete(h.PAXRecords, k)
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("tar %s: %w", name, err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return fmt.Errorf("tar %s: %w", name, err)
		}
	}
}

// cleanName strips "./" and "/" prefixes from a tar entry name; the root
// directory becomes "".
func cleanName(name string) string {
	for {
		switch {
		case strings.HasPrefix(name, "./"):
			name = name[2:]
		case strings.HasPrefix(name, "/"):
			name = name[1:]
		case name == ".":
			return ""
		default:
			return name
		}
	}
}
