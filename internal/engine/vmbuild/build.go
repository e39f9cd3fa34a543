package vmbuild

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/goldsmith/goldsmith/internal/agent"
	"github.com/goldsmith/goldsmith/internal/engine/containerbuild"
	"github.com/goldsmith/goldsmith/internal/instance/vm"
	"github.com/goldsmith/goldsmith/internal/osrelease"
)

// Stage names: the scratch sub-directories and log folders.
const (
	stageBuild = "build"
	stageTest  = "test"
)

// Files of the scratch directory.
const (
	capturedFile = "captured.qcow2"
	buildState   = "build.json"
)

// Phases run by the stages.
const (
	BuildPhases = "build,validate"
	TestPhase   = "test"
)

// BuildStage boots the build instance from an overlay on the parent, runs
// the components' build and validate phases, collects the OS version (and
// the packages when asked), sanitizes the guest, powers it off and
// captures the disk as a standalone qcow2. A build stage that completed
// before (its state file exists) returns its result again.
func BuildStage(ctx context.Context, s Spec, onStep containerbuild.StepFunc, log *slog.Logger) (*BuildResult, error) {
	if r, err := readBuild(s); err == nil {
		return r, nil
	}
	if log == nil {
		log = slog.Default()
	}
	st := containerbuild.NewStepper(onStep)
	var in *instance
	failed := true
	defer func() {
		in.keepConsole(s.LogDir, stageBuild)
		if failed && s.KeepOnFailure && in != nil {
			in.kill() // the disk stays for `goldsmith debug`
			return
		}
		in.kill()
	}()
	err := st.Run(ctx, "LaunchBuildInstance", "LaunchInstance", map[string]string{"imageId": s.Parent.Path},
		func(out map[string]string) (string, error) {
			var err error
			in, err = launch(ctx, s, s.Parent, stageBuild, log)
			if err != nil {
				return "", err
			}
			out["instanceId"] = in.id
			out["kernel"] = in.hello.Kernel
			return fmt.Sprintf("instance %s booted %s (kernel %s)", in.id, in.hello.OSRelease, in.hello.Kernel), nil
		})
	if err != nil {
		return nil, err
	}
	res := &BuildResult{OSVersion: in.hello.OSRelease}
	stamp := kernelStamp(ctx, in.c)
	if len(s.UserData) > 0 {
		err = st.Run(ctx, "RunUserData", "RunCommand", map[string]string{"instanceId": in.id},
			func(out map[string]string) (string, error) { return runUserData(ctx, in, s.UserData) })
		if err != nil {
			return nil, err
		}
	}
	err = st.Run(ctx, "ApplyBuildComponents", "ExecuteComponents", map[string]string{"instanceId": in.id, "phases": BuildPhases},
		func(out map[string]string) (string, error) {
			return runComponents(ctx, s, in, BuildPhases, stageBuild, out)
		})
	if err != nil {
		return nil, err
	}
	if s.CollectMeta {
		err = st.Run(ctx, "InventoryCollection", "CollectImageMetadata", map[string]string{"instanceId": in.id},
			func(out map[string]string) (string, error) {
				pkgs, err := packages(ctx, in.c)
				if err != nil {
					return "", err
				}
				res.Packages = pkgs
				out["packages"] = strconv.Itoa(len(pkgs))
				return fmt.Sprintf("%d packages", len(pkgs)), nil
			})
		if err != nil {
			return nil, err
		}
	} else if err := st.Skip("InventoryCollection", "CollectImageMetadata", "enhancedImageMetadataEnabled is false"); err != nil {
		return nil, err
	}
	if osr, err := in.c.ReadFile(ctx, "/etc/os-release"); err == nil {
		if v := osrelease.OSVersion(osr); v != "" {
			res.OSVersion = v
		}
	}
	err = st.Run(ctx, "RunSanitizeScript", "SanitizeInstance", map[string]string{"instanceId": in.id},
		func(out map[string]string) (string, error) {
			wd := s.WorkingDir
			if wd == "" {
				wd = "/tmp"
			}
			return in.c.Sanitize(ctx, wd, s.KeepAgent)
		})
	if err != nil {
		return nil, err
	}
	if err := st.Skip("RunSysPrepScript", "RunSysPrep", "Linux image"); err != nil {
		return nil, err
	}
	if stamp != "" && kernelStamp(ctx, in.c) == stamp {
		if err := in.keepBoot(s); err != nil { // the test stage reads the capture instead
			log.WarnContext(ctx, "keeping the boot files for the test stage", "err", err)
		}
	}
	captured := filepath.Join(s.ScratchDir, capturedFile)
	err = st.Run(ctx, "CreateOutputAMI", "CreateImage", map[string]string{"instanceId": in.id},
		func(out map[string]string) (string, error) {
			if err := in.shutdown(ctx); err != nil {
				return "", err
			}
			tmp := captured + ".tmp"
			if err := vm.Convert(ctx, in.overlay, "qcow2", tmp, "qcow2", vm.ConvertOptions{}); err != nil {
				return "", fmt.Errorf("capturing the disk: %w", err)
			}
			if err := os.Rename(tmp, captured); err != nil {
				return "", fmt.Errorf("capturing the disk: %w", err)
			}
			out["disk"] = captured
			return "disk captured", nil
		})
	if err != nil {
		return nil, err
	}
	res.Disk = captured
	failed = false
	err = st.Run(ctx, "TerminateBuildInstance", "TerminateInstance", map[string]string{"instanceId": in.id},
		func(map[string]string) (string, error) {
			in.kill()
			in.keepConsole(s.LogDir, stageBuild)
			if err := os.RemoveAll(in.dir); err != nil {
				return "", fmt.Errorf("removing the instance's disk: %w", err)
			}
			in = nil
			return "", nil
		})
	if err != nil {
		return nil, err
	}
	if err := writeBuild(s, res); err != nil {
		return nil, err
	}
	return res, nil
}

