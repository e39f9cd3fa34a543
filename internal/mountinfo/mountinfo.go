// Package mountinfo reads the mount table of /proc/<pid>/mountinfo
// (proc(5)): the one parser for the sandbox clean-up, the Debian disk
// builder and tests that look for leftover mounts.
package mountinfo

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Mount is one line of the table.
type Mount struct {
	Target string // the mount point, unescaped
	FSType string
}

// Self reads /proc/self/mountinfo.
func Self() ([]Mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("mountinfo: %w", err)
	}
	defer f.Close()
	return Parse(f)
}

// Parse reads mountinfo text: the mount point is field 5 (octal-escaped),
// the file system type follows the "-" separator. Lines without them are
// skipped.
func Parse(r io.Reader) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 7 {
			continue
		}
		sep := -1
		for i := 6; i < len(fields); i++ {
			if fields[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+1 >= len(fields) {
			continue
		}
		out = append(out, Mount{Target: Unescape(fields[4]), FSType: fields[sep+1]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	return out, nil
}

// Unescape undoes the kernel's \ooo escapes (space, tab, newline, \).
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// DeepestFirst orders mount points so that each comes before the ones it
// is below (the order to unmount them in).
func DeepestFirst(targets []string) {
	sort.SliceStable(targets, func(i, j int) bool { return len(targets[i]) > len(targets[j]) })
}

// Under returns the mount points strictly below dir, deepest first (nil
// when there are none).
func Under(mounts []Mount, dir string) []string { return under(mounts, dir, false) }

// AtOrUnder returns the mount points that are dir or below it, deepest
// first (nil when there are none).
func AtOrUnder(mounts []Mount, dir string) []string { return under(mounts, dir, true) }

func under(mounts []Mount, dir string, inclusive bool) []string {
	dir = filepath.Clean(dir)
	prefix := dir + "/"
	if dir == "/" {
		prefix = dir
	}
	var out []string
	for _, m := range mounts {
		t := filepath.Clean(m.Target)
		if (t != dir && strings.HasPrefix(t, prefix)) || (inclusive && t == dir) {
			out = append(out, m.Target)
		}
	}
	DeepestFirst(out)
	return out
}
