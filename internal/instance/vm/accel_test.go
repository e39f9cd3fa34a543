package vm

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDetectAccel(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	kvm := write("kvm", "")
	vmx := write("cpuinfo-vmx", "processor\t: 0\nflags\t\t: fpu sse2 vmx avx\n")
	svm := write("cpuinfo-svm", "processor\t: 0\nflags\t\t: fpu svm sse2\n")
	none := write("cpuinfo-none", "processor\t: 0\nmodel name\t: vmx-like name\nflags\t\t: fpu sse2 avx\n")
	pvm := filepath.Join(dir, "kvm_pvm")
	if err := os.Mkdir(pvm, 0o755); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	good := accelProbe{kvmDev: kvm, cpuinfo: vmx, pvm: missing}
	tests := []struct {
		name    string
		setting string
		probe   accelProbe
		want    string
		wantErr bool
	}{
		{name: "tcg always", setting: "tcg", probe: accelProbe{}, want: "tcg"},
		{name: "auto vmx", setting: "auto", probe: good, want: "kvm"},
		{name: "empty means auto", setting: "", probe: good, want: "kvm"},
		{name: "auto svm", setting: "auto", probe: accelProbe{kvmDev: kvm, cpuinfo: svm, pvm: missing}, want: "kvm"},
		{name: "auto no /dev/kvm", setting: "auto", probe: accelProbe{kvmDev: missing, cpuinfo: vmx, pvm: missing}, want: "tcg"},
		{name: "auto no flag", setting: "auto", probe: accelProbe{kvmDev: kvm, cpuinfo: none, pvm: missing}, want: "tcg"},
		{name: "auto pvm", setting: "auto", probe: accelProbe{kvmDev: kvm, cpuinfo: vmx, pvm: pvm}, want: "tcg"},
		{name: "kvm usable", setting: "kvm", probe: good, want: "kvm"},
		{name: "kvm on pvm", setting: "kvm", probe: accelProbe{kvmDev: kvm, cpuinfo: vmx, pvm: pvm}, wantErr: true},
		{name: "kvm no cpuinfo", setting: "kvm", probe: accelProbe{kvmDev: kvm, cpuinfo: missing, pvm: missing}, wantErr: true},
		{name: "unknown", setting: "hvf", probe: good, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := detectAccel(tt.setting, tt.probe)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got, err := DetectAccel("auto"); err != nil || (got != "kvm" && got != "tcg") {
		t.Fatalf("DetectAccel(auto) on this host = %q, %v", got, err)
	}
}
