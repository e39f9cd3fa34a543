package agent

import (
	"strings"
	"testing"
)

// FuzzParseKernelArgs: whatever the command line, a parse that succeeds
// renders to goldsmith.* parameters that parse back to the same config.
func FuzzParseKernelArgs(f *testing.F) {
	f.Add("console=ttyS0 goldsmith.root=/dev/vda1 goldsmith.net=1 goldsmith.rootwait=5")
	f.Add("goldsmith.rootwait=0")
	f.Add("goldsmith.hostname=a goldsmith.port=/dev/ttyS2 goldsmith.debug=true quiet")
	f.Fuzz(func(t *testing.T, cmdline string) {
		p, err := ParseKernelArgs(cmdline)
		if err != nil {
			return
		}
		for _, v := range []string{p.Root, p.RootFSType, p.Hostname, p.Port} {
			if f := strings.Fields(v); len(f) != 1 || f[0] != v {
				return // not representable on a command line
			}
		}
		again, err := ParseKernelArgs(KernelArgs(p))
		if err != nil || again != p {
			t.Fatalf("round trip of %+v: %+v, %v", p, again, err)
		}
	})
}
