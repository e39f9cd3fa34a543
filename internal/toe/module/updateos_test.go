package module

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const stubScript = `#!/bin/sh
line="${0##*/} $*"
echo "$line" >> "$UPDATEOS_LOG"
case "$line" in
"apt-mark showhold") printf '%s\n' $UPDATEOS_HELD ;;
"apk version -l <") printf 'musl-1.2.4-r1  < 1.2.4-r2\nbusybox-1.36.1-r5  < 1.36.1-r6\nec2-hibinit-agent-1.0-r0  < 1.1-r0\n' ;;
esac
if [ -n "$UPDATEOS_FAIL_ON" ]; then
  case "$line" in "$UPDATEOS_FAIL_ON"*) exit 100 ;; esac
fi
exit 0
`

// fakePath creates a PATH directory with recording stubs of the named
// package-manager binaries and makes it the only PATH entry.
func fakePath(t *testing.T, bins ...string) (logFile string) {
	t.Helper()
	dir := t.TempDir()
	for _, b := range bins {
		if err := os.WriteFile(filepath.Join(dir, b), []byte(stubScript), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logFile = filepath.Join(t.TempDir(), "calls.log")
	t.Setenv("PATH", dir)
	t.Setenv("UPDATEOS_LOG", logFile)
	return logFile
}

func TestUpdateOSCommandLines(t *testing.T) {
	const aptOpts = "apt-get -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "
	tests := []struct {
		name    string
		bins    []string
		in      string
		held    string
		failOn  string
		want    []string
		wantErr string
	}{
		{name: "dnf preferred, everything", bins: []string{"yum", "dnf", "apt-get"}, in: "",
			want: []string{"dnf -y upgrade"}},
		{name: "dnf exclude", bins: []string{"dnf"}, in: "exclude: [ec2-hibinit-agent]",
			want: []string{"dnf -y upgrade --exclude=ec2-hibinit-agent"}},
		{name: "yum include minus exclude", bins: []string{"yum"}, in: "include: [a, 'b*', c]\nexclude: [c, 'kernel*']",
			want: []string{"yum -y update --exclude=c --exclude=kernel* a b*"}},
		{name: "everything included is excluded", bins: []string{"yum"}, in: "include: [a]\nexclude: [a]", want: nil},
		{name: "apt everything", bins: []string{"apt-get", "apt-mark"}, in: "{}",
			want: []string{"apt-get update", aptOpts + "upgrade --with-new-pkgs"}},
		{name: "apt include", bins: []string{"apt-get", "apt-mark"}, in: "include: [openssl, curl]",
			want: []string{"apt-get update", aptOpts + "install --only-upgrade openssl curl"}},
		{name: "apt exclude holds and unholds, keeps the user's holds", bins: []string{"apt-get", "apt-mark"},
			in: "exclude: [linux-aws, pinned]", held: "pinned",
			want: []string{"apt-get update", "apt-mark showhold", "apt-mark hold linux-aws",
				aptOpts + "upgrade --with-new-pkgs", "apt-mark unhold linux-aws"}},
		{name: "apt failure still unholds", bins: []string{"apt-get", "apt-mark"}, in: "exclude: [x]", failOn: "apt-get -y",
			want: []string{"apt-get update", "apt-mark showhold", "apt-mark hold x",
				aptOpts + "upgrade --with-new-pkgs", "apt-mark unhold x"}, wantErr: "exit status 100"},
		{name: "zypper exclude", bins: []string{"zypper"}, in: "exclude: [kernel-default]",
			want: []string{"zypper --non-interactive refresh", "zypper --non-interactive addlock kernel-default",
				"zypper --non-interactive update", "zypper --non-interactive removelock kernel-default"}},
		{name: "zypper include", bins: []string{"zypper"}, in: "include: [vim]",
			want: []string{"zypper --non-interactive refresh", "zypper --non-interactive update vim"}},
		{name: "apk everything", bins: []string{"apk"}, in: "",
			want: []string{"apk update", "apk upgrade"}},
		{name: "apk exclude", bins: []string{"apk"}, in: "exclude: ['ec2-*']",
			want: []string{"apk update", "apk version -l <", "apk upgrade musl busybox"}},
		{name: "apk include with exclude pattern", bins: []string{"apk"}, in: "include: [musl, busybox]\nexclude: ['busy*']",
			want: []string{"apk update", "apk upgrade musl"}},
		{name: "refresh failure stops", bins: []string{"dnf"}, in: "", failOn: "dnf",
			want: []string{"dnf -y upgrade"}, wantErr: "exit status 100"},
		{name: "no package manager", bins: nil, in: "", wantErr: "no supported package manager"},
	}
	m := mustModule(t, "UpdateOS")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logFile := fakePath(t, tc.bins...)
			t.Setenv("UPDATEOS_HELD", tc.held)
			t.Setenv("UPDATEOS_FAIL_ON", tc.failOn)
			env, _, _ := testEnv(t)
			var in any
			if tc.in != "" {
				in = decodeYAML(t, tc.in)
			}
			if ps := m.Check(in); len(ps) > 0 {
				t.Fatalf("Check:%s", problemsString(ps))
			}
			_, err := m.Run(context.Background(), env, in)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
			}
			data, _ := os.ReadFile(logFile)
			var got []string
			if s := strings.TrimSpace(string(data)); s != "" {
				got = strings.Split(s, "\n")
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("commands:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestApkUpgradable(t *testing.T) {
	got := apkUpgradable("Installed:  Available:\nmusl-1.2.4-r1  < 1.2.4-r2\npy3-foo-bar-2.0-r10 < 2.1-r0\ngarbage\n")
	if want := []string{"musl", "py3-foo-bar"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