// runComponents runs the recipe's components in the instance and keeps
// toe's logs under LogDir/<stage>/toe.
func runComponents(ctx context.Context, s Spec, in *instance, phases, stage string, out map[string]string) (string, error) {
	job := agent.ToeJob{ID: newInstanceID()[2:], Phases: phases, WorkingDir: s.WorkingDir,
		Parameters: map[int]map[string]string{}}
	for i, c := range s.Components {
		job.Documents = append(job.Documents, agent.ToeDocument{Name: c.Name, FileName: docFileName(i, c), Content: c.Document})
		if len(c.Parameters) > 0 {
			job.Parameters[i] = c.Parameters
		}
	}
	logDir := filepath.Join(s.LogDir, stage)
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return "", fmt.Errorf("log folder: %w", err)
	}
	outLog, err := os.Create(filepath.Join(logDir, "toe-output.log"))
	if err != nil {
		return "", fmt.Errorf("log folder: %w", err)
	}
	defer outLog.Close()
	res, err := in.c.RunToe(ctx, job, func(stream, line string) {
		fmt.Fprintf(outLog, "%s: %s\n", stream, line)
	})
	if err != nil {
		return "", fmt.Errorf("running the components: %w", err)
	}
	if len(res.Logs) > 0 {
		if err := os.WriteFile(filepath.Join(logDir, "toe-logs.tar.gz"), res.Logs, 0o600); err != nil {
			return "", fmt.Errorf("keeping toe's logs: %w", err)
		}
	}
	if len(res.DetailedOutput) > 0 {
		if err := os.WriteFile(filepath.Join(logDir, "detailedoutput.json"), res.DetailedOutput, 0o600); err != nil {
			return "", fmt.Errorf("keeping toe's output: %w", err)
		}
	}
	out["logs"] = logDir
	out["reboots"] = strconv.Itoa(res.Reboots)
	if res.ExitCode != 0 {
		paths := make([]string, len(s.Components))
		for i, c := range s.Components {
			paths[i] = agent.DocumentPath(job.ID, docFileName(i, c))
		}
		desc := containerbuild.DescribeToeFailure(res.DetailedOutput, paths, s.Components)
		if desc == "" {
			desc = fmt.Sprintf("toe exited with code %d", res.ExitCode)
		}
		return "", fmt.Errorf("%s (logs: %s)", desc, logDir)
	}
	return fmt.Sprintf("%d components ran (%s)", len(s.Components), phases), nil
}

