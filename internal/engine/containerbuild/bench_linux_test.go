package containerbuild

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goldsmith/goldsmith/internal/testsupport"
)

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
	for _, c := range testsupport.ContainerBenchCommands() {
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
	bb := newBuildahBench(b, testsupport.ContainerBenchCommands())
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
		// As the engine runs them: the server reads and stores its own
		// registry, and the last sandbox closes in the background.
		s.BuiltIn = BuiltIn{Addr: e.host, Store: e.reg}
		s.Background = &Background{}
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
		if err := testsupport.ContainerFloorBuild(ctx, lower, dir, testsupport.ContainerBenchCommands()); err != nil {
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
