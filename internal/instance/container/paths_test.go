package container

import (
	"strings"
	"testing"
)

func TestCleanEntryName(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "etc/passwd", want: "etc/passwd"},
		{in: "./etc/passwd", want: "etc/passwd"},
		{in: "/etc/passwd", want: "etc/passwd"},
		{in: "etc/", want: "etc"},
		{in: "etc//x/./y", want: "etc/x/y"},
		{in: "./", want: ""},
		{in: "/", want: ""},
		{in: "..", wantErr: true},
		{in: "../x", wantErr: true},
		{in: "a/../../x", wantErr: true},
		{in: "a/..", wantErr: true},
		{in: "/../x", wantErr: true},
		{in: "a\x00b", wantErr: true},
		{in: "..foo/..bar", want: "..foo/..bar"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := cleanEntryName(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("cleanEntryName(%q) = %q, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("cleanEntryName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzCleanEntryName(f *testing.F) {
	for _, s := range []string{"etc/passwd", "../x", "/a/../b", "./", "a/b/../../..", ".wh..wh..opq"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, err := cleanEntryName(name)
		if err != nil {
			return
		}
		if got == ".." || strings.HasPrefix(got, "../") || strings.HasPrefix(got, "/") || strings.Contains(got, "/../") {
			t.Fatalf("cleanEntryName(%q) = %q escapes the root", name, got)
		}
	})
}
