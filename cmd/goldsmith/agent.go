package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/goldsmith/goldsmith/internal/agent"
)

// newAgentCmd is the hidden `goldsmith agent serve` (local mode, for
// debugging the protocol over a serial port, a pty or a unix socket path).
func newAgentCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "agent", Short: "The build VM agent (local mode)", Hidden: true}
	var device, root, binary string
	var chroot bool
	serve := &cobra.Command{
		Use:   "serve --device PATH",
		Short: "Serve the agent protocol on a device (reboot and poweroff just end the command)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if device == "" {
				return errors.New("--device is required")
			}
			f, err := os.OpenFile(device, os.O_RDWR, 0)
			if err != nil {
				return fmt.Errorf("opening %s: %w", device, err)
			}
			defer f.Close()
			if binary == "" {
				if binary, err = os.Executable(); err != nil {
					return fmt.Errorf("finding the goldsmith binary: %w", err)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelDebug}))
			end := func(what string) func(context.Context) error {
				return func(context.Context) error { log.Info("local mode: " + what + " requested; exiting"); return nil }
			}
			return agent.Serve(ctx, f, agent.ServeOptions{Root: root, Chroot: chroot, Binary: binary, Logger: log,
				Reboot: end("reboot"), Poweroff: end("poweroff")})
		},
	}
	serve.Flags().StringVar(&device, "device", "", "serial port or other read/write file to serve on")
	serve.Flags().StringVar(&root, "root", "/", "the image's root directory")
	serve.Flags().BoolVar(&chroot, "chroot", false, "run commands chrooted into --root")
	serve.Flags().StringVar(&binary, "binary", "", "goldsmith binary for run-toe, as commands see it (default: this one)")
	cmd.AddCommand(serve)
	return cmd
}
