// Command modelgen strips the Image Builder API model and generates the Go
// wire layer (internal/api/gen) from the stripped copy.
//
//	modelgen strip SERVICE_JSON PAGINATORS_JSON OUT_JSON
//	modelgen gen MODEL_JSON OUT_DIR
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "modelgen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 4 && args[0] == "strip":
		return strip(args[1], args[2], args[3])
	case len(args) == 3 && args[0] == "gen":
		return generate(args[1], args[2])
	}
	return fmt.Errorf("usage: modelgen strip SERVICE_JSON PAGINATORS_JSON OUT_JSON | modelgen gen MODEL_JSON OUT_DIR")
}
