package osrelease

import (
	"slices"
	"strings"
	"testing"
	"unicode"
)

func TestParseOSRelease(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n", "Debian GNU/Linux 12 (bookworm)"},
		{"NAME=Alpine\nVERSION_ID=3.20.1\n", "Alpine 3.20.1"},
		{"# comment\nNAME='Busy Box'\n", "Busy Box"},
		{"PRETTY_NAME=\"say \\\"hi\\\"\"\n", `say "hi"`},
		{"junk\n=x\n", ""},
		{"", ""},
	}
	for _, tc := range tests {
		if got := OSVersion([]byte(tc.in)); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPrettyName(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n", "Debian GNU/Linux 12 (bookworm)"},
		{"PRETTY_NAME='Fedora Linux 40'\n", "Fedora Linux 40"},
		{"PRETTY_NAME=Alpine\n", "Alpine"},
		{"  PRETTY_NAME=\" padded \"  \n", "padded"},
		{"PRETTY_NAME=\"say \\\"hi\\\"\"\n", `say "hi"`},
		{"PRETTY_NAME=old\nPRETTY_NAME=new\n", "new"},
		{"NAME=Alpine\nVERSION_ID=3.20.1\n", ""},
		{"# PRETTY_NAME=commented\n", ""},
		{"PRETTY_NAME=\"\"\n", ""},
		{"", ""},
	}
	for _, tc := range tests {
		if got := PrettyName([]byte(tc.in)); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// quote writes v as a double-quoted os-release value.
func quote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(v) {
		if strings.IndexByte("\"\\$`", c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// FuzzParseOSRelease: after any text, a KEY="value" line parses back to
// value (the last assignment wins); keys never hold blanks; OSVersion is
// PrettyName whenever PRETTY_NAME is set.
func FuzzParseOSRelease(f *testing.F) {
	f.Add([]byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n"), "VERSION_ID", "12")
	f.Add([]byte("NAME='x\\'\nVERSION_ID=\"\\\n"), "PRETTY_NAME", ` a "quoted" \ value $x `+"`y`")
	f.Add([]byte("=\n\"\n"), "NAME", "")
	f.Add([]byte("PRETTY_NAME=\"  \"\nNAME=n\nVERSION_ID=1"), "ID", "'single'")
	f.Fuzz(func(t *testing.T, data []byte, key, val string) {
		if len(data) > 1<<19 || key == "" || strings.ContainsRune(val, '\n') ||
			strings.ContainsFunc(key, func(r rune) bool { return r != '_' && !unicode.IsDigit(r) && !unicode.IsUpper(r) }) {
			t.Skip()
		}
		osr := Parse(data)
		for k := range osr {
			if k == "" || strings.ContainsAny(k, " \t\n") {
				t.Fatalf("bad key %q", k)
			}
		}
		if strings.TrimSpace(osr["PRETTY_NAME"]) != "" && OSVersion(data) != PrettyName(data) {
			t.Fatalf("OSVersion %q, PrettyName %q", OSVersion(data), PrettyName(data))
		}
		more := append(append(slices.Clip(data), '\n'), key+"="+quote(val)+"\n"...)
		if got := Parse(more)[key]; got != val {
			t.Fatalf("%s=%s after %q parsed to %q, want %q", key, quote(val), data, got, val)
		}
		if key == "PRETTY_NAME" && strings.TrimSpace(val) != "" {
			if got, want := OSVersion(more), strings.TrimSpace(val); got != want {
				t.Fatalf("OSVersion = %q, want the PRETTY_NAME %q", got, want)
			}
		}
	})
}
