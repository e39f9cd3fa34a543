package agent

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/goldsmith/goldsmith/internal/toe"
)

// JobsDir holds the run-toe jobs on the image's disk, one folder per job,
// so that they survive a reboot:
//
//	/var/lib/goldsmith-agent/<job id>/job.json        jobState
//	/var/lib/goldsmith-agent/<job id>/documents/NN-<name>.yml
//	/var/lib/goldsmith-agent/<job id>/toe.json        the toe run configuration
//	/var/lib/goldsmith-agent/<job id>/state/          toe's reboot state
//	/var/lib/goldsmith-agent/<job id>/logs/           toe's log folder(s)
//	/var/lib/goldsmith-agent/<job id>/result.json     the ToeResult, once done
const JobsDir = "/var/lib/goldsmith-agent"

// Default toe phases and working directory of a ToeJob.
const (
	DefaultPhases     = "build,validate"
	DefaultWorkingDir = "/tmp"
)

// toeExitReboot is goldsmith toe run's "reboot requested" exit code.
const toeExitReboot = 194

// Job statuses.
const (
	jobRunning   = "running"
	jobRebooting = "rebooting"
	jobDone      = "done"
)

// jobState is job.json.
type jobState struct {
	ID         string    `json:"id"`
	RequestID  string    `json:"requestId"` // the run-toe request that the job answers
	Phases     string    `json:"phases"`
	WorkingDir string    `json:"workingDir"`
	Status     string    `json:"status"`
	Reboots    int       `json:"reboots"`
	Started    time.Time `json:"started"`
}

var (
	safeJobID   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
)

func (s *server) jobDir(id string) string { return path.Join(JobsDir, id) }

// DocumentPath is where a job's document is in the guest (as toe's
// detailed output names it): JobsDir/<job id>/documents/<file name>. A
// ToeDocument without FileName is stored as NN-<name>.yml (NN from 01).
func DocumentPath(jobID, fileName string) string {
	return path.Join(JobsDir, jobID, "documents", fileName)
}

func (s *server) loadJob(id string) (*jobState, error) {
	data, err := os.ReadFile(s.hostPath(path.Join(s.jobDir(id), "job.json")))
	if err != nil {
		return nil, err
	}
	var j jobState
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("job %s: %w", id, err)
	}
	return &j, nil
}

func (s *server) saveJob(j *jobState) error {
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("saving job %s: %w", j.ID, err)
	}
	return writeFileSync(s.hostPath(path.Join(s.jobDir(j.ID), "job.json")), data)
}

