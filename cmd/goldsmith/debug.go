package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/goldsmith/goldsmith/internal/agent"
	"github.com/goldsmith/goldsmith/internal/config"
	"github.com/goldsmith/goldsmith/internal/engine"
	"github.com/goldsmith/goldsmith/internal/engine/vmbuild"
	"github.com/goldsmith/goldsmith/internal/instance/vm"
)

// newDebugCmd boots the build instance a failed VM build kept
// (terminateInstanceOnFailure: false) and gives a shell-like console into
// it. The kept disk is not modified: the session writes to a throw-away
// overlay.
func newDebugCmd() *cobra.Command {
	var dataDir, accel string
	cmd := &cobra.Command{
		Use:   "debug IMAGE_ARN",
		Short: "Boot the kept build instance of a failed VM image build and inspect it",
		Long: "Runs on the server's host. The image's build must have failed with the infrastructure configuration's " +
			"terminateInstanceOnFailure set to false. Each line typed runs as root with /bin/sh -c inside the " +
			"instance (commands run chrooted into the image, as the components did); the failed job's documents " +
			"and toe configuration are under " + agent.JobsDir + ". End with exit or EOF.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDebug(cmd.Context(), args[0], dataDir, accel, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", config.DefaultDataDir, "the server's data directory")
	cmd.Flags().StringVar(&accel, "accel", "auto", "QEMU accelerator: auto, kvm or tcg")
	return cmd
}

func runDebug(ctx context.Context, arn, dataDir, accel string, in io.Reader, out, errOut io.Writer) error {
	scratch := filepath.Join(dataDir, "builds", engine.BuildKey(arn))
	rec, err := vmbuild.KeptInstance(scratch)
	if err != nil {
		return fmt.Errorf("%s: %w (was terminateInstanceOnFailure false, and did the build fail?)", arn, err)
	}
	acc, err := vm.DetectAccel(accel)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "goldsmith-debug-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	overlay := filepath.Join(tmp, "session.qcow2")
	if err := vm.CreateOverlay(ctx, rec.Disk, "qcow2", overlay, 0, nil); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, err := vm.Start(ctx, vm.Config{Name: "debug", Accel: acc, CPUs: 2, MemoryMiB: 1024,
		Drives: []vm.Drive{{Path: overlay, Format: "qcow2"}}, Kernel: rec.Kernel, Initrd: rec.Initramfs,
		Append: rec.Append, RunDir: filepath.Join(tmp, "run"), Limit: 4 * time.Hour, Logger: log})
	if err != nil {
		return err
	}
	defer func() { _ = m.Kill() }()
	fmt.Fprintf(errOut, "booting the kept instance of %s (disk %s)...\n", arn, rec.Disk)
	hctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	conn, err := m.AgentConn(hctx)
	if err != nil {
		return fmt.Errorf("the instance's agent: %w\n%s", err, m.ConsoleTail(20))
	}
	c := agent.NewClient(conn, log)
	defer c.Close()
	h, err := c.Hello(hctx)
	if err != nil {
		return fmt.Errorf("the instance's agent: %w\n%s", err, m.ConsoleTail(20))
	}
	fmt.Fprintf(errOut, "%s (kernel %s). Jobs: %s\n", h.OSRelease, h.Kernel, agent.JobsDir)
	sc := bufio.NewScanner(in)
	for {
		fmt.Fprint(errOut, "debug# ")
		if !sc.Scan() {
			break
		}
		line := strings.TrimSpace(sc.Text())
		if line == "exit" || line == "quit" {
			break
		}
		if line == "" {
			continue
		}
		r, err := c.Exec(ctx, []string{"/bin/sh", "-c", line})
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return err
			}
			fmt.Fprintln(errOut, "error:", err)
			continue
		}
		_, _ = out.Write(r.Stdout)
		_, _ = errOut.Write(r.Stderr)
		if r.ExitCode != 0 {
			fmt.Fprintf(errOut, "(exit %d)\n", r.ExitCode)
		}
	}
	return nil
}
