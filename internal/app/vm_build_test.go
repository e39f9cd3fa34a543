package app

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/goldsmith/goldsmith/internal/config"
	"github.com/goldsmith/goldsmith/internal/extclient"
	"github.com/goldsmith/goldsmith/internal/instance/vm"
	"github.com/goldsmith/goldsmith/internal/testsupport"
)

const vmMarkerComponent = `name: VMMarker
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: WriteMarker
        action: ExecuteBash
        inputs:
          commands:
            - echo built-by-goldsmith > /etc/marker
            - head -c 1024 /dev/urandom > /opt/blob
`

const vmNoteComponent = `name: VMNote
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: WriteNote
        action: CreateFile
        inputs:
          - path: /etc/goldsmith-note
            content: written by CreateFile
`

const vmCheckComponent = `name: VMCheck
schemaVersion: 1.0
phases:
  - name: test
    steps:
      - name: CheckBoth
        action: ExecuteBash
        inputs:
          commands:
            - set -e
            - grep -qx built-by-goldsmith /etc/marker
            - test "$(stat -c %s /opt/blob)" -eq 1024
            - grep -q CreateFile /etc/goldsmith-note
            - test "$(df -k --output=size / | tail -n 1)" -gt 2800000
`

// vmFixture is a server with VM builds, an in-process S3 endpoint for
// exports, and the Debian 12 base built once.
type vmFixture struct {
	a     *App
	c     *ib.Client
	s3    *s3.Client
	infra string
	base  string // the Debian base's image build version ARN
}

func newVMFixture(ctx context.Context, t *testing.T) *vmFixture {
	t.Helper()
	testsupport.RequireRealBuilds(t)
	for _, tool := range []string{"qemu-system-x86_64", "qemu-img", "mmdebstrap", "sfdisk", "debugfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("VM builds need %s (make test installs it)", tool)
		}
	}
	fake := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(fake.Close)
	s3cfg := config.S3{Endpoint: fake.URL, Region: "us-east-1", AccessKeyID: "k", SecretAccessKey: "s", UsePathStyle: true}
	bin := testsupport.GoldsmithBinary(t)
	a := startServer(t, func(c *config.Config) {
		c.Build = config.Build{GoldsmithBinary: bin, AgentBinary: testsupport.AgentBinary(t), Accel: "auto"}
		c.S3 = s3cfg
	})
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(fake.URL), UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "k", SecretAccessKey: "s"}, nil
		})})
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("exports")}); err != nil {
		t.Fatal(err)
	}
	ext := &extclient.Client{Endpoint: a.URL(), Region: "us-east-1", Credentials: aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}}
	start := time.Now()
	built, err := ext.BuildBaseImage(ctx, "debian-12")
	if err != nil {
		t.Fatalf("building the Debian 12 base: %v", err)
	}
	t.Logf("debian-12 base built in %v", time.Since(start).Round(time.Millisecond))
	c := client(a, "test", "test")
	infra := must[*ib.CreateInfrastructureConfigurationOutput](t)(c.CreateInfrastructureConfiguration(ctx, &ib.CreateInfrastructureConfigurationInput{
		Name: aws.String("vm-infra"), InstanceProfileName: aws.String("local"), InstanceTypes: []string{"local.small"}}))
	return &vmFixture{a: a, c: c, s3: s3c, infra: aws.ToString(infra.InfrastructureConfigurationArn), base: built.ImageBuildVersionArn}
}

// recipe makes an image recipe on parent with the given components.
func (f *vmFixture) recipe(ctx context.Context, t *testing.T, name, parent string, docs ...string) string {
	t.Helper()
	var comps []types.ComponentConfiguration
	for i, d := range docs {
		arn := createComponent(t, f.c, name+"-c"+string(rune('a'+i)), "1.0.0", d).ComponentBuildVersionArn
		comps = append(comps, types.ComponentConfiguration{ComponentArn: arn})
	}
	// A 3 GiB root volume on the 2 GiB base: the partition and the file
	// system grow (the check component tests it).
	out := must[*ib.CreateImageRecipeOutput](t)(f.c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{
		Name: aws.String(name), SemanticVersion: aws.String("1.0.0"), ParentImage: aws.String(parent), Components: comps,
		BlockDeviceMappings: []types.InstanceBlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"),
			Ebs: &types.EbsInstanceBlockDeviceSpecification{VolumeSize: aws.Int32(3)}}}}))
	return aws.ToString(out.ImageRecipeArn)
}

