package dockerfile

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/goldsmith/goldsmith/internal/toe"
)

// The staging layout. Goldsmith stages, inside the build context directory,
// a directory named StageContextDir:
//
//	<context>/.goldsmith/bin/goldsmith            the static goldsmith binary (runs `toe run`)
//	<context>/.goldsmith/components/01-<name>.yml the component documents, in recipe order
//	<context>/.goldsmith/toe.json                 the toe run configuration: documents and their parameters
//
// ComponentsBlock copies it to StagePath (/goldsmith) in the image and runs
// `goldsmith toe run` over it. toe writes its logs (console.log,
// detailedoutput.json, ...) under StagePath/logs. Build treats StagePath as
// build-private: before the layer of the sandbox that staged it is written,
// StagePath/logs is copied to Options.LogDir and StagePath is removed, so
// neither the binary, the documents nor the logs end up in the image (the
// COPY and the RUN are consecutive and share one sandbox, see Build).
const (
	StageContextDir = ".goldsmith"
	StagePath       = "/goldsmith"
	stageBinary     = "bin/goldsmith"
	stageComponents = "components"
	stageConfig     = "toe.json"
	stageLogs       = "logs"
	// DefaultWorkingDirectory is the recipe's workingDirectory when unset.
	DefaultWorkingDirectory = "/tmp"
	// BuildPhases are the toe phases a container build runs.
	BuildPhases = "build,validate"
)

// Component is one component document to stage, in recipe order.
type Component struct {
	Name       string            // component name, used in the staged file name
	Document   []byte            // the YAML document
	Parameters map[string]string // the recipe's parameter values for it
}

// StagedComponents is what Stage wrote, the input of ComponentsBlock.
type StagedComponents struct {
	Paths            []string // in-image document paths, in order
	WorkingDirectory string   // the recipe's workingDirectory (default /tmp)
	Phases           string   // default BuildPhases
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Stage writes the staging layout into contextDir: the goldsmith binary read
// from binary (a host path to a static goldsmith executable), the component
// documents and toe.json. workingDirectory "" means DefaultWorkingDirectory.
func Stage(ctx context.Context, contextDir, binary string, comps []Component, workingDirectory string) (StagedComponents, error) {
	if workingDirectory == "" {
		workingDirectory = DefaultWorkingDirectory
	}
	if !path.IsAbs(workingDirectory) {
		return StagedComponents{}, fmt.Errorf("staging components: working directory %q is not absolute", workingDirectory)
	}
	root := filepath.Join(contextDir, StageContextDir)
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		return StagedComponents{}, fmt.Errorf("staging components: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(root, stageComponents), 0o755); err != nil {
		return StagedComponents{}, fmt.Errorf("staging components: %w", err)
	}
	if err := copyHostFile(ctx, binary, filepath.Join(root, stageBinary), 0o755); err != nil {
		return StagedComponents{}, fmt.Errorf("staging the goldsmith binary: %w", err)
	}
	out := StagedComponents{WorkingDirectory: workingDirectory, Phases: BuildPhases}
	cfg := toe.RunConfig{Phases: BuildPhases}
	for i, c := range comps {
		name := strings.Trim(unsafeName.ReplaceAllString(c.Name, "-"), "-")
		if name == "" {
			name = "component"
		}
		file := fmt.Sprintf("%02d-%s.yml", i+1, name)
		if err := os.WriteFile(filepath.Join(root, stageComponents, file), c.Document, 0o644); err != nil {
			return StagedComponents{}, fmt.Errorf("staging component %s: %w", c.Name, err)
		}
		p := path.Join(StagePath, stageComponents, file)
		out.Paths = append(out.Paths, p)
		cfg.Documents = append(cfg.Documents, toe.NewConfigDocument(p, c.Parameters))
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return StagedComponents{}, fmt.Errorf("staging components: %w", err)
	}
	if err := os.WriteFile(filepath.Join(root, stageConfig), data, 0o644); err != nil {
		return StagedComponents{}, fmt.Errorf("staging components: %w", err)
	}
	return out, nil
}

// EnvironmentsBlock is what {{{ imagebuilder:environments }}} expands to:
// WORKDIR <workingDirectory> (default /tmp). Unlike Image Builder's, it
// copies nothing: the staged files are copied by ComponentsBlock, in the same
// layer as the RUN that uses and removes them.
func EnvironmentsBlock(workingDirectory string) string {
	if workingDirectory == "" {
		workingDirectory = DefaultWorkingDirectory
	}
	return "WORKDIR " + workingDirectory + "\n"
}

// ComponentsBlock is what {{{ imagebuilder:components }}} expands to: a COPY
// of the staging directory to /goldsmith and one exec-form RUN of
//
//	/goldsmith/bin/goldsmith toe run --config /goldsmith/toe.json --phases build,validate \
//	  --log-directory /goldsmith/logs --working-directory <workingDirectory>
//
// The exec form needs no shell in the image. Parameters travel in toe.json,
// so no value is ever shell-quoted. A run without components expands to "".
func ComponentsBlock(s StagedComponents) string {
	if len(s.Paths) == 0 {
		return ""
	}
	wd, phases := s.WorkingDirectory, s.Phases
	if wd == "" {
		wd = DefaultWorkingDirectory
	}
	if phases == "" {
		phases = BuildPhases
	}
	args := []string{
		path.Join(StagePath, stageBinary), "toe", "run",
		"--config", path.Join(StagePath, stageConfig),
		"--phases", phases,
		"--log-directory", path.Join(StagePath, stageLogs),
		"--working-directory", wd,
	}
	return "COPY " + StageContextDir + "/ " + StagePath + "/\n" + "RUN " + jsonArgs(args) + "\n"
}

// jsonArgs renders a JSON array for the exec form of an instruction.
func jsonArgs(args []string) string {
	b, _ := json.Marshal(args) // a []string always marshals
	return string(b)
}

// copyHostFile copies a host file with the given mode.
func copyHostFile(ctx context.Context, src, dst string, mode os.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
