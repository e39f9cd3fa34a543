package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Sanitize sections. Each can be skipped with an empty marker file
// skip_cleanup_<section> in the working directory, like the clean-up script
// of EC2 Image Builder's SanitizeInstance step (security-best-practices
// page, "Required clean-up after build"). The first six names are AWS's;
// AWS runs the /var/tmp, journal and machine-id parts unconditionally, and
// goldsmith gives them (and its own additions) names of their own:
//
//	cloudinit_files     /etc/sudoers.d/90-cloud-init-users, /etc/locale.conf, cloud-init logs,
//	                    everything under /var/lib/cloud except seed/ (a seed is image
//	                    configuration, not instance data)
//	instance_files      /etc/hostname, /etc/aliases.db, postfix locks and stamps, ...
//	ssh_files           SSH host keys, /root/.ssh/authorized_keys and every /home/*/.ssh/authorized_keys
//	instance_log_files  every regular file under /var/log truncated, rotated logs (*.gz, *.[0-9],
//	                    *.old) removed, /var/log/journal/* removed, sysstat files, dhclient leases,
//	                    rsyslog's imjournal.state
//	toe_files           <working directory>/TOE_* (toe log folders)
//	ssm_log_files       /var/log/amazon/ssm
//	machine_id          /etc/machine-id emptied (kept, empty: systemd makes a new one on first boot),
//	                    /var/lib/dbus/machine-id removed
//	shell_history       .bash_history, .ash_history, .zsh_history, .python_history, .lesshst,
//	                    .viminfo, .psql_history, .mysql_history of root and every /home/* user
//	tmp_files           the contents of /tmp and /var/tmp
//	agent_files         the agent's jobs (/var/lib/goldsmith-agent), unless keepAgent
//
// APT lists are kept (an image without them cannot install packages before
// an apt-get update); downloaded .deb archives are removed with tmp_files.
// The marker perform_cleanup of AWS's container wrapper is removed, not
// required. Files that may hold secrets are overwritten with zeros before
// they are removed, so that they do not survive in the disk image's free
// blocks.
var SanitizeSections = []string{
	"cloudinit_files", "instance_files", "ssh_files", "instance_log_files", "toe_files",
	"ssm_log_files", "machine_id", "shell_history", "tmp_files", "agent_files",
}

// sanitizer is one Sanitize run.
type sanitizer struct {
	root string
	out  strings.Builder
	errs []error
}

// Sanitize cleans the image at root before it is captured (see
// SanitizeSections) and returns what it did, one line per action.
func Sanitize(root, workingDir string, keepAgent bool) (string, error) {
	if workingDir == "" {
		workingDir = DefaultWorkingDir
	}
	if !path.IsAbs(workingDir) {
		return "", fmt.Errorf("sanitize: working directory %q is not absolute", workingDir)
	}
	z := &sanitizer{root: root}
	skip := map[string]bool{}
	for _, sec := range SanitizeSections {
		if fi, err := os.Stat(z.host(path.Join(workingDir, "skip_cleanup_"+sec), true)); err == nil && fi.Mode().IsRegular() {
			skip[sec] = true
		}
	}
	z.remove(path.Join(workingDir, "perform_cleanup"), false)
	sections := []struct {
		name, what string
		run        func()
	}{
		{"cloudinit_files", "cloud init files", z.cloudInit},
		{"instance_files", "instance files", func() {
			z.removeAll(true, "/etc/.updated", "/etc/aliases.db", "/etc/hostname", "/var/lib/misc/postfix.aliasesdb-stamp",
				"/var/lib/postfix/master.lock", "/var/spool/postfix/pid/master.pid", "/var/.updated",
				"/var/cache/yum/x86_64/2/.gpgkeyschecked.yum")
		}},
		{"ssh_files", "ssh files", z.ssh},
		{"instance_log_files", "instance log files", z.logs},
		{"toe_files", "TOE files", func() { z.glob(path.Join(workingDir, "TOE_*"), z.removeTree) }},
		{"ssm_log_files", "ssm log files", func() { z.removeTree("/var/log/amazon/ssm") }},
		{"machine_id", "machine id", z.machineID},
		{"shell_history", "shell history", z.histories},
		{"tmp_files", "temporary files", func() {
			z.emptyDir("/tmp")
			z.emptyDir("/var/tmp")
			z.glob("/var/cache/apt/archives/*.deb", func(p string) { z.remove(p, false) })
		}},
		{"agent_files", "agent files", func() {
			if keepAgent {
				z.say("Keeping %s (keepAgent)", JobsDir)
				return
			}
			z.removeTree(JobsDir)
		}},
	}
	for _, sec := range sections {
		if skip[sec.name] {
			z.say("Skipping cleanup of %s (skip_cleanup_%s)", sec.what, sec.name)
			continue
		}
		z.say("Cleaning up %s", sec.what)
		sec.run()
	}
	out := z.out.String()
	if err := errors.Join(z.errs...); err != nil {
		return out, fmt.Errorf("sanitize: %w", err)
	}
	return out, nil
}

func (z *sanitizer) say(format string, a ...any) {
	fmt.Fprintf(&z.out, format+"\n", a...)
}

func (z *sanitizer) fail(err error) {
	z.say("Failed: %v", err)
	z.errs = append(z.errs, err)
}

// host maps an image path to the host, resolving symlinks inside root
// (the last element only when followLast).
func (z *sanitizer) host(p string, followLast bool) string {
	hp, err := resolveInRoot(z.root, p, followLast)
	if err != nil {
		return filepath.Join(z.root, path.Clean("/"+p))
	}
	return hp
}