// docFileName is the file name of component i's document in the guest.
func docFileName(i int, c Component) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '-'
	}, c.Name)
	return fmt.Sprintf("%02d-%s.yaml", i+1, name)
}

// packages lists the guest's installed packages from dpkg (or rpm).
func packages(ctx context.Context, c *agent.Client) ([]Package, error) {
	for _, argv := range [][]string{
		{"dpkg-query", "-W", "-f", "${Package}\t${Version}\n"},
		{"rpm", "-qa", "--qf", "%{NAME}\t%{VERSION}-%{RELEASE}\n"},
		{"apk", "list", "-I"},
	} {
		r, err := c.Exec(ctx, argv)
		if err != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("listing packages: %w", err)
		}
		if err != nil || r.ExitCode != 0 {
			continue // no such package manager in the image
		}
		var pkgs []Package
		for _, line := range strings.Split(string(r.Stdout), "\n") {
			name, ver, ok := strings.Cut(strings.TrimSpace(line), "\t")
			if argv[0] == "apk" {
				name, ver, ok = apkLine(line)
			}
			if ok && name != "" {
				pkgs = append(pkgs, Package{Name: name, Version: ver})
			}
		}
		return pkgs, nil
	}
	return nil, nil
}

// apkLine parses "name-1.2.3-r0 x86_64 {origin} (license) [installed]".
func apkLine(line string) (string, string, bool) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", "", false
	}
	parts := strings.Split(f[0], "-")
	if len(parts) < 3 {
		return "", "", false
	}
	return strings.Join(parts[:len(parts)-2], "-"), strings.Join(parts[len(parts)-2:], "-"), true
}

func readBuild(s Spec) (*BuildResult, error) {
	b, err := os.ReadFile(filepath.Join(s.ScratchDir, buildState))
	if err != nil {
		return nil, err
	}
	var r BuildResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	if _, err := os.Stat(r.Disk); err != nil {
		return nil, err
	}
	return &r, nil
}

func writeBuild(s Spec, r *BuildResult) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("build state: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.ScratchDir, buildState), b, 0o600); err != nil {
		return fmt.Errorf("build state: %w", err)
	}
	return nil
}

// Cleanup removes a build's scratch directory, killing what still runs
// for it.
func Cleanup(ctx context.Context, s Spec, log *slog.Logger) error {
	if s.ScratchDir == "" {
		return nil
	}
	run := filepath.Dir(RunDir(s.ScratchDir, stageBuild))
	if err := vm.Cleanup(run, log); err != nil {
		return err
	}
	for _, d := range []string{run, s.ScratchDir} {
		if err := os.RemoveAll(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", d, err)
		}
	}
	_ = os.Remove(filepath.Dir(run)) // the server's run dir, when it was the last build
	return nil
}

// userDataPath is where the user data is written in the guest (removed
// after it ran).
const userDataPath = "/var/lib/goldsmith-agent/user-data"

// runUserData runs the recipe's user data in the build instance: a script
// ("#!" first line) is executed as root; cloud-config needs cloud-init,
// which does not run in build instances, so it is refused with a reason.
func runUserData(ctx context.Context, in *instance, data []byte) (string, error) {
	if !bytes.HasPrefix(data, []byte("#!")) {
		return "", errors.New("userDataOverride must be a script starting with #! (cloud-config user data needs cloud-init, which does not run in goldsmith build instances)")
	}
	if err := in.c.WriteFile(ctx, userDataPath, data, 0o700); err != nil {
		return "", fmt.Errorf("staging the user data: %w", err)
	}
	r, err := in.c.Exec(ctx, []string{userDataPath})
	if err != nil {
		return "", fmt.Errorf("running the user data: %w", err)
	}
	if _, rerr := in.c.Exec(ctx, []string{"rm", "-f", userDataPath}); rerr != nil {
		return "", fmt.Errorf("removing the user data: %w", rerr)
	}
	if r.ExitCode != 0 {
		return "", fmt.Errorf("the user data exited with code %d: %s", r.ExitCode, tail(r.Stderr, 400))
	}
	return "user data ran: " + tail(r.Stdout, 400), nil
}

// tail returns the last n bytes of b as text.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
