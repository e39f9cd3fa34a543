package base

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/goldsmith/goldsmith/internal/osrelease"
)

// source is one apt source: a type (deb or deb-src), a URI, suites and
// components. A deb822 stanza with several URIs or types gives several.
type source struct {
	typ        string
	uri        string
	suites     []string
	components []string
}

// parseOneLine reads the one-line format of /etc/apt/sources.list:
//
//	deb [ option=value ... ] uri suite [component ...]
//
// Comments (#) and blank lines are skipped; malformed lines are errors.
func parseOneLine(r io.Reader) ([]source, error) {
	var out []source
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		typ := fields[0]
		if typ != "deb" && typ != "deb-src" {
			return nil, fmt.Errorf("line %d: unknown type %q", n, typ)
		}
		rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), typ))
		if strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated option list", n)
			}
			rest = rest[end+1:]
		}
		fields = strings.Fields(rest)
		if len(fields) < 2 {
			return nil, fmt.Errorf("line %d: want a URI and a suite", n)
		}
		out = append(out, source{typ: typ, uri: fields[0], suites: fields[1:2], components: fields[2:]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return out, nil
}

// parseDeb822 reads the deb822 format of /etc/apt/sources.list.d/*.sources:
// stanzas of "Field: value" lines separated by blank lines, continuation
// lines starting with a space or tab, comments starting with #. Stanzas with
// "Enabled: no" are skipped.
func parseDeb822(r io.Reader) ([]source, error) {
	var out []source
	fields := map[string]string{}
	last := ""
	flush := func(n int) error {
		defer func() { fields, last = map[string]string{}, "" }()
		if len(fields) == 0 {
			return nil
		}
		if strings.EqualFold(strings.TrimSpace(fields["enabled"]), "no") {
			return nil
		}
		types := strings.Fields(fields["types"])
		uris := strings.Fields(fields["uris"])
		suites := strings.Fields(fields["suites"])
		if len(types) == 0 || len(uris) == 0 || len(suites) == 0 {
			return fmt.Errorf("stanza ending at line %d: Types, URIs and Suites are required", n)
		}
		for _, t := range types {
			for _, u := range uris {
				out = append(out, source{typ: t, uri: u, suites: suites, components: strings.Fields(fields["components"])})
			}
		}
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			continue
		case strings.TrimSpace(line) == "":
			if err := flush(n); err != nil {
				return nil, err
			}
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return nil, fmt.Errorf("line %d: continuation without a field", n)
			}
			fields[last] += "\n" + strings.TrimSpace(line)
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(name, " \t") {
				return nil, fmt.Errorf("line %d: want \"Field: value\"", n)
			}
			last = strings.ToLower(name)
			fields[last] = strings.TrimSpace(value)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if err := flush(n + 1); err != nil {
		return nil, err
	}
	return out, nil
}

// readSources reads the apt sources under root (normally "/"):
// etc/apt/sources.list and etc/apt/sources.list.d/*.list and *.sources,
// in apt's order (sources.list first, then the directory sorted by name).
func readSources(root string) ([]source, error) {
	var out []source
	read := func(path string, parse func(io.Reader) ([]source, error)) error {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("apt sources: %w", err)
		}
		defer f.Close()
		s, err := parse(f)
		if err != nil {
			return fmt.Errorf("apt sources %s: %w", path, err)
		}
		out = append(out, s...)
		return nil
	}
	if err := read(filepath.Join(root, "etc/apt/sources.list"), parseOneLine); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "etc/apt/sources.list.d")
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("apt sources: %w", err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		var err error
		switch {
		case strings.HasSuffix(name, ".list"):
			err = read(filepath.Join(dir, name), parseOneLine)
		case strings.HasSuffix(name, ".sources"):
			err = read(filepath.Join(dir, name), parseDeb822)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// codename reads VERSION_CODENAME from an os-release file's text.
func codename(osRelease string) string {
	return osrelease.Parse([]byte(osRelease))["VERSION_CODENAME"]
}

// suitePockets are the suite suffixes a base image takes from the host's
// sources: the release itself, its updates and its security updates.
var suitePockets = []string{"", "-updates", "-security"}

// mirrorLines turns the host's apt sources into mmdebstrap mirror arguments
// for suite: every deb source whose suite is the host's release (hostSuite)
// or suite itself, in the release, -updates or -security pocket, becomes
// "deb URI <suite><pocket> COMPONENTS" (components default to main). Other
// sources (third-party repositories, backports, deb-src) are left out.
// Duplicates are dropped; the order is apt's.
func mirrorLines(sources []source, hostSuite, suite string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range sources {
		if s.typ != "deb" {
			continue
		}
		comps := s.components
		if len(comps) == 0 {
			comps = []string{"main"}
		}
		for _, su := range s.suites {
			for _, pocket := range suitePockets {
				release, ok := strings.CutSuffix(su, pocket)
				if !ok || release == "" || strings.Contains(release, "-") || strings.Contains(release, "/") {
					continue
				}
				if release != suite && release != hostSuite {
					continue
				}
				line := fmt.Sprintf("deb %s %s%s %s", s.uri, suite, pocket, strings.Join(comps, " "))
				if !seen[line] {
					seen[line] = true
					out = append(out, line)
				}
			}
		}
	}
	return out
}

// HostMirrors returns the mmdebstrap mirror lines for suite taken from the
// apt sources of the filesystem at root (normally "/"): the Debian mirror
// and security mirror the host itself uses. The host's release comes from
// root's etc/os-release (VERSION_CODENAME).
func HostMirrors(root, suite string) ([]string, error) {
	sources, err := readSources(root)
	if err != nil {
		return nil, err
	}
	osr, err := os.ReadFile(filepath.Join(root, "etc/os-release"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("os-release: %w", err)
	}
	lines := mirrorLines(sources, codename(string(osr)), suite)
	if len(lines) == 0 {
		return nil, fmt.Errorf("no Debian apt source for %q (or the host's release) under %s", suite, filepath.Join(root, "etc/apt"))
	}
	return lines, nil
}
