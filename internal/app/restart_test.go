package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"

	"github.com/goldsmith/goldsmith/internal/extclient"
	"github.com/goldsmith/goldsmith/internal/testsupport"
)

// freePort returns a loopback address nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveProcess runs `goldsmith serve` as a child process on dataDir.
func serveProcess(t *testing.T, bin, dataDir, api, reg string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--listen", api, "--registry-listen", reg, "--data-dir", dataDir, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("tcp", api); err == nil {
			c.Close()
			return cmd
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("goldsmith serve did not listen on %s", api)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBuildSurvivesKill9: the server is killed with SIGKILL in the middle
// of a build; restarted on the same data dir, it cleans up and the image
// reaches a final state; no mount or runc container is left behind.
func TestBuildSurvivesKill9(t *testing.T) {
	testsupport.RequireRealBuilds(t)
	bin := testsupport.GoldsmithBinary(t)
	dataDir := t.TempDir()
	api, reg := freePort(t), freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	srv := serveProcess(t, bin, dataDir, api, reg)
	defer func() { srv.Process.Kill(); srv.Wait() }()
	url := "http://" + api
	c := ib.New(ib.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		})})
	ext := &extclient.Client{Endpoint: url, Region: "us-east-1", Credentials: aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}}
	if _, err := ext.BuildBaseImage(ctx, "busybox-x86-container"); err != nil {
		t.Fatal(err)
	}
	f := &buildFixture{c: c}
	slow := strings.Replace(markerComponent, "rm -f /bin/vi", "sleep 5", 1)
	recipe, infra := f.recipe(ctx, t, "killed", slow)
	created := must[*ib.CreateImageOutput](t)(c.CreateImage(ctx, &ib.CreateImageInput{ContainerRecipeArn: aws.String(recipe), InfrastructureConfigurationArn: aws.String(infra)}))
	arn := created.ImageBuildVersionArn
	for {
		out := must[*ib.GetImageOutput](t)(c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: arn}))
		if out.Image.State.Status == types.ImageStatusBuilding {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // inside the component's sleep
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.Wait()

	srv = serveProcess(t, bin, dataDir, api, reg)
	img := waitForImage(ctx, t, c, aws.ToString(arn))
	if img.State.Status != types.ImageStatusAvailable && img.State.Status != types.ImageStatusFailed {
		t.Fatalf("after the restart the image ended %s", img.State.Status)
	}
	if img.State.Status == types.ImageStatusFailed && !strings.Contains(strings.ToLower(aws.ToString(img.State.Reason)), "interrupt") {
		t.Errorf("failed without saying it was interrupted: %q", aws.ToString(img.State.Reason))
	}
	t.Logf("after kill -9 and restart: %s %s", img.State.Status, aws.ToString(img.State.Reason))

	// Nothing of the killed build is left.
	mounts, _ := os.ReadFile("/proc/self/mounts")
	if strings.Contains(string(mounts), dataDir) {
		t.Errorf("mounts left under %s", dataDir)
	}
	out, _ := exec.Command("runc", "--root", "/run/goldsmith-runc", "list", "-q").Output()
	for _, id := range strings.Fields(string(out)) {
		state, _ := exec.Command("runc", "--root", "/run/goldsmith-runc", "state", id).Output()
		if strings.Contains(string(state), dataDir) {
			t.Errorf("runc container %s of the killed build is left", id)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(dataDir, "builds")); len(entries) > 0 {
		names := []string{}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("build scratch dirs left: %s", fmt.Sprint(names))
	}
}
