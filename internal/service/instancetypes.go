package service

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// instanceSize is the local VM size an instance type name stands for.
type instanceSize struct {
	VCPUs  int
	MemMiB int
	Arch   string // x86_64 or arm64
}

// instanceTypes is goldsmith's instance type catalogue: the EC2 names an
// infrastructure configuration may list, and goldsmith's own local.*
// sizes, each mapped to the VM the build engine starts. It is the table in
// docs/instance-types.md (a test keeps the two equal).
var instanceTypes = map[string]instanceSize{
	// Burstable, x86_64.
	"t2.nano": {1, 512, "x86_64"}, "t2.micro": {1, 1024, "x86_64"}, "t2.small": {1, 2048, "x86_64"},
	"t2.medium": {2, 4096, "x86_64"}, "t2.large": {2, 8192, "x86_64"}, "t2.xlarge": {4, 16384, "x86_64"},
	"t2.2xlarge": {8, 32768, "x86_64"},
	"t3.nano":    {2, 512, "x86_64"}, "t3.micro": {2, 1024, "x86_64"}, "t3.small": {2, 2048, "x86_64"},
	"t3.medium": {2, 4096, "x86_64"}, "t3.large": {2, 8192, "x86_64"}, "t3.xlarge": {4, 16384, "x86_64"},
	"t3.2xlarge": {8, 32768, "x86_64"},
	"t3a.nano":   {2, 512, "x86_64"}, "t3a.micro": {2, 1024, "x86_64"}, "t3a.small": {2, 2048, "x86_64"},
	"t3a.medium": {2, 4096, "x86_64"}, "t3a.large": {2, 8192, "x86_64"}, "t3a.xlarge": {4, 16384, "x86_64"},
	"t3a.2xlarge": {8, 32768, "x86_64"},
	// Burstable, arm64.
	"t4g.nano": {2, 512, "arm64"}, "t4g.micro": {2, 1024, "arm64"}, "t4g.small": {2, 2048, "arm64"},
	"t4g.medium": {2, 4096, "arm64"}, "t4g.large": {2, 8192, "arm64"}, "t4g.xlarge": {4, 16384, "arm64"},
	"t4g.2xlarge": {8, 32768, "arm64"},
	// General purpose: 4 GiB per vCPU.
	"m5.large": {2, 8192, "x86_64"}, "m5.xlarge": {4, 16384, "x86_64"}, "m5.2xlarge": {8, 32768, "x86_64"}, "m5.4xlarge": {16, 65536, "x86_64"},
	"m5a.large": {2, 8192, "x86_64"}, "m5a.xlarge": {4, 16384, "x86_64"}, "m5a.2xlarge": {8, 32768, "x86_64"}, "m5a.4xlarge": {16, 65536, "x86_64"},
	"m6i.large": {2, 8192, "x86_64"}, "m6i.xlarge": {4, 16384, "x86_64"}, "m6i.2xlarge": {8, 32768, "x86_64"}, "m6i.4xlarge": {16, 65536, "x86_64"},
	"m6a.large": {2, 8192, "x86_64"}, "m6a.xlarge": {4, 16384, "x86_64"}, "m6a.2xlarge": {8, 32768, "x86_64"}, "m6a.4xlarge": {16, 65536, "x86_64"},
	"m7i.large": {2, 8192, "x86_64"}, "m7i.xlarge": {4, 16384, "x86_64"}, "m7i.2xlarge": {8, 32768, "x86_64"}, "m7i.4xlarge": {16, 65536, "x86_64"},
	"m6g.large": {2, 8192, "arm64"}, "m6g.xlarge": {4, 16384, "arm64"}, "m6g.2xlarge": {8, 32768, "arm64"}, "m6g.4xlarge": {16, 65536, "arm64"},
	"m7g.large": {2, 8192, "arm64"}, "m7g.xlarge": {4, 16384, "arm64"}, "m7g.2xlarge": {8, 32768, "arm64"}, "m7g.4xlarge": {16, 65536, "arm64"},
	// Compute optimised: 2 GiB per vCPU.
	"c5.large": {2, 4096, "x86_64"}, "c5.xlarge": {4, 8192, "x86_64"}, "c5.2xlarge": {8, 16384, "x86_64"}, "c5.4xlarge": {16, 32768, "x86_64"},
	"c5a.large": {2, 4096, "x86_64"}, "c5a.xlarge": {4, 8192, "x86_64"}, "c5a.2xlarge": {8, 16384, "x86_64"}, "c5a.4xlarge": {16, 32768, "x86_64"},
	"c6i.large": {2, 4096, "x86_64"}, "c6i.xlarge": {4, 8192, "x86_64"}, "c6i.2xlarge": {8, 16384, "x86_64"}, "c6i.4xlarge": {16, 32768, "x86_64"},
	"c6a.large": {2, 4096, "x86_64"}, "c6a.xlarge": {4, 8192, "x86_64"}, "c6a.2xlarge": {8, 16384, "x86_64"}, "c6a.4xlarge": {16, 32768, "x86_64"},
	"c7i.large": {2, 4096, "x86_64"}, "c7i.xlarge": {4, 8192, "x86_64"}, "c7i.2xlarge": {8, 16384, "x86_64"}, "c7i.4xlarge": {16, 32768, "x86_64"},
	"c6g.large": {2, 4096, "arm64"}, "c6g.xlarge": {4, 8192, "arm64"}, "c6g.2xlarge": {8, 16384, "arm64"}, "c6g.4xlarge": {16, 32768, "arm64"},
	"c7g.large": {2, 4096, "arm64"}, "c7g.xlarge": {4, 8192, "arm64"}, "c7g.2xlarge": {8, 16384, "arm64"}, "c7g.4xlarge": {16, 32768, "arm64"},
	// Memory optimised: 8 GiB per vCPU.
	"r5.large": {2, 16384, "x86_64"}, "r5.xlarge": {4, 32768, "x86_64"}, "r5.2xlarge": {8, 65536, "x86_64"},
	"r6i.large": {2, 16384, "x86_64"}, "r6i.xlarge": {4, 32768, "x86_64"}, "r6i.2xlarge": {8, 65536, "x86_64"},
	"r7i.large": {2, 16384, "x86_64"}, "r7i.xlarge": {4, 32768, "x86_64"}, "r7i.2xlarge": {8, 65536, "x86_64"},
	"r6g.large": {2, 16384, "arm64"}, "r6g.xlarge": {4, 32768, "arm64"}, "r6g.2xlarge": {8, 65536, "arm64"},
	// goldsmith's own sizes (the host's architecture).
	"local.small":  {1, 2048, "host"},
	"local.medium": {2, 4096, "host"},
	"local.large":  {4, 8192, "host"},
}

