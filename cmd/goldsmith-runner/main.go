// Command goldsmith-runner is the small static binary a container build's
// sandbox runs as PID 1 of its runc container (package runner): it starts
// the RUN steps of one layer in turn, so that they share one container
// start. The server uses it when it is installed next to goldsmith (or
// named by build.runnerBinary).
package main

import (
	"fmt"
	"os"

	"github.com/goldsmith/goldsmith/internal/instance/container/runner"
)

func main() {
	if !runner.IsRunner(os.Args) {
		fmt.Fprintf(os.Stderr, "goldsmith-runner runs inside goldsmith's build sandboxes (started as %s %s); it is not meant to be run by hand\n", os.Args[0], runner.Arg)
		os.Exit(2)
	}
	os.Exit(runner.Main())
}
