package base

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const hostDeb822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`

func TestParseDeb822(t *testing.T) {
	tests := []struct {
		name, in string
		want     []source
		err      string
	}{
		{"host", hostDeb822, []source{
			{"deb", "http://deb.debian.org/debian", []string{"bookworm", "bookworm-updates"}, []string{"main"}},
			{"deb", "http://deb.debian.org/debian-security", []string{"bookworm-security"}, []string{"main"}},
		}, ""},
		{"several types and uris, inline key", "Types: deb deb-src\nURIs: http://a/debian http://b/debian\nSuites: trixie\nComponents: main contrib\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n", []source{
			{"deb", "http://a/debian", []string{"trixie"}, []string{"main", "contrib"}},
			{"deb", "http://b/debian", []string{"trixie"}, []string{"main", "contrib"}},
			{"deb-src", "http://a/debian", []string{"trixie"}, []string{"main", "contrib"}},
			{"deb-src", "http://b/debian", []string{"trixie"}, []string{"main", "contrib"}},
		}, ""},
		{"disabled", "Enabled: no\nTypes: deb\nURIs: http://a/\nSuites: x\n", nil, ""},
		{"blank lines only", "\n\n# c\n\n", nil, ""},
		{"missing suites", "Types: deb\nURIs: http://a/\n", nil, "Suites are required"},
		{"bad field", "Types deb\n", nil, "Field: value"},
		{"dangling continuation", " x\n", nil, "continuation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDeb822(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseOneLine(t *testing.T) {
	tests := []struct {
		name, in string
		want     []source
		err      string
	}{
		{"plain", "deb http://deb.debian.org/debian bookworm main contrib\n", []source{
			{"deb", "http://deb.debian.org/debian", []string{"bookworm"}, []string{"main", "contrib"}}}, ""},
		{"options and comments", "# comment\n\ndeb [arch=amd64 signed-by=/k.gpg] https://m/debian-security bookworm-security main # trailing\ndeb-src http://m/debian bookworm\n", []source{
			{"deb", "https://m/debian-security", []string{"bookworm-security"}, []string{"main"}},
			{"deb-src", "http://m/debian", []string{"bookworm"}, []string{}}}, ""},
		{"bad type", "rpm http://x y\n", nil, "unknown type"},
		{"unterminated options", "deb [arch=amd64 http://x y\n", nil, "unterminated"},
		{"no suite", "deb http://x\n", nil, "URI and a suite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseOneLine(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tt.want)
			}
		})
	}
}

func TestMirrorLines(t *testing.T) {
	host, err := parseDeb822(strings.NewReader(hostDeb822))
	if err != nil {
		t.Fatal(err)
	}
	thirdParty := []source{
		{"deb", "https://deb.nodesource.com/node_20.x", []string{"nodistro"}, []string{"main"}},
		{"deb", "https://packages.cloud.google.com/apt", []string{"cloud-sdk-bookworm"}, []string{"main"}},
		{"deb", "http://deb.debian.org/debian", []string{"bookworm-backports"}, []string{"main"}},
		{"deb-src", "http://deb.debian.org/debian", []string{"bookworm"}, []string{"main"}},
	}
	tests := []struct {
		name            string
		sources         []source
		hostSuite, want string
		suite           string
	}{
		{"same release", append(thirdParty, host...), "bookworm", "deb http://deb.debian.org/debian bookworm main|deb http://deb.debian.org/debian bookworm-updates main|deb http://deb.debian.org/debian-security bookworm-security main", "bookworm"},
		{"newer release from the host's mirrors", host, "bookworm", "deb http://deb.debian.org/debian trixie main|deb http://deb.debian.org/debian trixie-updates main|deb http://deb.debian.org/debian-security trixie-security main", "trixie"},
		{"unknown host release", host, "", "", "trixie"},
		{"unknown host release, suite listed", host, "", "deb http://deb.debian.org/debian bookworm main|deb http://deb.debian.org/debian bookworm-updates main|deb http://deb.debian.org/debian-security bookworm-security main", "bookworm"},
		{"no components", []source{{"deb", "http://m/debian", []string{"bookworm"}, nil}}, "bookworm", "deb http://m/debian bookworm main", "bookworm"},
		{"third party only", thirdParty, "bookworm", "", "bookworm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(mirrorLines(tt.sources, tt.hostSuite, tt.suite), "|")
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestHostMirrors(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_CODENAME=bookworm\n")
	write("etc/apt/sources.list.d/debian.sources", hostDeb822)
	write("etc/apt/sources.list.d/nodesource.sources.disabled", "garbage")
	write("etc/apt/sources.list.d/extra.list", "deb http://mirror.example/debian bookworm main\n")
	got, err := HostMirrors(root, "bookworm")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"deb http://deb.debian.org/debian bookworm main",
		"deb http://deb.debian.org/debian bookworm-updates main",
		"deb http://deb.debian.org/debian-security bookworm-security main",
		"deb http://mirror.example/debian bookworm main",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}

	empty := t.TempDir()
	if _, err := HostMirrors(empty, "bookworm"); err == nil || !strings.Contains(err.Error(), "no Debian apt source") {
		t.Fatalf("empty root: %v", err)
	}
	write("etc/apt/sources.list", "deb\n")
	if _, err := HostMirrors(root, "bookworm"); err == nil || !strings.Contains(err.Error(), "sources.list") {
		t.Fatalf("bad sources.list: %v", err)
	}
}

func FuzzParseDeb822(f *testing.F) {
	f.Add(hostDeb822)
	f.Add("Enabled: no\nTypes: deb\n")
	f.Add("Types: deb\nURIs: a\nSuites: b\n c\n\n\nX: y\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseDeb822(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, s := range got {
			if s.typ == "" || s.uri == "" || len(s.suites) == 0 {
				t.Fatalf("incomplete source %+v", s)
			}
		}
		_ = mirrorLines(got, "bookworm", "bookworm")
	})
}

func FuzzParseOneLine(f *testing.F) {
	f.Add("deb [a=b] http://m/debian bookworm main\n# x\n")
	f.Add("deb-src http://m bookworm")
	f.Add("deb [ http://m")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseOneLine(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, s := range got {
			if s.uri == "" || len(s.suites) != 1 || strings.ContainsAny(s.uri+s.suites[0], " \t\n") {
				t.Fatalf("bad source %+v", s)
			}
		}
		for _, line := range mirrorLines(got, "bookworm", "trixie") {
			if strings.Contains(line, "\n") {
				t.Fatalf("mirror line with a newline: %q", line)
			}
		}
	})
}
