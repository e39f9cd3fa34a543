package module

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// defaultBackoff is the first retry delay of WebDownload; it doubles on
// every further attempt.
const defaultBackoff = time.Second

// webAttempts is the number of download attempts per item (independent of
// the step's maxAttempts).
const webAttempts = 5

type webDownload struct {
	backoff time.Duration
}

var webDownloadSpec = spec{
	{"source", kString, true}, {"destination", kString, true}, {"overwrite", kBool, false},
	{"checksum", kString, false}, {"algorithm", kString, false}, {"ignoreCertificateErrors", kBool, false},
}

func (webDownload) Name() string { return "WebDownload" }

var digestLen = map[string]int{"MD5": 32, "SHA1": 40, "SHA256": 64, "SHA512": 128}

func (webDownload) Check(in any) []Problem {
	return checkItems(in, webDownloadSpec, func(p *problems, path string, m map[string]any) {
		if s, ok := m["source"].(string); ok && !isExpr(s) {
			l := strings.ToLower(s)
			if !strings.HasPrefix(l, "http://") && !strings.HasPrefix(l, "https://") {
				p.add(join(path, "source"), "must be an http:// or https:// URL, got %q", s)
			}
		}
		algo, _ := scalar(m["algorithm"])
		if algo != "" && !isExpr(algo) {
			if _, err := newHash(algo); err != nil {
				p.add(join(path, "algorithm"), "%v", err)
				algo = ""
			}
		}
		sum, _ := scalar(m["checksum"])
		if sum != "" && !isExpr(sum) && algo != "" && !isExpr(algo) {
			want := digestLen[strings.ToUpper(strings.ReplaceAll(algo, "-", ""))]
			if _, err := hex.DecodeString(sum); err != nil || len(sum) != want {
				p.add(join(path, "checksum"), "must be %d hex digits for %s, got %q", want, algo, sum)
			}
		}
	})
}

// Run downloads each item (5 attempts with exponential backoff, redirects
// followed, any final status but 200 is an error) and verifies the checksum
// when both checksum and algorithm are given. Output destination: the local
// paths joined with "\n".
func (m webDownload) Run(ctx context.Context, env *Env, in any) (Result, error) {
	var dests []string
	err := forEachItem(m.Name(), in, m.Check, func(_ int, it values) error {
		dest, err := m.item(ctx, env, it)
		if err != nil {
			return err
		}
		dests = append(dests, dest)
		return nil
	})
	res := Result{Outputs: map[string]any{"destination": strings.Join(dests, "\n")}}
	return res, err
}

func (m webDownload) item(ctx context.Context, env *Env, it values) (string, error) {
	source := it.str("source")
	u, err := url.Parse(source)
	if err != nil {
		return "", fmt.Errorf("source: %w", err)
	}
	dstRaw := it.str("destination")
	dest := absPath(env, dstRaw)
	if endsWithSep(dstRaw) {
		name := path.Base(u.Path)
		if name == "" || name == "/" || name == "." {
			return "", fmt.Errorf("cannot derive a file name from %s; give a file path as destination", source)
		}
		dest = filepath.Join(dest, name)
	}
	overwrite, err := it.boolean("overwrite", true)
	if err != nil {
		return "", err
	}
	insecure, err := it.boolean("ignoreCertificateErrors", false)
	if err != nil {
		return "", err
	}
	sum, algo := strings.ToLower(strings.TrimSpace(it.str("checksum"))), it.str("algorithm")
	verify := sum != "" && algo != ""
	if !verify && (sum != "" || algo != "") {
		env.logger().Warn("checksum verification needs both checksum and algorithm; not verifying", "source", source)
	}
	if fi, err := os.Stat(dest); err == nil {
		if fi.IsDir() {
			return "", fmt.Errorf("destination %s is a folder", dest)
		}
		if !overwrite {
			return "", fmt.Errorf("file %s already exists and overwrite is false", dest)
		}
		if verify {
			if got, err := fileDigest(dest, algo); err == nil && got == sum {
				env.logger().Info("existing file matches the checksum; not downloading", "destination", dest)
				return dest, nil
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o777); err != nil {
		return "", fmt.Errorf("create destination folders: %w", err)
	}
	client := httpClient(env, insecure)
	delay := m.backoff
	for attempt := 1; ; attempt++ {
		err = fetch(ctx, client, source, dest, algo, sum, verify)
		if err == nil {
			return dest, nil
		}
		if attempt >= webAttempts || !retryable(err) || ctx.Err() != nil {
			return "", fmt.Errorf("download %s (attempt %d of %d): %w", source, attempt, webAttempts, err)
		}
		env.logger().Warn("download failed; retrying", "source", source, "attempt", attempt, "delay", delay, "error", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("download %s: %w", source, ctx.Err())
		case <-t.C:
		}
		delay *= 2
	}
}

// statusError is a final HTTP status other than 200.
type statusError struct {
	code   int
	status string
}

func (e *statusError) Error() string { return "HTTP status " + e.status }

// checksumError is a digest mismatch.
type checksumError struct{ algo, want, got string }

func (e *checksumError) Error() string {
	return fmt.Sprintf("%s checksum mismatch: expected %s, got %s", e.algo, e.want, e.got)
}

func retryable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.code >= 500 || se.code == http.StatusTooManyRequests || se.code == http.StatusRequestTimeout
	}
	var fe *fsError
	return !errors.As(err, &fe)
}

// fsError marks local file-system failures (not worth retrying).
type fsError struct{ err error }

func (e *fsError) Error() string { return e.err.Error() }
func (e *fsError) Unwrap() error { return e.err }

// fetch downloads source into a temporary file next to dest, verifies it
// and renames it into place.
func fetch(ctx context.Context, client *http.Client, source, dest, algo, sum string, verify bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, source, nil)
	if err != nil {
		return &fsError{fmt.Errorf("build request: %w", err)}
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return &statusError{code: resp.StatusCode, status: resp.Status}
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".download-*")
	if err != nil {
		return &fsError{fmt.Errorf("create temporary file: %w", err)}
	}
	defer os.Remove(tmp.Name())
	var h hash.Hash
	w := io.Writer(tmp)
	if verify {
		if h, err = newHash(algo); err != nil {
			_ = tmp.Close()
			return &fsError{err}
		}
		w = io.MultiWriter(tmp, h)
	}
	_, cerr := io.Copy(w, resp.Body)
	if err := tmp.Close(); err != nil && cerr == nil {
		return &fsError{fmt.Errorf("write %s: %w", tmp.Name(), err)}
	}
	if cerr != nil {
		return fmt.Errorf("read body: %w", cerr)
	}
	if verify {
		if got := hex.EncodeToString(h.Sum(nil)); got != sum {
			return &checksumError{algo: algo, want: sum, got: got}
		}
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return &fsError{fmt.Errorf("chmod: %w", err)}
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return &fsError{fmt.Errorf("move download into place: %w", err)}
	}
	return nil
}

// httpClient returns env's client (or a default one with sane timeouts),
// with certificate checks disabled when insecure.
func httpClient(env *Env, insecure bool) *http.Client {
	var base *http.Client
	if env != nil && env.HTTPClient != nil {
		base = env.HTTPClient
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = 60 * time.Second
		tr.TLSHandshakeTimeout = 30 * time.Second
		base = &http.Client{Transport: tr}
	}
	if !insecure {
		return base
	}
	c := *base
	var tr *http.Transport
	switch t := base.Transport.(type) {
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return &c // unknown transport: cannot change its TLS settings
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	tr.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // explicitly requested by ignoreCertificateErrors
	c.Transport = tr
	return &c
}
