// Package toecli is the `toe` command (validate, run) shared by the
// goldsmith binary and the small goldsmith-agent binary that build VMs boot.
package toecli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/goldsmith/goldsmith/internal/artifact"
	"github.com/goldsmith/goldsmith/internal/docsource"
	"github.com/goldsmith/goldsmith/internal/toe"
)

// toeExit is an error that carries the process exit code (honoured by
// main through its ExitCode method).
type toeExit struct {
	code int
	err  error
}

func (e *toeExit) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *toeExit) Unwrap() error { return e.err }

// ExitCode is the process exit code.
func (e *toeExit) ExitCode() int { return e.code }

// exitCoder is an error that chooses the process exit code.
type exitCoder interface{ ExitCode() int }

// ExitCode is the process exit code for an error a command returned: the
// code of the first error in its chain that carries one (ExitCode() int),
// else 1.
func ExitCode(err error) int {
	var ec exitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

// Exit codes of goldsmith toe (AWSTOE compatible).
const (
	toeExitFailure = 1
	toeExitReboot  = 194
)

// NewCommand returns the `toe` command. Its errors carry the AWSTOE exit
// code (ExitCode() int): 1 failure, 194 reboot requested.
func NewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "toe",
		Short: "Validate and run AWSTOE component documents",
	}
	cmd.AddCommand(newToeValidateCmd(), newToeRunCmd())
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// loadDocuments reads and parses local documents.
func loadDocuments(paths []string) ([]*toe.Document, error) {
	var docs []*toe.Document
	var errs []error
	for _, p := range paths {
		if strings.HasPrefix(p, "s3://") || strings.HasPrefix(p, "arn:") {
			errs = append(errs, fmt.Errorf("%s: only local documents are supported by this command", p))
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading document: %w", err))
			continue
		}
		d, err := toe.ParseDocument(p, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		docs = append(docs, d)
	}
	return docs, errors.Join(errs...)
}

func newToeValidateCmd() *cobra.Command {
	var documents string
	cmd := &cobra.Command{
		Use:   "validate --documents a.yml[,b.yml]",
		Short: "Validate component documents",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			docs, perr := loadDocuments(splitList(documents))
			err := errors.Join(perr, toe.Validate(docs...))
			out := map[string]any{"validationStatus": "success"}
			if err != nil {
				out = map[string]any{"validationStatus": "failed", "message": err.Error(), "errors": documentErrors(err)}
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if werr := enc.Encode(out); werr != nil {
				return werr
			}
			if err != nil {
				return &toeExit{code: toeExitFailure, err: fmt.Errorf("validation failed")}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&documents, "documents", "d", "", "comma-separated document paths")
	return cmd
}

// documentErrors lists the located errors inside err for JSON output.
func documentErrors(err error) []map[string]any {
	var out []map[string]any
	var walk func(error)
	walk = func(e error) {
		var de *toe.DocumentError
		if errors.As(e, &de) && e == error(de) {
			out = append(out, map[string]any{"file": de.File, "line": de.Line, "column": de.Column,
				"step": de.Step, "field": de.Field, "message": de.Msg})
			return
		}
		if u, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range u.Unwrap() {
				walk(x)
			}
			return
		}
		out = append(out, map[string]any{"message": e.Error()})
	}
	walk(err)
	return out
}

// toeRunFlags are the flags of goldsmith toe run.
type toeRunFlags struct {
	config, documents, phases, parameters string
	executionID, logDir, stateDir         string
	workDir, blocked, rootfs              string
	s3Endpoint, s3Region, endpoint        string
	s3PathStyle, trace                    bool
}

func parseParameters(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range splitList(s) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--parameters: %q is not name=value", kv)
		}
		if v == "" {
			return nil, fmt.Errorf("--parameters: %s has an empty value", k)
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

func newToeRunCmd() *cobra.Command {
	var f toeRunFlags
	cmd := &cobra.Command{
		Use:   "run --documents a.yml[,b.yml] [--phases build,validate]",
		Short: "Run component documents (exit 0 success, 194 reboot requested, 1 failure)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runToe(ctx, cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "JSON run configuration file")
	fl.StringVarP(&f.documents, "documents", "d", "", "comma-separated document paths")
	fl.StringVarP(&f.phases, "phases", "p", "", "comma-separated phases to run (default: all)")
	fl.StringVar(&f.parameters, "parameters", "", "name=value[,name=value] parameter values for all documents")
	fl.StringVarP(&f.executionID, "execution-id", "i", "", "execution id (default: a new UUID); reuse it to resume after a reboot")
	fl.StringVarP(&f.logDir, "log-directory", "l", "", "parent folder of the log folder (default .)")
	fl.StringVarP(&f.stateDir, "state-directory", "s", "", "reboot state folder (default: the log directory)")
	fl.StringVar(&f.workDir, "working-directory", "", "working directory of the steps (default: current)")
	fl.StringVar(&f.blocked, "blocked-action-modules", "", "comma-separated action modules to refuse")
	fl.StringVar(&f.rootfs, "rootfs", "", "run inside this root filesystem (namespaces + overlayfs; changes are thrown away)")
	fl.StringVar(&f.s3Endpoint, "s3-endpoint", os.Getenv("GOLDSMITH_S3_ENDPOINT"), "S3-compatible endpoint for S3Download/S3Upload (default: AWS; env GOLDSMITH_S3_ENDPOINT)")
	fl.StringVar(&f.s3Region, "s3-region", "", "S3 region (default: from the AWS environment)")
	fl.BoolVar(&f.s3PathStyle, "s3-path-style", false, "use path-style S3 addressing")
	fl.BoolVarP(&f.trace, "trace", "t", false, "also print the application log to stderr")
	fl.StringVar(&f.endpoint, "endpoint", os.Getenv("GOLDSMITH_ENDPOINT"), "goldsmith API that ExecuteDocument component ARNs are read from (env GOLDSMITH_ENDPOINT; keys from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, default test/test)")
	return cmd
}

func runToe(ctx context.Context, cmd *cobra.Command, f toeRunFlags) error {
	opts := toe.RunOptions{Stdout: cmd.OutOrStdout(), WorkDir: f.workDir}
	var paths []string
	var docParams []map[string]string
	if f.config != "" {
		if f.documents != "" || f.parameters != "" {
			return &toeExit{code: toeExitFailure, err: errors.New("--documents and --parameters cannot be combined with --config")}
		}
		data, err := os.ReadFile(f.config)
		if err != nil {
			return &toeExit{code: toeExitFailure, err: fmt.Errorf("reading config: %w", err)}
		}
		var c toe.RunConfig
		if err := json.Unmarshal(data, &c); err != nil {
			return &toeExit{code: toeExitFailure, err: fmt.Errorf("config %s: %w", f.config, err)}
		}
		for _, d := range c.Documents {
			paths = append(paths, d.Path)
			docParams = append(docParams, toe.ParameterMap(d.Parameters))
		}
		opts.Parameters = toe.ParameterMap(c.Parameters)
		opts.ExecutionID = cmp.Or(c.ExecutionID, c.ExecutonID)
		opts.LogDirectory, opts.StateDirectory = c.LogDirectory, c.StateDirectory
		opts.Phases = splitList(c.Phases)
		f.trace = f.trace || c.Trace
	} else {
		paths = splitList(f.documents)
		p, err := parseParameters(f.parameters)
		if err != nil {
			return &toeExit{code: toeExitFailure, err: err}
		}
		opts.Parameters = p
	}
	opts.DocumentParameters = docParams
	if f.phases != "" {
		opts.Phases = splitList(f.phases)
	}
	opts.ExecutionID = cmp.Or(f.executionID, opts.ExecutionID)
	opts.LogDirectory = cmp.Or(f.logDir, opts.LogDirectory, ".")
	opts.StateDirectory = cmp.Or(f.stateDir, opts.StateDirectory)
	opts.BlockedModules = splitList(f.blocked)
	opts.S3.Endpoint, opts.S3.Region, opts.S3.UsePathStyle = f.s3Endpoint, f.s3Region, f.s3PathStyle
	opts.LoadDocument = docsource.New(
		artifact.S3Options{Endpoint: f.s3Endpoint, Region: f.s3Region, UsePathStyle: f.s3PathStyle,
			AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY")},
		docsource.Server{Endpoint: f.endpoint, Region: cmp.Or(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1"),
			AccessKeyID:     cmp.Or(os.Getenv("AWS_ACCESS_KEY_ID"), "test"),
			SecretAccessKey: cmp.Or(os.Getenv("AWS_SECRET_ACCESS_KEY"), "test")},
	).Load
	if f.trace {
		opts.Logger = newTraceLogger(cmd.ErrOrStderr())
	}
	if len(paths) == 0 && (opts.ExecutionID == "" || !stateExists(opts)) {
		return &toeExit{code: toeExitFailure, err: errors.New("no documents given (use --documents or --config)")}
	}
	if f.rootfs != "" && !toe.InRootFS() {
		return rerunInRootFS(ctx, cmd, f, opts)
	}
	docs, err := loadDocuments(paths)
	if err != nil {
		return &toeExit{code: toeExitFailure, err: err}
	}
	opts.Documents = docs
	if toe.InRootFS() {
		if err := toe.EnterRootFS(f.rootfs, opts.LogDirectory, cmp.Or(opts.StateDirectory, opts.LogDirectory)); err != nil {
			return &toeExit{code: toeExitFailure, err: err}
		}
		if opts.WorkDir == "" {
			opts.WorkDir = "/tmp"
		}
	}
	exec, err := toe.Run(ctx, opts)
	if err != nil {
		return &toeExit{code: toeExitFailure, err: err}
	}
	switch {
	case exec.Status == toe.StatusRebootRequested:
		return &toeExit{code: toeExitReboot, err: fmt.Errorf("reboot requested; run again with --execution-id %s after the reboot", exec.ExecutionID)}
	case exec.Status.Succeeded():
		return nil
	}
	return &toeExit{code: toeExitFailure, err: fmt.Errorf("execution %s: %s: %s", exec.ExecutionID, exec.Status, exec.FailureMessage)}
}

func stateExists(o toe.RunOptions) bool {
	_, err := os.Stat(toe.StatePath(cmp.Or(o.StateDirectory, o.LogDirectory), o.ExecutionID))
	return err == nil
}

// rerunInRootFS re-executes this command inside new namespaces with the
// root filesystem mounted as a throw-away overlay.
func rerunInRootFS(ctx context.Context, cmd *cobra.Command, f toeRunFlags, opts toe.RunOptions) error {
	logDir, err := filepath.Abs(opts.LogDirectory)
	if err != nil {
		return &toeExit{code: toeExitFailure, err: err}
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return &toeExit{code: toeExitFailure, err: fmt.Errorf("log directory: %w", err)}
	}
	args := append([]string{}, os.Args[1:]...)
	args = append(args, "--log-directory", logDir)
	if opts.StateDirectory != "" {
		sd, err := filepath.Abs(opts.StateDirectory)
		if err != nil {
			return &toeExit{code: toeExitFailure, err: err}
		}
		args = append(args, "--state-directory", sd)
	}
	code, err := toe.ReexecInRootFS(ctx, f.rootfs, args, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
	if err != nil {
		return &toeExit{code: toeExitFailure, err: err}
	}
	if code != 0 {
		return &toeExit{code: code, err: fmt.Errorf("toe run in %s exited with status %d", f.rootfs, code)}
	}
	return nil
}

// newTraceLogger prints the application log to w.
func newTraceLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
