// Package module implements the AWSTOE action modules used by the component
// engine in package toe.
//
// Every module validates its inputs before a run (Check) and executes them
// once they are fully resolved (Run). Inputs use the decoded document
// encoding: map[string]any, []any, string (the scalar's source text, so an
// unquoted 0755 is "0755") and nil for an absent value. Strings may contain
// {{ }} expressions when checked; such strings are accepted for any scalar
// type because their value is only known at run time. Unknown input keys
// are problems (AWSTOE's validate reports misspelled fields).
//
// Modules, inputs (* = required) and outputs:
//
//	ExecuteBash        commands*                                        stdout
//	ExecuteBinary      path*, arguments                                 stdout
//	ExecuteDocument    document*, document-s3-bucket-owner, phases,
//	                   parameters [{name, value}]                       whatever Env.RunDocument returns
//	Reboot             delaySeconds                                     (Result.Reboot)
//	UpdateOS           include, exclude                                 -
//	Assert             one condition expression                         -
//	S3Download  (list) source*, destination*, expectedBucketOwner, overwrite      -
//	S3Upload    (list) source*, destination*, recurse, expectedBucketOwner        -
//	WebDownload (list) source*, destination*, overwrite, checksum, algorithm,
//	                   ignoreCertificateErrors                          destination (paths joined by "\n")
//	CreateFile  (list) path*, content, encoding, owner, group, permissions, overwrite
//	AppendFile  (list) path*, content, encoding
//	CreateFolder (list) path*, owner, group, permissions, overwrite
//	CreateSymlink (list) path*, target*, force
//	CopyFile, CopyFolder, MoveFile, MoveFolder (list) source*, destination*, overwrite
//	DeleteFile  (list) path*
//	DeleteFolder (list) path*, force
//	ListFiles   (list) path*, fileNamePattern, recursive                files (paths joined by ",")
//	ReadFile    (list) path*, encoding, printFileContent                content
//	SetFileEncoding (list) path*, encoding
//	SetFileOwner (list) path*, owner*, group
//	SetFolderOwner (list) path*, owner*, group, recursive
//	SetFilePermissions (list) path*, permissions*
//	SetFolderPermissions (list) path*, permissions*, recursive
//	ExecutePowerShell, InstallMSI, UninstallMSI, SetRegistry: Windows only;
//	                   inputs are checked, Run fails on this platform.
package module

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
)

// Problem is one input validation failure.
type Problem struct {
	// Field is relative to the step's inputs, e.g. "commands" or "[0].path";
	// empty when the inputs as a whole are wrong.
	Field string
	// Msg explains what is wrong and names the offending value.
	Msg string
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Msg
	}
	return p.Field + ": " + p.Msg
}

// Module is one action module.
type Module interface {
	Name() string
	// Check validates inputs before any run.
	Check(in any) []Problem
	// Run executes with fully resolved inputs.
	Run(ctx context.Context, env *Env, in any) (Result, error)
}

// S3Options configures the S3 client used by S3Download and S3Upload. Empty
// fields mean the SDK defaults taken from the environment.
type S3Options struct {
	Endpoint        string
	Region          string
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	UsePathStyle    bool
}

// Env is what the engine provides to a running step.
type Env struct {
	Stdout, Stderr io.Writer // the step's console output
	Logger         *slog.Logger
	WorkDir        string // working directory for commands and relative paths ("" = current)
	TempDir        string // scratch directory the engine creates and removes
	S3             S3Options
	HTTPClient     *http.Client // nil = a default client with sane timeouts
	// RunDocument executes another document for ExecuteDocument. The
	// expected bucket owner of an s3:// document is available to it through
	// BucketOwnerFromContext.
	RunDocument func(ctx context.Context, source string, phases []string, params map[string]string) (map[string]any, error)
}

// Result is the outcome of a successful (or partially successful) run.
type Result struct {
	Outputs              map[string]any
	ExitCode             int
	Reboot               bool // a reboot was requested
	RetryStepAfterReboot bool // true for exit code 194 (same step again), false for the Reboot module (next step)
}

// registry builds the table of all modules. It is called once per lookup
// table; modules are stateless values.
func registry() map[string]Module {
	mods := []Module{
		executeBash{},
		executeBinary{},
		executeDocument{},
		reboot{},
		updateOS{},
		assertModule{},
		s3Download{},
		s3Upload{},
		webDownload{backoff: defaultBackoff},
		appendFile{},
		createFile{},
		createFolder{},
		createSymlink{},
		transfer{move: false, folder: false},
		transfer{move: false, folder: true},
		transfer{move: true, folder: false},
		transfer{move: true, folder: true},
		deleteFile{},
		deleteFolder{},
		listFiles{},
		readFile{},
		setFileEncoding{},
		setOwner{folder: false},
		setOwner{folder: true},
		setPermissions{folder: false},
		setPermissions{folder: true},
		windowsOnly{name: "ExecutePowerShell", check: checkExecutePowerShell},
		windowsOnly{name: "InstallMSI", check: checkMSI},
		windowsOnly{name: "UninstallMSI", check: checkMSI},
		windowsOnly{name: "SetRegistry", check: checkSetRegistry},
	}
	m := make(map[string]Module, len(mods))
	for _, mod := range mods {
		m[mod.Name()] = mod
	}
	return m
}

// Lookup returns the module with the given (case-sensitive) action name.
func Lookup(name string) (Module, bool) {
	m, ok := registry()[name]
	return m, ok
}

// Names lists all module names, sorted.
func Names() []string {
	r := registry()
	out := make([]string, 0, len(r))
	for n := range r {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// logger returns env's logger or a discarding one.
func (e *Env) logger() *slog.Logger {
	if e != nil && e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (e *Env) stdout() io.Writer {
	if e != nil && e.Stdout != nil {
		return e.Stdout
	}
	return io.Discard
}

func (e *Env) stderr() io.Writer {
	if e != nil && e.Stderr != nil {
		return e.Stderr
	}
	return io.Discard
}
