package containerbuild

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/goldsmith/goldsmith/internal/instance/container"
	"github.com/goldsmith/goldsmith/internal/instance/container/dockerfile"
)

// Names and actions of the steps of the test stage (the managed
// test-container workflow).
const (
	StepLaunchTest    = "LaunchTestInstance"
	StepApplyTest     = "ApplyTestComponents"
	StepTerminateTest = "TerminateTestInstance"

	ActionTerminateInstance = "TerminateInstance"

	// TestPhase is the toe phase the test stage runs.
	TestPhase      = "test"
	stageTestName  = "test"
	stagedRootName = "goldsmith" // dockerfile.StagePath without the slash
)

// TestStage runs the test phase of every component in a fresh sandbox made
// from the built image (its layers unpacked): goldsmith and the components
// are staged at /goldsmith and `goldsmith toe run --phases test` runs as
// root with the image's environment. A failing test fails the stage with
// an error naming the component and the step. With TestsEnabled false the
// stage is one SKIPPED step. The sandbox is always removed.
func TestStage(ctx context.Context, s Spec, onStep StepFunc) (*TestResult, error) {
	st := &stepper{onStep: onStep}
	res := &TestResult{}
	err := testStage(ctx, s, st)
	res.Steps = st.steps
	if err != nil {
		return res, fmt.Errorf("test stage: %w", err)
	}
	return res, nil
}

func testStage(ctx context.Context, s Spec, st *stepper) (err error) {
	if err := s.validate(); err != nil {
		return err
	}
	if !s.TestsEnabled {
		return st.skip(StepApplyTest, ActionExecuteComponents, "image tests are disabled")
	}
	work := s.path(testDir)
	if err := resetDir(ctx, work); err != nil {
		return err
	}
	defer func() { removeWorkDir(context.WithoutCancel(ctx), work, err == nil) }()
	logs, err := s.logDir(stageTestName)
	if err != nil {
		return err
	}
	if len(s.Components) == 0 {
		return st.run(ctx, StepApplyTest, ActionExecuteComponents, nil, func(map[string]string) (string, error) {
			return "no components to test", nil
		})
	}

	var sb *container.Sandbox
	var cfg *v1.ConfigFile
	err = st.run(ctx, StepLaunchTest, ActionLaunchInstance, nil, func(out map[string]string) (string, error) {
		img, d, err := readImage(s)
		if err != nil {
			return "", err
		}
		out["imageDigest"] = d.String()
		if cfg, err = img.ConfigFile(); err != nil {
			return "", fmt.Errorf("reading the image configuration: %w", err)
		}
		sb, err = openImageSandbox(ctx, img, work, s.Network, s.RunnerBinary, s.LayerCache)
		return "", err
	})
	if err == nil {
		err = st.run(ctx, StepApplyTest, ActionExecuteComponents,
			map[string]string{"phases": TestPhase, "workingDirectory": workingDirectory(s)},
			func(out map[string]string) (string, error) {
				out["logDir"] = logs
				return "", s.runTests(ctx, sb, cfg, filepath.Join(work, "context"), logs, out)
			})
	}
	// The sandbox goes whatever happened (onFailure: Continue).
	terr := st.run(context.WithoutCancel(ctx), StepTerminateTest, ActionTerminateInstance, nil,
		func(map[string]string) (string, error) {
			if sb == nil {
				return "no sandbox was started", nil
			}
			if err := sb.Close(); err != nil {
				return "", fmt.Errorf("closing the test sandbox: %w", err)
			}
			return "", nil
		})
	return errors.Join(err, terr)
}

