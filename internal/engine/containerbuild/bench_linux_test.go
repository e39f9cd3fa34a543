package containerbuild

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// benchCommands is the 3-step build. The busybox base has no /opt,
// so the third step creates it (in both measurements).
var benchCommands = []string{
	"echo built-by-goldsmith > /etc/marker",
	"rm -f /bin/vi",
	"mkdir -p /opt && head -c 1024 /dev/urandom > /opt/blob",
}

// BenchmarkBuildToPushed times the 3-step build (RUN lines of a Dockerfile
// template without components) from the start of BuildStage to the end of
// DistributeStage (pushed to the built-in registry, metadata collected),
// with the layer cache warm (as it is for every build after the first on
// a parent image), and in the same loop the floor: the same commands by
// chroot over an overlayfs in `unshare --mount`, then the upper directory
// written as a layer tar (sha256 computed). When buildah is installed, the
// loop also times `buildah bud` of the same Dockerfile plus `buildah push`
// to the same registry (base already in buildah's storage). It reports the
// times per build and the ratios.
func BenchmarkBuildToPushed(b *testing.B) {
	e := newEnv(b, false)
	var tmpl strings.Builder
	tmpl.WriteString("FROM {{{ imagebuilder:parentImage }}}\n")
	for _, c := range benchCommands {
		tmpl.WriteString("RUN " + c + "\n")
	}
	lower := filepath.Join(b.TempDir(), "lower")
	if err := os.MkdirAll(lower, 0o755); err != nil {
		b.Fatal(err)
	}
	layers, err := baseImage(b).Layers()
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range layers {
		if err := unpackLayer(context.Background(), l, lower); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	bb := newBuildahBench(b, benchCommands)
	// Warm the layer cache (the first build on a parent fills it).
	warm := e.spec(tmpl.String(), nil, false)
	warm.ScratchDir = filepath.Join(e.scratch, "warm")
	if _, err := BuildStage(ctx, warm, nil); err != nil {
		b.Fatal(err)
	}
	if err := Cleanup(ctx, warm); err != nil {
		b.Fatal(err)
	}
	var gold, floor, buildah time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s := e.spec(tmpl.String(), nil, false)
		s.ScratchDir = filepath.Join(e.scratch, fmt.Sprint(i))
		s.Build = fmt.Sprint(i + 1)
		s.Target.Local = e.reg // as the server stores into its own registry
		start := time.Now()
		if _, err := BuildStage(ctx, s, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := TestStage(ctx, s, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := DistributeStage(ctx, s, nil); err != nil {
			b.Fatal(err)
		}
		gold += time.Since(start)
		if err := Cleanup(ctx, s); err != nil {
			b.Fatal(err)
		}

		dir := filepath.Join(e.scratch, fmt.Sprint("floor-", i))
		start = time.Now()
		if err := floorBuild(ctx, lower, dir); err != nil {
			b.Fatal(err)
		}
		floor += time.Since(start)
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}

		if bb != nil {
			tag := fmt.Sprint("goldsmith-bench:", i)
			start = time.Now()
			if err := bb.buildAndPush(ctx, tag, fmt.Sprint(e.host, "/buildah:", i)); err != nil {
				b.Fatal(err)
			}
			buildah += time.Since(start)
			if _, err := bb.run(ctx, "rmi", tag); err != nil {
				b.Fatal(err)
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(gold.Nanoseconds())/n, "goldsmith-ns/op")
	b.ReportMetric(float64(floor.Nanoseconds())/n, "floor-ns/op")
	b.ReportMetric(float64(gold)/float64(floor), "goldsmith/floor")
	if bb != nil {
		b.ReportMetric(float64(buildah.Nanoseconds())/n, "buildah-ns/op")
		b.ReportMetric(float64(gold)/float64(buildah), "goldsmith/buildah")
	}
}

// floorBuild runs benchCommands by chroot over an overlay of lower (mounted
// in a private mount namespace, so it goes away with it) and writes the
// upper directory as a layer tar.
func floorBuild(ctx context.Context, lower, dir string) error {
	upper, work, merged := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{upper, work, merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	script := fmt.Sprintf("set -e; mount -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir=%s %s; mount --rbind /dev %s/dev",
		lower, upper, work, merged, merged)
	for _, c := range benchCommands {
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
