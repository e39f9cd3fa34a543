package app

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/goldsmith/goldsmith/internal/artifact"
	"github.com/goldsmith/goldsmith/internal/docsource"
	"github.com/goldsmith/goldsmith/internal/toe"
)

// TestExecuteDocumentFromServer runs a document whose ExecuteDocument step
// names a component ARN stored on a running server.
func TestExecuteDocumentFromServer(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	dir := t.TempDir()
	marker := filepath.Join(dir, "nested-ran")
	nested := "name: Nested\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Touch\n        action: ExecuteBash\n        inputs:\n          commands:\n            - touch " + marker + "\n"
	arn := aws.ToString(createComponent(t, c, "nested", "1.0.0", nested).ComponentBuildVersionArn)
	mainDoc := "name: Main\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: RunNested\n        action: ExecuteDocument\n        inputs:\n          document: " + arn + "\n"
	doc, err := toe.ParseDocument("main.yml", []byte(mainDoc))
	if err != nil {
		t.Fatal(err)
	}
	loader := docsource.New(artifact.S3Options{}, docsource.Server{Endpoint: a.URL(), Region: "us-east-1", AccessKeyID: "test", SecretAccessKey: "test"})
	exec, err := toe.Run(context.Background(), toe.RunOptions{Documents: []*toe.Document{doc}, LogDirectory: dir,
		Stdout: io.Discard, LoadDocument: loader.Load})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err != nil || exec.Status != toe.StatusSuccess {
		t.Fatalf("status %s, marker: %v", exec.Status, err)
	}
	// An unknown ARN fails the step with the server's answer.
	missing := strings.Replace(arn, "nested", "missing", 1)
	doc, _ = toe.ParseDocument("main.yml", []byte(strings.Replace(mainDoc, arn, missing, 1)))
	exec, err = toe.Run(context.Background(), toe.RunOptions{Documents: []*toe.Document{doc}, LogDirectory: dir,
		Stdout: io.Discard, LoadDocument: loader.Load})
	if err == nil && exec.Status == toe.StatusSuccess {
		t.Fatal("a missing component ARN ran successfully")
	}
}
