package container

import (
	"reflect"
	"strings"
	"testing"
)

const testPasswd = `root:x:0:0:root:/root:/bin/sh
# comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
broken line
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
builder:x:1000:1000::/home/builder:/bin/sh
nohome:x:1001:1001:::/bin/sh
`

const testGroup = `root:x:0:
daemon:x:1:
tty:x:5:builder
staff:x:50:builder,daemon
nogroup:x:65534:
builder:x:1000:
`

func TestResolveUser(t *testing.T) {
	tests := []struct {
		spec    string
		want    execUser
		wantErr string
	}{
		{spec: "", want: execUser{UID: 0, GID: 0, Home: "/root"}},
		{spec: "0", want: execUser{UID: 0, GID: 0, Home: "/root"}},
		{spec: "nobody", want: execUser{UID: 65534, GID: 65534, Home: "/nonexistent"}},
		{spec: "65534", want: execUser{UID: 65534, GID: 65534, Home: "/nonexistent"}},
		{spec: "builder", want: execUser{UID: 1000, GID: 1000, AdditionalGids: []uint32{5, 50}, Home: "/home/builder"}},
		{spec: "builder:staff", want: execUser{UID: 1000, GID: 50, AdditionalGids: []uint32{5}, Home: "/home/builder"}},
		{spec: "1000:7", want: execUser{UID: 1000, GID: 7, AdditionalGids: []uint32{5, 50}, Home: "/home/builder"}},
		{spec: "4242", want: execUser{UID: 4242, GID: 0, Home: "/"}},
		{spec: "4242:4343", want: execUser{UID: 4242, GID: 4343, Home: "/"}},
		{spec: "nohome", want: execUser{UID: 1001, GID: 1001, Home: "/"}},
		{spec: "ghost", wantErr: "no such user"},
		{spec: "root:ghosts", wantErr: "no such group"},
		{spec: ":5", wantErr: "empty user"},
		{spec: "root:", wantErr: "empty group"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := resolveUser(tt.spec, strings.NewReader(testPasswd), strings.NewReader(testGroup))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("resolveUser(%q) error = %v, want %q", tt.spec, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("resolveUser(%q): %v", tt.spec, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("resolveUser(%q) = %+v, want %+v", tt.spec, got, tt.want)
			}
		})
	}
}

func TestResolveUserWithoutDatabases(t *testing.T) {
	got, err := resolveUser("12:34", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (execUser{UID: 12, GID: 34, Home: "/"}); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, err := resolveUser("nobody", nil, nil); err == nil {
		t.Fatal("a name without /etc/passwd resolved")
	}
}

func FuzzResolveUser(f *testing.F) {
	f.Add("builder:staff", testPasswd, testGroup)
	f.Add("", "", "")
	f.Add("1:2:3", "a:b:c:d", "g::x:")
	f.Add("x", "x:x:4294967296:0::/:", "x:x:1:x,,y")
	f.Fuzz(func(t *testing.T, spec, passwd, group string) {
		u, err := resolveUser(spec, strings.NewReader(passwd), strings.NewReader(group))
		if err == nil && u.Home == "" {
			t.Fatalf("resolveUser(%q) gave an empty home", spec)
		}
	})
}
