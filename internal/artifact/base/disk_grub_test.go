package base

import (
	"strings"
	"testing"
)

func TestGrubScript(t *testing.T) {
	const uuid = "0d6c1f0e-1111-4222-8333-444455556666"
	app := grubAppend(uuid)
	script := grubScript(uuid)
	if strings.Contains(script, `"`) {
		t.Fatalf("script has a double quote: %s", script)
	}
	if len(app) >= 2048 {
		t.Fatalf("kernel command line is %d bytes (limit 2048)", len(app))
	}
	for _, w := range []string{"grub-install --target=i386-pc /dev/vda", "update-grub", "/dev/disk/by-uuid/" + uuid,
		"echo o > /proc/sysrq-trigger", "echo " + grubMarker + "$?"} {
		if !strings.Contains(script, w) {
			t.Errorf("script lacks %q", w)
		}
	}
	if !strings.HasPrefix(app, "root=/dev/vda1 rw ") || !strings.Contains(app, `init=/bin/sh -- -c "`) {
		t.Errorf("append = %s", app)
	}
}

func TestGrubStatus(t *testing.T) {
	tests := []struct {
		name, console, want string
	}{
		{"ok", "[    0.0] Command line: root=/dev/vda1 ... echo goldsmith-grub rc=$?; sync\r\nInstalling for i386-pc platform.\r\ngoldsmith-grub rc=0\r\n[ 29.1] sysrq: Power Off\r\n", grubOK},
		{"failed", "grub-install: error: cannot find a device for /boot/grub\ngoldsmith-grub rc=1\n", grubMarker + "1"},
		{"command line only", "[    0.0] Kernel command line: echo goldsmith-grub rc=$?\n", ""},
		{"nothing", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := grubStatus(tt.console); got != tt.want {
				t.Fatalf("grubStatus = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBootedUp(t *testing.T) {
	tests := []struct {
		name, console string
		want          bool
	}{
		{"multi-user", "[  OK  ] Reached target \x1b[0;1;39mmulti-user.target\x1b[0m - Multi-User System.\r\n", true},
		{"login", "\r\ndebian login: ", true},
		{"other target", "[  OK  ] Reached target \x1b[0;1;39msysinit.target\x1b[0m\r\n         Starting multi-user.target\r\n", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bootedUp(tt.console); got != tt.want {
				t.Fatalf("bootedUp = %v, want %v", got, tt.want)
			}
		})
	}
}
