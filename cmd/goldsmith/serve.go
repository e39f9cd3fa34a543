package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/goldsmith/goldsmith/internal/app"
	"github.com/goldsmith/goldsmith/internal/config"
)

func newServeCmd() *cobra.Command {
	var (
		configFile string
		flags      config.Config
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the EC2 Image Builder API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := &config.Config{}
			if configFile != "" {
				loaded, err := config.Load(configFile)
				if err != nil {
					return err
				}
				cfg = loaded
			}
			// Flags given on the command line win over the file.
			set := cmd.Flags().Changed
			if set("listen") || cfg.Listen == "" {
				cfg.Listen = flags.Listen
			}
			if set("data-dir") || cfg.DataDir == "" {
				cfg.DataDir = flags.DataDir
			}
			if set("region") || cfg.Region == "" {
				cfg.Region = flags.Region
			}
			if set("store") {
				cfg.Store.Driver = flags.Store.Driver
			}
			if set("database-url") {
				cfg.Store.URL = flags.Store.URL
			}
			if set("registry-listen") || cfg.Registry.Listen == "" {
				cfg.Registry.Listen = flags.Registry.Listen
			}
			if set("log-level") {
				cfg.LogLevel = flags.LogLevel
			}
			defaults := cfg.DefaultAccounts()
			if err := cfg.ApplyDefaults(); err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, defaults)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "YAML configuration file (accounts, store, s3, keys)")
	f.StringVar(&flags.Listen, "listen", config.DefaultListen, "address to serve the API on")
	f.StringVar(&flags.DataDir, "data-dir", config.DefaultDataDir, "directory for the database, keys and images")
	f.StringVar(&flags.Region, "region", config.DefaultRegion, "the region this server is")
	f.StringVar(&flags.Store.Driver, "store", "sqlite", "store: sqlite (embedded) or postgres")
	f.StringVar(&flags.Store.URL, "database-url", "", "PostgreSQL URL (with --store postgres) or SQLite file path")
	f.StringVar(&flags.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&flags.Registry.Listen, "registry-listen", config.DefaultRegistryListen, "address of the built-in OCI registry (data under <data-dir>/registry)")
	return cmd
}

func serve(ctx context.Context, cfg *config.Config, defaultAccounts bool) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if defaultAccounts {
		log.Warn("no accounts configured: using the emulator default, account 000000000000 with access key 'test' and secret 'test'; configure accounts with --config before exposing this server")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	log.Info("goldsmith serving", "url", a.URL(), "registry", a.RegistryAddr(), "region", cfg.Region, "store", cfg.Store.Driver, "dataDir", cfg.DataDir, "version", version)
	select {
	case err := <-a.Done():
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return a.Shutdown(sctx)
}
