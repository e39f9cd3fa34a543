package vm

import (
	"fmt"
	"os"
	"regexp"

	"golang.org/x/sys/unix"
)

// accelProbe names the host files DetectAccel looks at (injectable for tests).
type accelProbe struct {
	kvmDev  string // /dev/kvm: must be writable
	cpuinfo string // /proc/cpuinfo: must show vmx or svm
	pvm     string // /sys/module/kvm_pvm: must NOT exist (PVM runs only PVM guests)
}

var hostAccelProbe = accelProbe{kvmDev: "/dev/kvm", cpuinfo: "/proc/cpuinfo", pvm: "/sys/module/kvm_pvm"}

// DetectAccel resolves "auto" | "kvm" | "tcg" to "kvm" or "tcg". "auto"
// picks kvm only when /dev/kvm is writable, /proc/cpuinfo has vmx or svm and
// the host's KVM is not PVM (/sys/module/kvm_pvm absent); "kvm" when KVM is
// unusable is an error.
func DetectAccel(setting string) (string, error) {
	return detectAccel(setting, hostAccelProbe)
}

var virtFlag = regexp.MustCompile(`(?m)^flags\s*:.*\b(vmx|svm)\b`)

func (p accelProbe) kvmUsable() error {
	if err := unix.Access(p.kvmDev, unix.W_OK); err != nil {
		return fmt.Errorf("%s is not writable: %w", p.kvmDev, err)
	}
	info, err := os.ReadFile(p.cpuinfo)
	if err != nil {
		return fmt.Errorf("reading %s: %w", p.cpuinfo, err)
	}
	if !virtFlag.Match(info) {
		return fmt.Errorf("%s shows neither vmx nor svm", p.cpuinfo)
	}
	if _, err := os.Stat(p.pvm); err == nil {
		return fmt.Errorf("the host KVM is PVM (%s exists) and cannot run stock guest kernels", p.pvm)
	}
	return nil
}

func detectAccel(setting string, p accelProbe) (string, error) {
	switch setting {
	case "tcg":
		return "tcg", nil
	case "kvm":
		if err := p.kvmUsable(); err != nil {
			return "", fmt.Errorf("accelerator kvm requested but unusable: %w", err)
		}
		return "kvm", nil
	case "auto", "":
		if p.kvmUsable() == nil {
			return "kvm", nil
		}
		return "tcg", nil
	default:
		return "", fmt.Errorf("unknown accelerator %q (want auto, kvm or tcg)", setting)
	}
}