func (f *vmFixture) distribution(ctx context.Context, t *testing.T, name string, d types.Distribution) string {
	t.Helper()
	out := must[*ib.CreateDistributionConfigurationOutput](t)(f.c.CreateDistributionConfiguration(ctx, &ib.CreateDistributionConfigurationInput{
		Name: aws.String(name), Distributions: []types.Distribution{d}}))
	return aws.ToString(out.DistributionConfigurationArn)
}

// TestVMBuildEndToEnd: the Debian 12 base → a two-component recipe with a
// test component → AVAILABLE; the RAW export boots on its own (BIOS →
// GRUB → systemd) and holds the marker; an imported disk builds; a
// failing component fails naming the step; a cancel stops the instance;
// an encrypted output cannot be read without its key.
func TestVMBuildEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	f := newVMFixture(ctx, t)
	c := f.c
	base := "arn:aws:imagebuilder:us-east-1:aws:image/debian-12-x86/x.x.x"

	recipe := f.recipe(ctx, t, "vm-e2e", base, vmMarkerComponent, vmNoteComponent, vmCheckComponent)
	dist := f.distribution(ctx, t, "vm-e2e", types.Distribution{Region: aws.String("us-east-1"),
		AmiDistributionConfiguration: &types.AmiDistributionConfiguration{Name: aws.String("vm-e2e-{{ imagebuilder:buildDate }}"),
			AmiTags: map[string]string{"built-by": "goldsmith"}},
		S3ExportConfiguration: &types.S3ExportConfiguration{DiskImageFormat: types.DiskImageFormatRaw, RoleName: aws.String("local"),
			S3Bucket: aws.String("exports"), S3Prefix: aws.String("vm")}})
	start := time.Now()
	created := must[*ib.CreateImageOutput](t)(c.CreateImage(ctx, &ib.CreateImageInput{ImageRecipeArn: aws.String(recipe),
		InfrastructureConfigurationArn: aws.String(f.infra), DistributionConfigurationArn: aws.String(dist)}))
	img := waitForImage(ctx, t, c, aws.ToString(created.ImageBuildVersionArn))
	if img.State.Status != types.ImageStatusAvailable {
		t.Fatalf("image ended %s: %s", img.State.Status, aws.ToString(img.State.Reason))
	}
	t.Logf("VM image built, tested and distributed in %v", time.Since(start).Round(time.Millisecond))
	if img.OutputResources == nil || len(img.OutputResources.Amis) != 1 || !strings.HasPrefix(aws.ToString(img.OutputResources.Amis[0].Image), "ami-") ||
		!strings.HasPrefix(aws.ToString(img.OutputResources.Amis[0].Name), "vm-e2e-20") {
		t.Fatalf("output resources: %+v", img.OutputResources)
	}
	if !strings.Contains(aws.ToString(img.OsVersion), "Debian GNU/Linux 12") {
		t.Errorf("osVersion = %q", aws.ToString(img.OsVersion))
	}
	npkgs := 0
	for p := ib.NewListImagePackagesPaginator(c, &ib.ListImagePackagesInput{ImageBuildVersionArn: created.ImageBuildVersionArn}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		npkgs += len(page.ImagePackageList)
	}
	if npkgs < 100 {
		t.Errorf("only %d packages recorded", npkgs)
	}
	exs := must[*ib.ListWorkflowExecutionsOutput](t)(c.ListWorkflowExecutions(ctx, &ib.ListWorkflowExecutionsInput{ImageBuildVersionArn: created.ImageBuildVersionArn}))
	var wfs []string
	for _, ex := range exs.WorkflowExecutions {
		wfs = append(wfs, aws.ToString(ex.WorkflowBuildVersionArn)+"="+string(ex.Status))
	}
	for _, want := range []string{"build-image", "test-image", "distribute-image"} {
		if !strings.Contains(strings.Join(wfs, " "), want) {
			t.Errorf("no %s execution in %v", want, wfs)
		}
	}

	// The export boots on its own and carries the marker.
	raw := filepath.Join(t.TempDir(), "export.raw")
	obj, err := f.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("exports"), Key: aws.String("vm/vm-e2e-1.0.0-1.raw")})
	if err != nil {
		t.Fatalf("the RAW export is not in S3: %v", err)
	}
	out, _ := os.Create(raw)
	_, err = io.Copy(out, obj.Body)
	out.Close()
	obj.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	fsys, _, _, err := vm.FindRoot(ctx, raw)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if b, err := fsys.ReadFile(ctx, "/etc/marker"); err != nil || string(b) != "built-by-goldsmith\n" {
		t.Errorf("/etc/marker in the export = %q, %v", b, err)
	}
	if b, err := fsys.ReadFile(ctx, "/etc/machine-id"); err != nil || len(bytes.TrimSpace(b)) != 0 {
		t.Errorf("/etc/machine-id in the export = %q, %v (want empty)", b, err)
	}
	bootStandalone(ctx, t, raw)

	t.Run("imported disk builds", func(t *testing.T) {
		// The base's disk, imported as a user's image: cloud-init, no agent.
		baseImg := must[*ib.GetImageOutput](t)(c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: aws.String(f.base)}))
		id := aws.ToString(baseImg.Image.OutputResources.Amis[0].Image)
		disk, err := f.a.amis.Disk("us-east-1", id)
		if err != nil {
			t.Fatal(err)
		}
		vmdk := filepath.Join(t.TempDir(), "mine.vmdk")
		if err := vm.Convert(ctx, disk, "qcow2", vmdk, "vmdk", vm.ConvertOptions{}); err != nil {
			t.Fatal(err)
		}
		imp := must[*ib.ImportDiskImageOutput](t)(c.ImportDiskImage(ctx, &ib.ImportDiskImageInput{Name: aws.String("mine"), SemanticVersion: aws.String("1.0.0"),
			Platform: aws.String("Linux"), OsVersion: aws.String("Debian 12"), InfrastructureConfigurationArn: aws.String(f.infra), Uri: aws.String("file://" + vmdk)}))
		got := waitForImage(ctx, t, c, aws.ToString(imp.ImageBuildVersionArn))
		if got.State.Status != types.ImageStatusAvailable {
			t.Fatalf("import ended %s: %s", got.State.Status, aws.ToString(got.State.Reason))
		}
		amiID := aws.ToString(got.OutputResources.Amis[0].Image)
		recipe := f.recipe(ctx, t, "on-import", amiID, vmNoteComponent)
		dist := f.distribution(ctx, t, "encrypted", types.Distribution{Region: aws.String("us-east-1"),
			AmiDistributionConfiguration: &types.AmiDistributionConfiguration{Name: aws.String("enc-{{ imagebuilder:buildDate }}"), KmsKeyId: aws.String("alias/disks")}})
		created := must[*ib.CreateImageOutput](t)(c.CreateImage(ctx, &ib.CreateImageInput{ImageRecipeArn: aws.String(recipe), InfrastructureConfigurationArn: aws.String(f.infra),
			DistributionConfigurationArn: aws.String(dist), ImageTestsConfiguration: &types.ImageTestsConfiguration{ImageTestsEnabled: aws.Bool(false)}}))
		img := waitForImage(ctx, t, c, aws.ToString(created.ImageBuildVersionArn))
		if img.State.Status != types.ImageStatusAvailable {
			t.Fatalf("build on the import ended %s: %s", img.State.Status, aws.ToString(img.State.Reason))
		}
		encID := aws.ToString(img.OutputResources.Amis[0].Image)
		encDisk, _ := f.a.amis.Disk("us-east-1", encID)
		info, err := vm.Inspect(ctx, encDisk)
		if err != nil || !info.Encrypted {
			t.Fatalf("the distributed disk is not encrypted: %+v, %v", info, err)
		}
		if _, closeRaw, err := vm.RawView(ctx, encDisk, "qcow2", nil, t.TempDir()); err == nil {
			closeRaw()
			t.Fatal("an encrypted disk was readable without its key")
		}

		iso := filepath.Join(t.TempDir(), "cd.iso")
		blob := make([]byte, 64<<10)
		copy(blob[32769:], "CD001")
		if err := os.WriteFile(iso, blob, 0o600); err != nil {
			t.Fatal(err)
		}
		imp = must[*ib.ImportDiskImageOutput](t)(c.ImportDiskImage(ctx, &ib.ImportDiskImageInput{Name: aws.String("cd-image"), SemanticVersion: aws.String("1.0.0"),
			Platform: aws.String("Linux"), OsVersion: aws.String("x"), InfrastructureConfigurationArn: aws.String(f.infra), Uri: aws.String("file://" + iso)}))
		got = waitForImage(ctx, t, c, aws.ToString(imp.ImageBuildVersionArn))
		if got.State.Status != types.ImageStatusFailed || !strings.Contains(aws.ToString(got.State.Reason), "ISO") {
			t.Errorf("ISO import ended %s: %q", got.State.Status, aws.ToString(got.State.Reason))
		}
	})

	t.Run("failure and cancel", func(t *testing.T) {
		failing := strings.Replace(vmMarkerComponent, "head -c 1024 /dev/urandom > /opt/blob", "exit 7", 1)
		recipe := f.recipe(ctx, t, "vm-broken", base, failing)
		created := must[*ib.CreateImageOutput](t)(c.CreateImage(ctx, &ib.CreateImageInput{ImageRecipeArn: aws.String(recipe), InfrastructureConfigurationArn: aws.String(f.infra)}))
		img := waitForImage(ctx, t, c, aws.ToString(created.ImageBuildVersionArn))
		if img.State.Status != types.ImageStatusFailed || !strings.Contains(aws.ToString(img.State.Reason), "WriteMarker") {
			t.Fatalf("failing build ended %s: %q", img.State.Status, aws.ToString(img.State.Reason))
		}
		if n := qemuProcesses(f.a.cfg.DataDir); n != 0 {
			t.Errorf("%d QEMU processes still run after a failed build", n)
		}

		slow := strings.Replace(vmMarkerComponent, "head -c 1024 /dev/urandom > /opt/blob", "sleep 600", 1)
		recipe = f.recipe(ctx, t, "vm-slow", base, slow)
		created = must[*ib.CreateImageOutput](t)(c.CreateImage(ctx, &ib.CreateImageInput{ImageRecipeArn: aws.String(recipe), InfrastructureConfigurationArn: aws.String(f.infra)}))
		arn := created.ImageBuildVersionArn
		waitStep(ctx, t, c, aws.ToString(arn), "ApplyBuildComponents")
		time.Sleep(2 * time.Second)
		must[*ib.CancelImageCreationOutput](t)(c.CancelImageCreation(ctx, &ib.CancelImageCreationInput{ImageBuildVersionArn: arn}))
		img = waitForImage(ctx, t, c, aws.ToString(arn))
		if img.State.Status != types.ImageStatusCancelled {
			t.Fatalf("cancelled build ended %s: %q", img.State.Status, aws.ToString(img.State.Reason))
		}
		if n := qemuProcesses(f.a.cfg.DataDir); n != 0 {
			t.Errorf("%d QEMU processes still run after a cancel", n)
		}
	})
}

