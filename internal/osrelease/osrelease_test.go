package osrelease

import (
	"strings"
	"testing"
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

func FuzzParseOSRelease(f *testing.F) {
	f.Add([]byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n"))
	f.Add([]byte("NAME='x\\'\nVERSION_ID=\"\\\n"))
	f.Add([]byte("=\n\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for k := range Parse(data) {
			if k == "" || strings.ContainsAny(k, " \t\n") {
				t.Fatalf("bad key %q", k)
			}
		}
	})
}
