package module

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// fakeS3 starts an in-process S3-compatible server with one bucket and
// returns an Env configured for it.
func fakeS3(t *testing.T, bucket string) *Env {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	env, _, _ := testEnv(t)
	env.S3 = S3Options{Endpoint: srv.URL, Region: "us-east-1", AccessKeyID: "AKIDTEST", SecretAccessKey: "secret", UsePathStyle: true}
	return env
}

func listKeys(t *testing.T, env *Env, bucket string) []string {
	t.Helper()
	c, err := newS3Client(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	sort.Strings(keys)
	return keys
}

func TestS3UploadAndDownload(t *testing.T) {
	env := fakeS3(t, "bkt")
	w := env.WorkDir
	writeTree(t, w, tree{"src/a.txt": "A", "src/b.log": "B", "src/sub/c.txt": "C", "src/sub/deep/d.txt": "D", "one.bin": "1"})
	ctx := context.Background()
	up := mustModule(t, "S3Upload")
	steps := []struct {
		in   string
		want []string
	}{
		{"- source: one.bin\n  destination: s3://bkt/single/renamed.bin", []string{"single/renamed.bin"}},
		{"- source: one.bin\n  destination: s3://bkt/prefix/", []string{"prefix/one.bin"}},
		{"- source: src/*\n  destination: s3://bkt/flat/", []string{"flat/a.txt", "flat/b.log"}},
		{"- source: src/*.txt\n  destination: s3://bkt/txt", []string{"txt/a.txt"}},
		{"- source: src/*\n  destination: s3://bkt/tree/\n  recurse: true",
			[]string{"tree/a.txt", "tree/b.log", "tree/sub/c.txt", "tree/sub/deep/d.txt"}},
		{"- source: src\n  destination: s3://bkt/dir/\n  recurse: 'true'",
			[]string{"dir/a.txt", "dir/b.log", "dir/sub/c.txt", "dir/sub/deep/d.txt"}},
	}
	var all []string
	for _, st := range steps {
		if _, err := up.Run(ctx, env, decodeYAML(t, st.in)); err != nil {
			t.Fatalf("upload %q: %v", st.in, err)
		}
		all = append(all, st.want...)
	}
	sort.Strings(all)
	if got := listKeys(t, env, "bkt"); !reflect.DeepEqual(got, all) {
		t.Errorf("keys:\n got %v\nwant %v", got, all)
	}
	for _, bad := range []struct{ in, err string }{
		{"- source: src\n  destination: s3://bkt/x/", "recurse"},
		{"- source: src/*.none\n  destination: s3://bkt/x/", "no file matches"},
		{"- source: missing\n  destination: s3://bkt/x", "no such file"},
		{"- source: one.bin\n  destination: s3://nobucket/x", "nobucket"},
	} {
		if _, err := up.Run(ctx, env, decodeYAML(t, bad.in)); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("upload %q: err = %v, want containing %q", bad.in, err, bad.err)
		}
	}

	down := mustModule(t, "S3Download")
	writeTree(t, w, tree{"dl/": "", "pre/": "", "pre/flat/": "", "exists": "old"})
	if _, err := down.Run(ctx, env, decodeYAML(t, `
- source: s3://bkt/single/renamed.bin
  destination: dl/file.bin
- source: s3://bkt/prefix/one.bin
  destination: dl/
- source: s3://bkt/tree/*
  destination: pre/
  expectedBucketOwner: 123456789012
- source: s3://bkt/flat/b*
  destination: pre/flat
`)); err != nil {
		t.Fatal(err)
	}
	wantFiles := tree{"dl/file.bin": "1", "dl/one.bin": "1", "pre/a.txt": "A", "pre/b.log": "B",
		"pre/sub/c.txt": "C", "pre/sub/deep/d.txt": "D", "pre/flat/b.log": "B"}
	got := readTree(t, w)
	for k, v := range wantFiles {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["pre/flat/a.txt"]; ok {
		t.Error("pattern flat/b* also downloaded a.txt")
	}
	for _, bad := range []struct{ in, err string }{
		{"- source: s3://bkt/single/renamed.bin\n  destination: exists\n  overwrite: false", "overwrite is false"},
		{"- source: s3://bkt/single/renamed.bin\n  destination: nodir/x", "does not exist"},
		{"- source: s3://bkt/tree/*\n  destination: nodir/", "must exist"},
		{"- source: s3://bkt/nothing/*\n  destination: dl/", "no object matches"},
		{"- source: s3://bkt/missing.bin\n  destination: dl/m", "missing.bin"},
	} {
		if _, err := down.Run(ctx, env, decodeYAML(t, bad.in)); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("download %q: err = %v, want containing %q", bad.in, err, bad.err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(w, "exists")); string(b) != "old" {
		t.Errorf("overwrite false changed the file: %q", b)
	}
	// overwrite defaults to true.
	if _, err := down.Run(ctx, env, decodeYAML(t, "- source: s3://bkt/single/renamed.bin\n  destination: exists")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(w, "exists")); string(b) != "1" {
		t.Errorf("overwrite: %q", b)
	}
}
