// Command goldsmith is a self-hosted golden-image factory that speaks the
// EC2 Image Builder API.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/goldsmith/goldsmith/internal/agent"
	"github.com/goldsmith/goldsmith/internal/toecli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if agent.IsPID1Init() {
		agent.RunPID1() // the build VM's PID 1; never returns
	}
	root := &cobra.Command{
		Use:           "goldsmith",
		Short:         "A self-hosted golden-image factory that speaks the EC2 Image Builder API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCmd(), newServeCmd(), newBaseCmd())
	root.AddCommand(toecli.NewCommand())
	root.AddCommand(newAgentCmd(), newDebugCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "goldsmith:", err)
		os.Exit(toecli.ExitCode(err))
	}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print goldsmith's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "goldsmith %s\n", version)
			return err
		},
	}
}
