// Package artifact moves bytes in and out of goldsmith: documents read
// from file:// and s3:// URIs, and (later) images and exports.
package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Options address an S3-compatible endpoint. Empty credentials use the
// SDK's default chain (environment, shared config).
type S3Options struct {
	Endpoint        string
	Region          string
	AccessKeyID     string
	SecretAccessKey string
	UsePathStyle    bool
}

// Fetcher reads documents from file:// and s3:// URIs.
type Fetcher struct {
	s3 *s3.Client
}

// NewFetcher returns a Fetcher using o for s3:// URIs.
func NewFetcher(o S3Options) *Fetcher {
	opts := s3.Options{
		Region:       o.Region,
		UsePathStyle: o.UsePathStyle,
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if o.Endpoint != "" {
		opts.BaseEndpoint = aws.String(o.Endpoint)
	}
	if o.AccessKeyID != "" {
		opts.Credentials = credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, "")
	} else {
		opts.Credentials = aws.AnonymousCredentials{}
	}
	opts.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	opts.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	return &Fetcher{s3: s3.New(opts)}
}

// open returns a reader of the object at a file:// or s3:// uri.
func (f *Fetcher) open(ctx context.Context, uri string) (io.ReadCloser, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("uri %q: %w", uri, err)
	}
	var r io.ReadCloser
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("file uri %q must name a local path (file:///path)", uri)
		}
		fh, err := os.Open(u.Path)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", u.Path, err)
		}
		st, err := fh.Stat()
		if err != nil || st.IsDir() {
			fh.Close()
			return nil, fmt.Errorf("%s is not a regular file", u.Path)
		}
		r = fh
	case "s3":
		key := strings.TrimPrefix(u.Path, "/")
		if u.Host == "" || key == "" {
			return nil, fmt.Errorf("s3 uri %q must have the form s3://bucket/key", uri)
		}
		out, err := f.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(u.Host), Key: aws.String(key)})
		if err != nil {
			return nil, fmt.Errorf("reading s3://%s/%s: %w", u.Host, key, err)
		}
		r = out.Body
	default:
		return nil, fmt.Errorf("uri %q: scheme must be file or s3", uri)
	}
	return r, nil
}

// Fetch returns the content at uri, refusing more than maxBytes.
func (f *Fetcher) Fetch(ctx context.Context, uri string, maxBytes int64) ([]byte, error) {
	r, err := f.open(ctx, uri)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", uri, err)
	}
	if int64(len(b)) > maxBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", uri, maxBytes)
	}
	if len(b) == 0 {
		return nil, errors.New(uri + " is empty")
	}
	return b, nil
}

// Download copies the object at uri (file:// or s3://) to the file dst.
func (f *Fetcher) Download(ctx context.Context, uri, dst string) error {
	r, err := f.open(ctx, uri)
	if err != nil {
		return err
	}
	defer r.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", uri, err)
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return fmt.Errorf("downloading %s: %w", uri, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("downloading %s: %w", uri, err)
	}
	return nil
}
