package vmbuild

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/goldsmith/goldsmith/internal/engine/containerbuild"
)

// TestStage boots a fresh instance from the captured disk and runs the
// test phase of every component. It is a no-op that records skipped steps
// when tests are disabled.
func TestStage(ctx context.Context, s Spec, onStep containerbuild.StepFunc, log *slog.Logger) error {
	st := containerbuild.NewStepper(onStep)
	if !s.TestsEnabled {
		return st.Skip("ApplyTestComponents", "ExecuteComponents", "imageTestsEnabled is false")
	}
	b, err := readBuild(s)
	if err != nil {
		return errors.New("the build stage's captured disk is missing; the build must run again")
	}
	if log == nil {
		log = slog.Default()
	}
	var in *instance
	defer func() {
		in.keepConsole(s.LogDir, stageTest)
		in.kill()
	}()
	err = st.Run(ctx, "LaunchTestInstance", "LaunchInstance", map[string]string{"imageId": b.Disk},
		func(out map[string]string) (string, error) {
			var err error
			in, err = launch(ctx, s, Disk{Path: b.Disk, Format: "qcow2"}, stageTest, log)
			if err != nil {
				return "", err
			}
			out["instanceId"] = in.id
			return fmt.Sprintf("instance %s booted %s", in.id, in.hello.OSRelease), nil
		})
	if err != nil {
		return err
	}
	if err := st.Skip("CollectImageScanFindings", "CollectImageScanFindings", "image scanning is not available"); err != nil {
		return err
	}
	err = st.Run(ctx, "ApplyTestComponents", "ExecuteComponents", map[string]string{"instanceId": in.id, "phases": TestPhase},
		func(out map[string]string) (string, error) {
			return runComponents(ctx, s, in, TestPhase, stageTest, out)
		})
	if err != nil {
		return err
	}
	return st.Run(ctx, "TerminateTestInstance", "TerminateInstance", map[string]string{"instanceId": in.id},
		func(map[string]string) (string, error) {
			in.kill()
			in.keepConsole(s.LogDir, stageTest)
			if err := os.RemoveAll(in.dir); err != nil {
				return "", fmt.Errorf("removing the instance's disk: %w", err)
			}
			in = nil
			return "", nil
		})
}