// writeFileSync replaces name with data durably (temp file, fsync, rename).
func writeFileSync(name string, data []byte) error {
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// unfinishedJob finds a job that a reboot interrupted (nil if none).
func (s *server) unfinishedJob() (*jobState, error) {
	entries, err := os.ReadDir(s.hostPath(JobsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing jobs: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		j, err := s.loadJob(e.Name())
		if err != nil {
			continue
		}
		if j.Status == jobRunning || j.Status == jobRebooting {
			return j, nil
		}
	}
	return nil, nil
}

// runToe answers a run-toe request: it stages the job and runs toe, or
// answers with the stored result of a finished job of the same id.
func (s *server) runToe(ctx context.Context, reqID string, job ToeJob) error {
	if !safeJobID.MatchString(job.ID) {
		s.sendError(reqID, fmt.Errorf("run-toe: job id %q must match %s", job.ID, safeJobID))
		return nil
	}
	if res, err := s.storedResult(job.ID); err == nil {
		return s.reply(reqID, TypeResult, res)
	}
	j, err := s.loadJob(job.ID)
	if err == nil {
		j.RequestID = reqID // an interrupted job: run toe again, it resumes
	} else {
		if j, err = s.stageJob(reqID, job); err != nil {
			s.sendError(reqID, fmt.Errorf("run-toe %s: %w", job.ID, err))
			return nil
		}
	}
	return s.runJob(ctx, j)
}

// resumeJob continues a job after a reboot.
func (s *server) resumeJob(ctx context.Context, j *jobState) error {
	s.log.Info("resuming job after a reboot", "job", j.ID, "reboots", j.Reboots)
	return s.runJob(ctx, j)
}

func (s *server) storedResult(id string) (*ToeResult, error) {
	data, err := os.ReadFile(s.hostPath(path.Join(s.jobDir(id), "result.json")))
	if err != nil {
		return nil, err
	}
	var r ToeResult
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("job %s result: %w", id, err)
	}
	return &r, nil
}

// stageJob writes the job folder.
func (s *server) stageJob(reqID string, job ToeJob) (*jobState, error) {
	if len(job.Documents) == 0 {
		return nil, errors.New("no documents")
	}
	j := &jobState{ID: job.ID, RequestID: reqID, Phases: job.Phases, WorkingDir: job.WorkingDir,
		Status: jobRunning, Started: time.Now().UTC()}
	if j.Phases == "" {
		j.Phases = DefaultPhases
	}
	if j.WorkingDir == "" {
		j.WorkingDir = DefaultWorkingDir
	}
	if !path.IsAbs(j.WorkingDir) {
		return nil, fmt.Errorf("working directory %q is not absolute", j.WorkingDir)
	}
	dir := s.jobDir(job.ID)
	for _, sub := range []string{"documents", "state", "logs"} {
		if err := os.MkdirAll(s.hostPath(path.Join(dir, sub)), 0o700); err != nil {
			return nil, fmt.Errorf("creating the job folder: %w", err)
		}
	}
	cfg := toe.RunConfig{Phases: j.Phases}
	seen := map[string]bool{}
	for i, d := range job.Documents {
		file := d.FileName
		if file == "" {
			name := strings.Trim(unsafeChars.ReplaceAllString(d.Name, "-"), "-.")
			if name == "" {
				name = "component"
			}
			file = fmt.Sprintf("%02d-%s.yml", i+1, name)
		}
		if !safeJobID.MatchString(file) || seen[file] {
			return nil, fmt.Errorf("document %d: file name %q is not a unique plain file name", i, file)
		}
		seen[file] = true
		p := DocumentPath(job.ID, file)
		if err := os.WriteFile(s.hostPath(p), d.Content, 0o600); err != nil {
			return nil, fmt.Errorf("writing document %s: %w", d.Name, err)
		}
		cfg.Documents = append(cfg.Documents, toe.NewConfigDocument(s.cmdPath(p), job.Parameters[i]))
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding toe.json: %w", err)
	}
	if err := writeFileSync(s.hostPath(path.Join(dir, "toe.json")), data); err != nil {
		return nil, err
	}
	if err := s.saveJob(j); err != nil {
		return nil, err
	}
	return j, nil
}

// runJob runs (or resumes) toe for j and answers its request with output
// events and a result, or reboots when toe asks for it (errStopped).
func (s *server) runJob(ctx context.Context, j *jobState) error {
	dir := s.jobDir(j.ID)
	if hp, err := resolveInRoot(s.o.Root, j.WorkingDir, true); err == nil {
		_ = os.MkdirAll(hp, 0o755) // toe reports a missing working directory itself
	}
	argv := []string{s.o.Binary, "toe", "run",
		"--config", s.cmdPath(path.Join(dir, "toe.json")),
		"--phases", j.Phases,
		"--log-directory", s.cmdPath(path.Join(dir, "logs")),
		"--state-directory", s.cmdPath(path.Join(dir, "state")),
		"--working-directory", s.cmdPath(j.WorkingDir),
		"--execution-id", j.ID,
	}
	if s.o.Binary == "" {
		s.sendError(j.RequestID, errors.New("run-toe: the agent has no goldsmith binary"))
		return nil
	}
	cmd, err := s.command(ctx, argv, nil, j.WorkingDir)
	if err != nil {
		s.sendError(j.RequestID, fmt.Errorf("run-toe %s: %w", j.ID, err))
		return nil
	}
	if !s.o.Chroot {
		cmd.Path = s.o.Binary
	}
	out := func(stream string) *lineWriter {
		return &lineWriter{emit: func(line string) {
			if err := s.send(j.RequestID, TypeOutput, OutputEvent{Stream: stream, Line: line}); err != nil {
				s.log.Debug("output event not sent", "err", err)
			}
		}}
	}
	stdout, stderr := out("stdout"), out("stderr")
	cmd.Stdout, cmd.Stderr = stdout, stderr
	s.log.Info("running toe", "job", j.ID, "phases", j.Phases, "reboots", j.Reboots)
	code, err := s.run(cmd)
	stdout.Flush()
	stderr.Flush()
	if err != nil {
		j.Status = jobDone
		_ = s.saveJob(j)
		s.sendError(j.RequestID, fmt.Errorf("run-toe %s: %w", j.ID, err))
		return nil
	}
	if code == toeExitReboot {
		j.Status, j.Reboots = jobRebooting, j.Reboots+1
		if err := s.saveJob(j); err != nil {
			s.sendError(j.RequestID, err)
			return nil
		}
		if s.o.Reboot == nil {
			s.sendError(j.RequestID, errors.New("run-toe: toe asked for a reboot, but the agent cannot reboot"))
			return nil
		}
		syscall.Sync()
		_ = s.send(j.RequestID, TypeRebooting, RebootingEvent{Reboots: j.Reboots})
		s.log.Info("rebooting for job", "job", j.ID, "reboots", j.Reboots)
		if err := s.o.Reboot(ctx); err != nil {
			s.sendError(j.RequestID, fmt.Errorf("run-toe: rebooting: %w", err))
			return nil
		}
		return errStopped
	}
	res := &ToeResult{ExitCode: code, Reboots: j.Reboots}
	logs := s.hostPath(path.Join(dir, "logs"))
	res.DetailedOutput = readDetailedOutput(logs)
	if res.Logs, err = tarGz(logs, MaxLogs); err != nil {
		s.log.Warn("packing toe logs", "job", j.ID, "err", err)
		res.Logs, res.LogsTruncated = nil, true
	}
	j.Status = jobDone
	if data, err := json.Marshal(res); err == nil {
		_ = writeFileSync(s.hostPath(path.Join(dir, "result.json")), data)
	}
	if err := s.saveJob(j); err != nil {
		s.log.Warn("saving job", "err", err)
	}
	return s.reply(j.RequestID, TypeResult, res)
}

// readDetailedOutput returns the newest detailedoutput.json under logs.
func readDetailedOutput(logs string) []byte {
	var best string
	var bestTime time.Time
	_ = filepath.WalkDir(logs, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "detailedoutput.json" {
			return nil
		}
		if fi, err := d.Info(); err == nil && !fi.ModTime().Before(bestTime) {
			best, bestTime = p, fi.ModTime()
		}
		return nil
	})
	if best == "" {
		return nil
	}
	data, _ := os.ReadFile(best)
	return data
}

// errTooLarge is returned by tarGz when the archive passes its cap.
var errTooLarge = errors.New("archive too large")

// tarGz packs dir (regular files and folders) into a tar.gz of at most max
// bytes.
func tarGz(dir string, max int) ([]byte, error) {
	var buf bytes.Buffer
	lw := &limitWriter{w: &buf, n: max}
	zw := gzip.NewWriter(lw)
	tw := tar.NewWriter(zw)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() && !fi.IsDir() {
			return nil
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyN(tw, f, hdr.Size)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("packing %s: %w", dir, err)
	}
	return buf.Bytes(), nil
}

type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if len(p) > l.n {
		return 0, errTooLarge
	}
	l.n -= len(p)
	return l.w.Write(p)
}
