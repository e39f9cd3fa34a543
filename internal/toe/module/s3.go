package module

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// maxS3Objects is the most objects one wildcard S3Download fetches.
const maxS3Objects = 1000

// parseS3URL splits s3://bucket/key.
func parseS3URL(s string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return "", "", fmt.Errorf("must be an s3://bucket/key URL, got %q", s)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("no bucket name in %q", s)
	}
	return bucket, key, nil
}

// checkS3URL reports a malformed s3:// URL (expressions are accepted).
func checkS3URL(p *problems, fieldPath string, v any, needKey bool) {
	s, ok := v.(string)
	if !ok || isExpr(s) {
		return
	}
	_, key, err := parseS3URL(s)
	if err != nil {
		p.add(fieldPath, "%v", err)
		return
	}
	if needKey && key == "" {
		p.add(fieldPath, "no object key in %q", s)
	}
}

// newS3Client builds a client for any S3-compatible endpoint.
func newS3Client(ctx context.Context, env *Env) (*s3.Client, error) {
	var opts S3Options
	if env != nil {
		opts = env.S3
	}
	var lo []func(*config.LoadOptions) error
	switch {
	case opts.Region != "":
		lo = append(lo, config.WithRegion(opts.Region))
	case opts.Endpoint == "" && os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "":
		// On a build instance the region usually comes from instance
		// metadata (consulted only when nothing else names a region).
		lo = append(lo, config.WithEC2IMDSRegion())
	}
	if opts.AccessKeyID != "" {
		lo = append(lo, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, opts.SessionToken)))
	}
	if env != nil && env.HTTPClient != nil {
		lo = append(lo, config.WithHTTPClient(env.HTTPClient))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
			// S3-compatible servers often lack the newer default
			// integrity checksums; only send them when required.
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
		o.UsePathStyle = opts.UsePathStyle
	}), nil
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// ------------------------------------------------------------------ S3Download

type s3Download struct{}

var s3DownloadSpec = spec{
	{"source", kString, true}, {"destination", kString, true},
	{"expectedBucketOwner", kString, false}, {"overwrite", kBool, false},
}

func (s3Download) Name() string { return "S3Download" }

func (s3Download) Check(in any) []Problem {
	return checkItems(in, s3DownloadSpec, func(p *problems, path string, m map[string]any) {
		checkS3URL(p, join(path, "source"), m["source"], true)
		if s, ok := m["destination"].(string); ok && strings.HasPrefix(s, "s3://") {
			p.add(join(path, "destination"), "must be a local path, got %q (use S3Upload to upload)", s)
		}
	})
}

// Run downloads one object to a file path, or — with '*' in the key, e.g.
// s3://bucket/prefix/* — every matching object (at most 1000) into the
// destination folder, recreating the key's sub-folders. The destination's
// folders must already exist. An existing file is replaced unless
// overwrite is false (then it is an error).
func (m s3Download) Run(ctx context.Context, env *Env, in any) (Result, error) {
	if err := errProblems(m.Name(), m.Check(in)); err != nil {
		return Result{}, err
	}
	client, err := newS3Client(ctx, env)
	if err != nil {
		return Result{}, fmt.Errorf("S3Download: %w", err)
	}
	return Result{}, forEachItem(m.Name(), in, m.Check, func(_ int, it values) error {
		return m.item(ctx, env, client, it)
	})
}

func (m s3Download) item(ctx context.Context, env *Env, client *s3.Client, it values) error {
	bucket, key, err := parseS3URL(it.str("source"))
	if err != nil {
		return err
	}
	owner := it.str("expectedBucketOwner")
	overwrite, err := it.boolean("overwrite", true)
	if err != nil {
		return err
	}
	dstRaw := it.str("destination")
	dest := absPath(env, dstRaw)
	if !strings.Contains(key, "*") {
		if fi, err := os.Stat(dest); endsWithSep(dstRaw) || (err == nil && fi.IsDir()) {
			dest = filepath.Join(dest, filepath.Base(key))
		}
		return getObject(ctx, client, bucket, key, owner, dest, overwrite)
	}
	fi, err := os.Stat(dest)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("destination folder %s must exist (S3Download does not create it)", dest)
	}
	prefix := key[:strings.Index(key, "*")]
	base := prefix[:strings.LastIndex(prefix, "/")+1]
	var keys []string
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix), ExpectedBucketOwner: optString(owner),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if matchStar(key, k) {
				keys = append(keys, k)
			}
		}
		if len(keys) > maxS3Objects {
			return fmt.Errorf("more than %d objects match s3://%s/%s", maxS3Objects, bucket, key)
		}
	}
	if len(keys) == 0 {
		return fmt.Errorf("no object matches s3://%s/%s", bucket, key)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rel := strings.TrimPrefix(k, base)
		if rel == "" {
			continue
		}
		local := filepath.FromSlash(strings.TrimSuffix(rel, "/"))
		if !filepath.IsLocal(local) {
			return fmt.Errorf("object key %q escapes the destination folder", k)
		}
		target := filepath.Join(dest, local)
		if strings.HasSuffix(k, "/") { // folder marker
			if err := os.MkdirAll(target, 0o777); err != nil {
				return fmt.Errorf("create folder: %w", err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o777); err != nil {
			return fmt.Errorf("create folder: %w", err)
		}
		if err := getObject(ctx, client, bucket, k, owner, target, overwrite); err != nil {
			return err
		}
	}
	return nil
}

// getObject downloads one object via a temporary file in dest's folder.
func getObject(ctx context.Context, client *s3.Client, bucket, key, owner, dest string, overwrite bool) error {
	if fi, err := os.Stat(filepath.Dir(dest)); err != nil || !fi.IsDir() {
		return fmt.Errorf("destination folder %s does not exist (S3Download does not create folders)", filepath.Dir(dest))
	}
	if fi, err := os.Stat(dest); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("destination %s is a folder", dest)
		}
		if !overwrite {
			return fmt.Errorf("file %s already exists and overwrite is false; cannot download", dest)
		}
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), ExpectedBucketOwner: optString(owner),
	})
	if err != nil {
		return fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".download-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, cerr := io.Copy(tmp, out.Body)
	if err := tmp.Close(); err != nil && cerr == nil {
		cerr = err
	}
	if cerr != nil {
		return fmt.Errorf("download s3://%s/%s: %w", bucket, key, cerr)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return fmt.Errorf("move download into place: %w", err)
	}
	return nil
}

