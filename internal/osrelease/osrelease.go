// Package osrelease reads os-release(5) files: the OS name goldsmith
// reports as an image's osVersion.
package osrelease

import (
	"bufio"
	"bytes"
	"strings"
)

// PrettyName is the PRETTY_NAME of an os-release file ("" when missing).
func PrettyName(data []byte) string { return strings.TrimSpace(Parse(data)["PRETTY_NAME"]) }

// Parse parses os-release(5): KEY=value lines, values optionally
// quoted with simple backslash escapes; comments and junk are ignored.
func Parse(data []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			continue
		}
		out[k] = unquote(v)
	}
	return out
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		q := v[0]
		v = v[1 : len(v)-1]
		if q == '"' {
			var b strings.Builder
			for i := 0; i < len(v); i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
				}
				b.WriteByte(v[i])
			}
			return b.String()
		}
	}
	return v
}

// OSVersion names the OS of an os-release file as Image Builder's
// osVersion does: PRETTY_NAME, else NAME and VERSION_ID, else "".
func OSVersion(data []byte) string {
	osr := Parse(data)
	if p := strings.TrimSpace(osr["PRETTY_NAME"]); p != "" {
		return p
	}
	return strings.TrimSpace(strings.TrimSpace(osr["NAME"]) + " " + strings.TrimSpace(osr["VERSION_ID"]))
}
