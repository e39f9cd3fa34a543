package artifact

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// UploadDir copies every regular file below dir to s3://bucket/prefix/...,
// keeping relative paths, and returns how many it uploaded.
func (f *Fetcher) UploadDir(ctx context.Context, bucket, prefix, dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fh, err := os.Open(p)
		if err != nil {
			return err
		}
		defer fh.Close()
		key := strings.TrimPrefix(path.Join(prefix, filepath.ToSlash(rel)), "/")
		if _, err := f.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: fh}); err != nil {
			return fmt.Errorf("uploading %s to s3://%s/%s: %w", p, bucket, key, err)
		}
		n++
		return nil
	})
	return n, err
}

// UploadFile copies one file to s3://bucket/key.
func (f *Fetcher) UploadFile(ctx context.Context, bucket, key, file string) error {
	fh, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("uploading %s: %w", file, err)
	}
	defer fh.Close()
	if _, err := f.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: fh}); err != nil {
		return fmt.Errorf("uploading %s to s3://%s/%s: %w", file, bucket, key, err)
	}
	return nil
}