// DefaultInstanceType is the size the build engine uses for an
// infrastructure configuration that lists no instance types.
const DefaultInstanceType = "local.medium"

// InstanceType returns the local VM size of an instance type name from the
// catalogue (docs/instance-types.md).
func InstanceType(name string) (vcpus, memMiB int, ok bool) {
	s, ok := instanceTypes[name]
	return s.VCPUs, s.MemMiB, ok
}

// InstanceTypeArch returns the CPU architecture of an instance type:
// "x86_64", "arm64", or "host" for the local.* sizes.
func InstanceTypeArch(name string) (string, bool) {
	s, ok := instanceTypes[name]
	return s.Arch, ok
}

// checkInstanceTypes validates an infrastructure configuration's
// instanceTypes: every name in the catalogue, none twice.
func checkInstanceTypes(names []string) error {
	seen := map[string]int{}
	for i, n := range names {
		if _, ok := instanceTypes[n]; !ok {
			return invalidValue("instanceTypes[%d]: instance type %q is not in goldsmith's catalogue (docs/instance-types.md); %s", i, n, instanceTypeHint(n))
		}
		if j, dup := seen[n]; dup {
			return invalidValue("instanceTypes[%d]: instance type %q is already listed at instanceTypes[%d]", i, n, j)
		}
		seen[n] = i
	}
	return nil
}

// instanceTypeHint suggests names for an unknown instance type: the sizes
// of its family when the family is known, else a few examples.
func instanceTypeHint(name string) string {
	family, _, _ := strings.Cut(name, ".")
	var sizes []string
	for n := range instanceTypes {
		if f, _, _ := strings.Cut(n, "."); strings.EqualFold(f, family) {
			sizes = append(sizes, n)
		}
	}
	if len(sizes) == 0 {
		return "for example t3.micro, m5.large, c6i.xlarge or local.medium"
	}
	sort.Slice(sizes, func(i, j int) bool {
		a, b := instanceTypes[sizes[i]], instanceTypes[sizes[j]]
		if a.VCPUs != b.VCPUs {
			return a.VCPUs < b.VCPUs
		}
		if a.MemMiB != b.MemMiB {
			return a.MemMiB < b.MemMiB
		}
		return sizes[i] < sizes[j]
	})
	return fmt.Sprintf("family %s offers %s", strings.ToLower(family), strings.Join(sizes, ", "))
}

// instanceTypeNames returns the catalogue's names, sorted.
func instanceTypeNames() []string {
	out := make([]string, 0, len(instanceTypes))
	for n := range instanceTypes {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