// waitStep waits until the image's build execution has started step name.
func waitStep(ctx context.Context, t *testing.T, c *ib.Client, arn, name string) {
	t.Helper()
	for ctx.Err() == nil {
		exs, err := c.ListWorkflowExecutions(ctx, &ib.ListWorkflowExecutionsInput{ImageBuildVersionArn: aws.String(arn)})
		if err == nil {
			for _, ex := range exs.WorkflowExecutions {
				steps, err := c.ListWorkflowStepExecutions(ctx, &ib.ListWorkflowStepExecutionsInput{WorkflowExecutionId: ex.WorkflowExecutionId})
				if err != nil {
					continue
				}
				for _, s := range steps.Steps {
					if aws.ToString(s.Name) == name {
						return
					}
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("step %s of %s never started", name, arn)
}

// qemuProcesses counts running qemu-system processes whose command line
// mentions dir (the server's data dir: their disks are there).
func qemuProcesses(dir string) int {
	n := 0
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.HasPrefix(b, []byte("qemu-system")) && bytes.Contains(b, []byte(dir)) {
			n++
		}
	}
	return n
}

// bootStandalone boots a raw disk the way a user would (BIOS, GRUB, no
// -kernel) and waits for the login prompt on the serial console.
func bootStandalone(ctx context.Context, t *testing.T, raw string) {
	t.Helper()
	dir := t.TempDir()
	accel, err := vm.DetectAccel("auto")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m, err := vm.Start(ctx, vm.Config{Name: "standalone", Accel: accel, CPUs: 1, MemoryMiB: 1024,
		Drives: []vm.Drive{{Path: raw, Format: "raw"}}, RunDir: dir, Limit: 4 * time.Minute, NoReboot: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Kill() }()
	for {
		b, _ := os.ReadFile(filepath.Join(dir, vm.ConsoleLogName))
		if bytes.Contains(b, []byte("login:")) {
			t.Logf("the RAW export booted standalone to a login prompt in %v", time.Since(start).Round(time.Millisecond))
			return
		}
		select {
		case <-m.Done():
			t.Fatalf("the RAW export did not boot:\n%s", m.ConsoleTail(30))
		case <-ctx.Done():
			t.Fatalf("the RAW export did not reach a login prompt:\n%s", m.ConsoleTail(30))
		case <-time.After(250 * time.Millisecond):
		}
	}
}
