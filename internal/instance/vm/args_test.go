package vm

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestArgs(t *testing.T) {
	run := t.TempDir()
	tests := []struct {
		name    string
		cfg     Config
		want    []string // consecutive argument pairs/values that must appear
		absent  []string
		wantErr bool
	}{
		{
			name: "tcg defaults",
			cfg:  Config{Accel: "tcg", RunDir: run},
			want: []string{"-accel tcg", "-cpu max", "-m 1024", "-smp 2", "-nic none", "-nodefaults", "-display none", "-monitor none",
				"-serial chardev:console", "-serial chardev:agent", "-mon chardev=qmp,mode=control"},
			absent: []string{"-no-reboot", "-kernel"},
		},
		{
			name: "kvm, network, kernel, no reboot",
			cfg:  Config{Accel: "kvm", RunDir: run, CPUs: 4, MemoryMiB: 2048, Network: true, Kernel: "/k", Initrd: "/i", Append: "console=ttyS0", NoReboot: true},
			want: []string{"-accel kvm", "-cpu host", "-m 2048", "-smp 4", "-nic user,model=virtio-net-pci", "-kernel /k", "-initrd /i", "-append console=ttyS0", "-no-reboot"},
		},
		{
			name: "drives with commas and a secret",
			cfg: Config{Accel: "tcg", RunDir: run, Drives: []Drive{
				{Path: "/a,b.raw", Format: "raw", ReadOnly: true},
				{Path: "/c.qcow2", Format: "qcow2", Secret: []byte("TOPSECRET")},
			}},
			want: []string{"-drive file=/a,,b.raw,if=virtio,format=raw,discard=unmap,readonly=on",
				"-drive file=/c.qcow2,if=virtio,format=qcow2,discard=unmap,encrypt.key-secret=sec1"},
			absent: []string{"TOPSECRET"},
		},
		{name: "auto not resolved", cfg: Config{Accel: "auto", RunDir: run}, wantErr: true},
		{name: "no run dir", cfg: Config{Accel: "tcg"}, wantErr: true},
		{name: "run dir too long", cfg: Config{Accel: "tcg", RunDir: "/" + strings.Repeat("x", 120)}, wantErr: true},
		{name: "bad format", cfg: Config{Accel: "tcg", RunDir: run, Drives: []Drive{{Path: "/x", Format: "vmdk"}}}, wantErr: true},
		{name: "secret on raw", cfg: Config{Accel: "tcg", RunDir: run, Drives: []Drive{{Path: "/x", Format: "raw", Secret: []byte("s")}}}, wantErr: true},
		{name: "initrd without kernel", cfg: Config{Accel: "tcg", RunDir: run, Initrd: "/i"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			err := cfg.defaults()
			if (err != nil) != tt.wantErr {
				t.Fatalf("defaults: err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			m := &Machine{cfg: cfg}
			args, err := m.args()
			if err != nil {
				t.Fatal(err)
			}
			defer m.removeSecrets()
			line := strings.Join(args, " ")
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("args lack %q:\n%s", w, line)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(line, a) {
					t.Errorf("args contain %q:\n%s", a, line)
				}
			}
			for _, f := range m.secrets {
				st, err := os.Stat(f)
				if err != nil || st.Mode().Perm() != 0o600 || filepath.Dir(f) != cfg.RunDir {
					t.Errorf("secret file %s: %v %v", f, st, err)
				}
				if b, _ := os.ReadFile(f); string(b) != "TOPSECRET" {
					t.Errorf("secret file holds %q", b)
				}
				if !slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, "file="+f) }) {
					t.Errorf("secret file %s not passed to qemu", f)
				}
			}
		})
	}
}
