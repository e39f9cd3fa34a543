package module

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

type updateOS struct{}

var updateOSSpec = spec{{"include", kStringList, false}, {"exclude", kStringList, false}}

func (updateOS) Name() string { return "UpdateOS" }

func (updateOS) Check(in any) []Problem { return checkSingle(in, updateOSSpec, nil) }

// packageManagers in order of preference; the first found on PATH is used.
var packageManagers = []string{"dnf", "yum", "apt-get", "zypper", "apk"}

// detectPackageManager returns the first known package manager on PATH.
func detectPackageManager() (string, error) {
	for _, pm := range packageManagers {
		if _, err := exec.LookPath(pm); err == nil {
			return pm, nil
		}
	}
	return "", fmt.Errorf("no supported package manager found on PATH (looked for %s)", strings.Join(packageManagers, ", "))
}

// runFunc runs one command line and returns its stdout.
type runFunc func(ctx context.Context, argv []string, extraEnv []string) (string, error)

// Run installs the available updates (all, or only include) except
// exclude, using dnf, yum, apt-get, zypper or apk.
func (m updateOS) Run(ctx context.Context, env *Env, in any) (Result, error) {
	if err := errProblems(m.Name(), m.Check(in)); err != nil {
		return Result{}, err
	}
	v, err := single(in)
	if err != nil {
		return Result{}, fmt.Errorf("UpdateOS: %w", err)
	}
	pm, err := detectPackageManager()
	if err != nil {
		return Result{}, fmt.Errorf("UpdateOS: %w", err)
	}
	env.logger().Info("updating the operating system", "packageManager", pm)
	run := func(ctx context.Context, argv []string, extraEnv []string) (string, error) {
		_, _ = fmt.Fprintf(env.stdout(), "+ %s\n", strings.Join(argv, " "))
		pr, err := runProcess(ctx, env, argv[0], argv[1:], extraEnv)
		if err != nil {
			return pr.Stdout, err
		}
		if pr.ExitCode != 0 {
			return pr.Stdout, fmt.Errorf("%s: %w", strings.Join(argv, " "), &ExitError{Code: pr.ExitCode})
		}
		return pr.Stdout, nil
	}
	if err := updatePackages(ctx, pm, v.strings("include"), v.strings("exclude"), run); err != nil {
		return Result{}, fmt.Errorf("UpdateOS (%s): %w", pm, err)
	}
	return Result{}, nil
}

// effectiveInclude is include minus the names excluded literally.
func effectiveInclude(include, exclude []string) []string {
	var out []string
	for _, p := range include {
		if !slices.Contains(exclude, p) {
			out = append(out, p)
		}
	}
	return out
}

// updatePackages issues the package-manager commands.
func updatePackages(ctx context.Context, pm string, include, exclude []string, run runFunc) (err error) {
	pkgs := effectiveInclude(include, exclude)
	if len(include) > 0 && len(pkgs) == 0 {
		return nil // everything requested is excluded
	}
	switch pm {
	case "dnf", "yum":
		verb := "upgrade"
		if pm == "yum" {
			verb = "update"
		}
		argv := []string{pm, "-y", verb}
		for _, x := range exclude {
			argv = append(argv, "--exclude="+x)
		}
		_, err = run(ctx, append(argv, pkgs...), nil)
		return err

	case "apt-get":
		aptEnv := []string{"DEBIAN_FRONTEND=noninteractive"}
		if _, err := run(ctx, []string{"apt-get", "update"}, aptEnv); err != nil {
			return err
		}
		if len(exclude) > 0 {
			held, err := run(ctx, []string{"apt-mark", "showhold"}, aptEnv)
			if err != nil {
				return err
			}
			var hold []string
			for _, x := range exclude {
				if !slices.Contains(strings.Fields(held), x) {
					hold = append(hold, x)
				}
			}
			if len(hold) > 0 {
				if _, err := run(ctx, append([]string{"apt-mark", "hold"}, hold...), aptEnv); err != nil {
					return err
				}
				defer func() {
					_, uerr := run(context.WithoutCancel(ctx), append([]string{"apt-mark", "unhold"}, hold...), aptEnv)
					err = errors.Join(err, uerr)
				}()
			}
		}
		argv := []string{"apt-get", "-y", "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"}
		if len(pkgs) > 0 {
			argv = append(append(argv, "install", "--only-upgrade"), pkgs...)
		} else {
			argv = append(argv, "upgrade", "--with-new-pkgs")
		}
		_, err = run(ctx, argv, aptEnv)
		return err

	case "zypper":
		if _, err := run(ctx, []string{"zypper", "--non-interactive", "refresh"}, nil); err != nil {
			return err
		}
		if len(exclude) > 0 {
			if _, err := run(ctx, append([]string{"zypper", "--non-interactive", "addlock"}, exclude...), nil); err != nil {
				return err
			}
			defer func() {
				_, uerr := run(context.WithoutCancel(ctx), append([]string{"zypper", "--non-interactive", "removelock"}, exclude...), nil)
				err = errors.Join(err, uerr)
			}()
		}
		_, err = run(ctx, append([]string{"zypper", "--non-interactive", "update"}, pkgs...), nil)
		return err

	case "apk":
		if _, err := run(ctx, []string{"apk", "update"}, nil); err != nil {
			return err
		}
		if len(exclude) > 0 && len(pkgs) == 0 {
			out, err := run(ctx, []string{"apk", "version", "-l", "<"}, nil)
			if err != nil {
				return err
			}
			for _, name := range apkUpgradable(out) {
				if !slices.ContainsFunc(exclude, func(x string) bool { return matchStar(x, name) }) {
					pkgs = append(pkgs, name)
				}
			}
			if len(pkgs) == 0 {
				return nil
			}
		} else if len(exclude) > 0 {
			var kept []string
			for _, name := range pkgs {
				if !slices.ContainsFunc(exclude, func(x string) bool { return matchStar(x, name) }) {
					kept = append(kept, name)
				}
			}
			if pkgs = kept; len(pkgs) == 0 {
				return nil
			}
		}
		_, err = run(ctx, append([]string{"apk", "upgrade"}, pkgs...), nil)
		return err
	}
	return fmt.Errorf("unsupported package manager %q", pm)
}

// apkUpgradable parses `apk version -l '<'` lines such as
// "musl-1.2.4-r1  < 1.2.4-r2" into package names.
func apkUpgradable(out string) []string {
	var names []string
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[1] != "<" {
			continue
		}
		nv := fields[0]
		// Strip "-<version>-r<N>".
		if i := strings.LastIndex(nv, "-r"); i > 0 {
			nv = nv[:i]
			if j := strings.LastIndex(nv, "-"); j > 0 {
				names = append(names, nv[:j])
			}
		}
	}
	return names
}
