package app

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAWSCLISmoke drives the server with the real AWS CLI found on PATH.
func TestAWSCLISmoke(t *testing.T) {
	awsBin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("no aws CLI on PATH; install awscli (scripts/test.sh does as root) to run this smoke test")
	}
	a := startServer(t)
	doc := filepath.Join(t.TempDir(), "hello.yml")
	if err := os.WriteFile(doc, []byte(helloDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	run := awsCLI(t, a, awsBin)
	ok, fails := cliChecks(t, run)

	out := ok("create-component", "--name", "cli-comp", "--semantic-version", "1.0.0", "--platform", "Linux",
		"--data", "file://"+doc, "--tags", "team=cli")
	arn, _ := out["componentBuildVersionArn"].(string)
	if !strings.HasSuffix(arn, ":component/cli-comp/1.0.0/1") {
		t.Fatalf("create-component ARN %q", arn)
	}
	got := ok("get-component", "--component-build-version-arn", arn)
	if comp, _ := got["component"].(map[string]any); comp["data"] != helloDoc {
		t.Errorf("get-component data = %v", comp["data"])
	}
	ok("get-component", "--component-build-version-arn", strings.TrimSuffix(arn, "1.0.0/1")+"x.x.x")
	list := ok("list-components")
	if l, _ := list["componentVersionList"].([]any); len(l) != 1 {
		t.Errorf("list-components = %v", list)
	}
	ok("list-component-build-versions", "--component-version-arn", strings.TrimSuffix(arn, "/1"))
	ok("tag-resource", "--resource-arn", arn, "--tags", "stage=smoke")
	ok("untag-resource", "--resource-arn", arn, "--tag-keys", "team")
	tags := ok("list-tags-for-resource", "--resource-arn", arn)
	if tm, _ := tags["tags"].(map[string]any); len(tm) != 1 || tm["stage"] != "smoke" {
		t.Errorf("tags = %v", tags)
	}
	ok("put-component-policy", "--component-arn", arn, "--policy", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["111111111111"]},"Action":["imagebuilder:GetComponent"],"Resource":["*"]}]}`)
	ok("get-component-policy", "--component-arn", arn)
	fails("ClientException", "retry-image", "--image-build-version-arn", "arn:aws:imagebuilder:us-east-1:000000000000:image/r/1.0.0/1", "--client-token", "t1")
	ok("delete-component", "--component-build-version-arn", arn)
	fails("ResourceNotFoundException", "get-component", "--component-build-version-arn", arn)
	fails("InvalidVersionNumberException", "create-component", "--name", "bad", "--semantic-version", "1.0", "--platform", "Linux", "--data", "x")
}
