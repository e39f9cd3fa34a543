// Command goldsmith-agent is the small static binary that VM build
// instances boot as /init: the guest agent (package agent) and the toe
// engine (`goldsmith-agent toe run|validate`), without the server. It
// starts several times faster than the full goldsmith binary under QEMU's
// software emulation; the server uses it when it is installed next to
// goldsmith (or named by build.agentBinary).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/goldsmith/goldsmith/internal/agent"
	"github.com/goldsmith/goldsmith/internal/toecli"
)

func main() {
	if agent.IsPID1Init() {
		agent.RunPID1() // never returns
	}
	root := &cobra.Command{
		Use:           "goldsmith-agent",
		Short:         "goldsmith's build VM agent and toe engine",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(toecli.NewCommand())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "goldsmith-agent:", err)
		os.Exit(toecli.ExitCode(err))
	}
}