// remove deletes the file (or symlink) p; shred overwrites a regular file
// with zeros first.
func (z *sanitizer) remove(p string, shred bool) {
	hp := z.host(p, false)
	fi, err := os.Lstat(hp)
	if err != nil || fi.IsDir() {
		return
	}
	z.say("Deleting %s", p)
	if shred && fi.Mode().IsRegular() {
		if err := zeroFile(hp, fi.Size()); err != nil {
			z.fail(fmt.Errorf("overwriting %s: %w", p, err))
		}
	}
	if err := os.Remove(hp); err != nil {
		z.fail(fmt.Errorf("deleting %s: %w", p, err))
	}
}

func (z *sanitizer) removeAll(shred bool, paths ...string) {
	for _, p := range paths {
		z.remove(p, shred)
	}
}

// removeTree shreds the regular files under p and removes p.
func (z *sanitizer) removeTree(p string) {
	hp := z.host(p, false)
	fi, err := os.Lstat(hp)
	if err != nil {
		return
	}
	if !fi.IsDir() {
		z.remove(p, true)
		return
	}
	z.say("Deleting %s", p)
	z.shredFiles(hp)
	if err := os.RemoveAll(hp); err != nil {
		z.fail(fmt.Errorf("deleting %s: %w", p, err))
	}
}

// emptyDir removes the contents of directory p, keeping p.
func (z *sanitizer) emptyDir(p string) {
	hp := z.host(p, true)
	entries, err := os.ReadDir(hp)
	if err != nil {
		return
	}
	for _, e := range entries {
		z.removeTree(path.Join(p, e.Name()))
	}
}

func (z *sanitizer) shredFiles(hostDir string) {
	_ = filepath.WalkDir(hostDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			_ = zeroFile(p, fi.Size())
		}
		return nil
	})
}

// glob calls fn for each image path matching pattern (in the last
// element).
func (z *sanitizer) glob(pattern string, fn func(p string)) {
	dir, pat := path.Split(pattern)
	entries, err := os.ReadDir(z.host(dir, true))
	if err != nil {
		return
	}
	for _, e := range entries {
		if ok, _ := path.Match(pat, e.Name()); ok {
			fn(path.Join(dir, e.Name()))
		}
	}
}

// homes lists /root and every /home/* folder.
func (z *sanitizer) homes() []string {
	out := []string{"/root"}
	z.glob("/home/*", func(p string) { out = append(out, p) })
	return out
}

func (z *sanitizer) cloudInit() {
	z.removeAll(true, "/etc/sudoers.d/90-cloud-init-users", "/etc/locale.conf",
		"/var/log/cloud-init.log", "/var/log/cloud-init-output.log")
	z.glob("/var/lib/cloud/*", func(p string) {
		if path.Base(p) != "seed" {
			z.removeTree(p)
		}
	})
}

func (z *sanitizer) ssh() {
	z.glob("/etc/ssh/ssh_host_*", func(p string) { z.remove(p, true) })
	for _, h := range z.homes() {
		z.remove(path.Join(h, ".ssh/authorized_keys"), true)
		z.remove(path.Join(h, ".ssh/authorized_keys2"), true)
	}
}

func (z *sanitizer) logs() {
	logDir := z.host("/var/log", true)
	_ = filepath.WalkDir(logDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(logDir, p)
		img := path.Join("/var/log", filepath.ToSlash(rel))
		name := d.Name()
		if strings.HasPrefix(rel, "journal"+string(filepath.Separator)) || isRotated(name) {
			z.remove(img, false)
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.Size() > 0 {
			z.say("Truncating %s", img)
			if err := os.Truncate(p, 0); err != nil {
				z.fail(fmt.Errorf("truncating %s: %w", img, err))
			}
		}
		return nil
	})
	z.glob("/var/log/journal/*", z.removeTree)
	z.glob("/var/lib/dhclient/*.lease", func(p string) { z.remove(p, true) })
	z.glob("/var/lib/dhcp/*.leases", func(p string) { z.remove(p, true) })
	z.remove("/var/lib/rsyslog/imjournal.state", false)
}

// isRotated tells rotated log files (syslog.1, dpkg.log.2.gz, x.old).
func isRotated(name string) bool {
	for _, suf := range []string{".gz", ".xz", ".bz2", ".zst", ".old"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	i := strings.LastIndexByte(name, '.')
	if i < 0 || i == len(name)-1 {
		return false
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (z *sanitizer) machineID() {
	hp := z.host("/etc/machine-id", false)
	if fi, err := os.Lstat(hp); err == nil && fi.Mode().IsRegular() {
		z.say("Emptying /etc/machine-id")
		if err := os.Truncate(hp, 0); err != nil {
			z.fail(fmt.Errorf("emptying /etc/machine-id: %w", err))
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(z.host("/etc", true)); err == nil {
			z.say("Creating an empty /etc/machine-id")
			if err := os.WriteFile(hp, nil, 0o444); err != nil {
				z.fail(fmt.Errorf("creating /etc/machine-id: %w", err))
			}
		}
	}
	z.remove("/var/lib/dbus/machine-id", false)
}

func (z *sanitizer) histories() {
	for _, h := range z.homes() {
		for _, f := range []string{".bash_history", ".ash_history", ".sh_history", ".zsh_history", ".python_history",
			".lesshst", ".viminfo", ".psql_history", ".mysql_history", ".wget-hsts"} {
			z.remove(path.Join(h, f), true)
		}
	}
}

// zeroFile overwrites the first size bytes of name with zeros and syncs.
func zeroFile(name string, size int64) error {
	f, err := os.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	zeros := make([]byte, 64<<10)
	for off := int64(0); off < size; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