// -------------------------------------------------------------------- S3Upload

type s3Upload struct{}

var s3UploadSpec = spec{
	{"source", kString, true}, {"destination", kString, true},
	{"recurse", kBool, false}, {"expectedBucketOwner", kString, false},
}

func (s3Upload) Name() string { return "S3Upload" }

func (s3Upload) Check(in any) []Problem {
	return checkItems(in, s3UploadSpec, func(p *problems, path string, m map[string]any) {
		checkS3URL(p, join(path, "destination"), m["destination"], false)
		if s, ok := m["source"].(string); ok {
			if strings.HasPrefix(s, "s3://") {
				p.add(join(path, "source"), "must be a local path, got %q (use S3Download to download)", s)
			}
			checkWildcardPlacement(p, join(path, "source"), s)
		}
	})
}

// Run uploads a file to a key (or under a prefix ending with "/"), the
// files matching a '*' pattern under a prefix, and with recurse: true whole
// folders. Files already uploaded stay when a later one fails.
func (m s3Upload) Run(ctx context.Context, env *Env, in any) (Result, error) {
	if err := errProblems(m.Name(), m.Check(in)); err != nil {
		return Result{}, err
	}
	client, err := newS3Client(ctx, env)
	if err != nil {
		return Result{}, fmt.Errorf("S3Upload: %w", err)
	}
	return Result{}, forEachItem(m.Name(), in, m.Check, func(_ int, it values) error {
		return m.item(ctx, env, client, it)
	})
}

func (m s3Upload) item(ctx context.Context, env *Env, client *s3.Client, it values) error {
	bucket, key, err := parseS3URL(it.str("destination"))
	if err != nil {
		return err
	}
	recurse, err := it.boolean("recurse", false)
	if err != nil {
		return err
	}
	owner := it.str("expectedBucketOwner")
	src := absPath(env, it.str("source"))
	prefix := key
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	put := func(file, k string) error { return putObject(ctx, client, bucket, k, owner, file) }
	if !hasWildcard(src) {
		fi, err := os.Stat(src)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		if !fi.IsDir() {
			if key == "" || strings.HasSuffix(key, "/") {
				key += filepath.Base(src)
			}
			return put(src, key)
		}
		if !recurse {
			return fmt.Errorf("source %s is a folder; set recurse: true to upload it", src)
		}
		return uploadTree(src, prefix, put)
	}
	files, err := expand(src, false)
	if err != nil {
		return err
	}
	dirs, err := expand(src, true)
	if err != nil {
		return err
	}
	if len(files) == 0 && len(dirs) == 0 {
		return fmt.Errorf("no file matches %s", src)
	}
	for _, f := range files {
		if err := put(f, prefix+filepath.Base(f)); err != nil {
			return err
		}
	}
	for _, d := range dirs {
		if !recurse {
			env.logger().Info("skipping folder (recurse is false)", "path", d)
			continue
		}
		if err := uploadTree(d, prefix+filepath.Base(d)+"/", put); err != nil {
			return err
		}
	}
	return nil
}

// uploadTree uploads every regular file below dir under prefix.
func uploadTree(dir, prefix string, put func(file, key string) error) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if d.IsDir() {
			return nil
		}
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			return nil // dangling link or special file
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		return put(p, prefix+filepath.ToSlash(rel))
	})
}

func putObject(ctx context.Context, client *s3.Client, bucket, key, owner, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("open %s: %w", file, err)
	}
	defer f.Close()
	_, err = client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: f, ExpectedBucketOwner: optString(owner),
	})
	if err != nil {
		return fmt.Errorf("upload %s to s3://%s/%s: %w", file, bucket, key, err)
	}
	return nil
}