// openImageSandbox opens a sandbox whose root is img's filesystem. The
// sandbox's lower is the longest prefix of img's layers that cache holds
// (the parent image, as a rule) or else img's layers unpacked into
// work/lower; the remaining layers are then unpacked into the sandbox's
// root (their whiteouts become overlay whiteouts).
func openImageSandbox(ctx context.Context, img v1.Image, work string, network bool, runner string, cache *container.LayerCache) (*container.Sandbox, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading the image's layers: %w", err)
	}
	var lower string
	var n int
	if cache != nil {
		cfg, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading the image configuration: %w", err)
		}
		if len(cfg.RootFS.DiffIDs) == len(layers) {
			lower, n = cache.Longest(cfg.RootFS.DiffIDs)
		}
	}
	if n == 0 {
		lower = filepath.Join(work, "lower")
		if err := os.MkdirAll(lower, 0o755); err != nil {
			return nil, fmt.Errorf("creating the lower directory: %w", err)
		}
		for i, l := range layers {
			if err := unpackLayer(ctx, l, lower); err != nil {
				return nil, fmt.Errorf("unpacking layer %d: %w", i+1, err)
			}
		}
		n = len(layers)
	}
	sb, err := container.Open(ctx, container.Options{Lowers: []string{lower},
		ScratchDir: filepath.Join(work, "sandbox"), Network: network, Runner: runner})
	if err != nil {
		return nil, fmt.Errorf("opening the test sandbox: %w", err)
	}
	for i := n; i < len(layers); i++ {
		if err := unpackLayer(ctx, layers[i], sb.RootFS()); err != nil {
			return nil, errors.Join(fmt.Errorf("unpacking layer %d: %w", i+1, err), sb.Close())
		}
	}
	return sb, nil
}

func unpackLayer(ctx context.Context, l v1.Layer, dir string) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	return container.Unpack(ctx, rc, dir)
}

// runTests stages goldsmith and every component into the sandbox and runs
// their test phase.
func (s Spec) runTests(ctx context.Context, sb *container.Sandbox, cfg *v1.ConfigFile, contextDir, logs string,
	out map[string]string) error {
	if s.GoldsmithBinary == "" {
		return errors.New("no goldsmith binary to run the components with")
	}
	wd := workingDirectory(s)
	sc, err := dockerfile.Stage(ctx, contextDir, s.GoldsmithBinary, stageInput(s.Components), wd)
	if err != nil {
		return err
	}
	staged := make([]stagedComponent, len(sc.Paths))
	for i, p := range sc.Paths {
		staged[i] = stagedComponent{path: p, comp: s.Components[i]}
	}
	root, err := os.OpenRoot(sb.RootFS())
	if err != nil {
		return fmt.Errorf("opening the test root: %w", err)
	}
	defer root.Close()
	if err := root.RemoveAll(stagedRootName); err != nil {
		return fmt.Errorf("staging: %w", err)
	}
	if err := copyIntoRoot(filepath.Join(contextDir, dockerfile.StageContextDir), root, stagedRootName); err != nil {
		return fmt.Errorf("staging into the test sandbox: %w", err)
	}
	stdout, err := openLog(logs, StdoutLog)
	if err != nil {
		return err
	}
	defer stdout.Close()
	stderr, err := openLog(logs, StderrLog)
	if err != nil {
		return err
	}
	defer stderr.Close()
	stage := dockerfile.StagePath
	code, runErr := sb.Run(ctx, container.Process{
		Args: []string{path.Join(stage, "bin/goldsmith"), "toe", "run",
			"--config", path.Join(stage, "toe.json"),
			"--phases", TestPhase,
			"--log-directory", path.Join(stage, "logs"),
			"--working-directory", wd},
		Env:    cfg.Config.Env,
		Stdout: stdout,
		Stderr: stderr,
	})
	toeLogs := filepath.Join(logs, ToeLogsDir)
	if err := dockerfile.ExportTree(ctx, root, path.Join(stagedRootName, "logs"), toeLogs); err != nil {
		slog.WarnContext(ctx, "test stage: keeping the toe logs", "err", err)
	}
	detailed := latestDetailedOutput(toeLogs)
	if detailed != "" {
		out["detailedOutput"] = detailed
	}
	if runErr != nil {
		return fmt.Errorf("running the test phase: %w", runErr)
	}
	if code != 0 {
		if desc := toeFailure(detailed, staged); desc != "" {
			return errors.New(desc)
		}
		return fmt.Errorf("goldsmith toe run exited with code %d (see %s)", code, stderr.Name())
	}
	return nil
}

// copyIntoRoot copies the host tree src to dst inside root (symlinks in the
// image cannot redirect the writes out of it).
func copyIntoRoot(src string, root *os.Root, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := path.Join(dst, filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return root.MkdirAll(target, info.Mode().Perm())
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return root.WriteFile(target, data, info.Mode().Perm())
		default:
			return fmt.Errorf("copying %s: not a regular file or directory", p)
		}
	})
}
