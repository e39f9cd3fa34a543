package testsupport

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ContainerBenchCommands is issue 5's 3-step build. The busybox base has
// no /opt, so the third step creates it (in every measurement).
func ContainerBenchCommands() []string {
	return []string{
		"echo built-by-goldsmith > /etc/marker",
		"rm -f /bin/vi",
		"mkdir -p /opt && head -c 1024 /dev/urandom > /opt/blob",
	}
}

// ContainerFloorBuild is the container build benchmarks' floor: commands
// by chroot over an overlay of lower (mounted in a private mount namespace,
// so it goes away with it), then the upper directory written as a layer
// tar (sha256 computed) into dir.
func ContainerFloorBuild(ctx context.Context, lower, dir string, commands []string) error {
	upper, work, merged := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{upper, work, merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	script := fmt.Sprintf("set -e; mount -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir=%s %s; mount --rbind /dev %s/dev",
		lower, upper, work, merged, merged)
	for _, c := range commands {
		script += fmt.Sprintf("; chroot %s /bin/sh -c '%s'", merged, c)
	}
	if out, err := exec.CommandContext(ctx, "unshare", "--mount", "sh", "-c", script).CombinedOutput(); err != nil {
		return fmt.Errorf("floor: %v: %s", err, out)
	}
	f, err := os.Create(filepath.Join(dir, "layer.tar"))
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if err := writeUpper(upper, io.MultiWriter(f, h)); err != nil {
		return err
	}
	_ = h.Sum(nil)
	return f.Close()
}

// writeUpper is the minimal upper-directory-to-layer conversion: regular
// files, directories, symlinks, and whiteouts (0/0 character devices) as
// .wh. entries.
func writeUpper(upper string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.Walk(upper, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == upper {
			return err
		}
		rel, _ := filepath.Rel(upper, p)
		if fi.Mode()&os.ModeCharDevice != 0 {
			if st, ok := fi.Sys().(*unix.Stat_t); ok && st.Rdev == 0 {
				return tw.WriteHeader(&tar.Header{Name: filepath.Join(filepath.Dir(rel), ".wh."+fi.Name()),
					Typeflag: tar.TypeReg, Mode: 0o600, ModTime: fi.ModTime()})
			}
		}
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = rel
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(tw, f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
