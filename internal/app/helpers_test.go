package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/smithy-go"

	"github.com/goldsmith/goldsmith/internal/config"
)

// Accounts every test server knows.
const (
	accountA = "000000000000"
	accountB = "111111111111"
)

// startServer runs a real goldsmith on a loopback port with a fresh data
// dir and two accounts: A (test/test) and B (other/othersecret).
func startServer(t testing.TB, mutate ...func(*config.Config)) *App {
	t.Helper()
	cfg := &config.Config{
		Listen:   "127.0.0.1:0",
		Registry: config.Registry{Listen: "127.0.0.1:0"},
		// Resource tests leave images PENDING; build tests turn the engine on.
		Build:   config.Build{Disabled: true},
		DataDir: t.TempDir(),
		Accounts: []config.Account{
			{ID: accountA, Credentials: []config.Credential{{AccessKeyID: "test", SecretAccessKey: "test"}}},
			{ID: accountB, Credentials: []config.Credential{{AccessKeyID: "other", SecretAccessKey: "othersecret"}}},
		},
	}
	for _, m := range mutate {
		m(cfg)
	}
	if err := cfg.ApplyDefaults(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := Start(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("starting server: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return a
}

// client returns an official SDK client for the server with the given keys.
func client(a *App, accessKey, secret string) *imagebuilder.Client {
	return imagebuilder.New(imagebuilder.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(a.URL()),
		Credentials:      credentials.NewStaticCredentialsProvider(accessKey, secret, ""),
		RetryMaxAttempts: 1,
	})
}

// errorCode returns the API error code of err ("" if none).
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// wantCode fails the test unless err carries the API error code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected %s, got success", code)
	}
	if got := errorCode(err); got != code {
		t.Fatalf("expected %s, got %q (%v)", code, got, err)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// awsCLI returns a runner of `aws imagebuilder ...` against the server with
// account A's keys: it returns the parsed JSON output, stderr and the
// command's error.
func awsCLI(t *testing.T, a *App, awsBin string) func(args ...string) (map[string]any, string, error) {
	return func(args ...string) (map[string]any, string, error) {
		t.Helper()
		cmd := exec.Command(awsBin, append([]string{"--endpoint-url", a.URL(), "--output", "json", "imagebuilder"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1",
			"AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var out map[string]any
		if err == nil && stdout.Len() > 0 {
			if jerr := json.Unmarshal(stdout.Bytes(), &out); jerr != nil {
				t.Fatalf("aws %v: output is not JSON: %s", args, stdout.String())
			}
		}
		return out, stderr.String(), err
	}
}

// cliChecks wraps an awsCLI runner: ok runs a command that must succeed and
// returns its output; fails runs one that must fail with the error code.
func cliChecks(t *testing.T, run func(args ...string) (map[string]any, string, error)) (ok func(args ...string) map[string]any, fails func(code string, args ...string)) {
	ok = func(args ...string) map[string]any {
		t.Helper()
		out, stderr, err := run(args...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		return out
	}
	fails = func(code string, args ...string) {
		t.Helper()
		_, stderr, err := run(args...)
		if err == nil || !strings.Contains(stderr, code) {
			t.Fatalf("aws %s: want %s, got err=%v stderr=%s", strings.Join(args, " "), code, err, stderr)
		}
	}
	return ok, fails
}
