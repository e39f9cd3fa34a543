package module

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const payload = "the artifact content\n"

func digest(algo string) string {
	switch algo {
	case "MD5":
		s := md5.Sum([]byte(payload))
		return hex.EncodeToString(s[:])
	case "SHA1":
		s := sha1.Sum([]byte(payload))
		return hex.EncodeToString(s[:])
	case "SHA256":
		s := sha256.Sum256([]byte(payload))
		return hex.EncodeToString(s[:])
	}
	s := sha512.Sum512([]byte(payload))
	return hex.EncodeToString(s[:])
}

// webServer serves /file.zip, /redirect (to /file.zip), /flaky (500 twice,
// then the file), /missing (404) and /down (always 503); it counts requests.
func webServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n, flaky atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/file.zip", func(w http.ResponseWriter, r *http.Request) { n.Add(1); fmt.Fprint(w, payload) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Redirect(w, r, "/file.zip", http.StatusFound)
	})
	mux.HandleFunc("/flaky", func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if flaky.Add(1) <= 2 {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, payload)
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { n.Add(1); http.NotFound(w, r) })
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestWebDownload(t *testing.T) {
	m := webDownload{backoff: time.Millisecond}
	tests := []struct {
		name     string
		setup    tree
		in       string // %s = server URL
		wantErr  string
		wantOut  string // destination output, $W = work dir
		want     tree
		requests int32 // expected request count (0 = not checked)
	}{
		{name: "file path", in: "- source: %s/file.zip\n  destination: out/renamed.zip",
			wantOut: "$W/out/renamed.zip", want: tree{"out/renamed.zip": payload}},
		{name: "folder keeps URL name, several items joined by newline",
			in:      "- source: %s/file.zip\n  destination: a/b/\n- source: %s/redirect\n  destination: r.zip",
			wantOut: "$W/a/b/file.zip\n$W/r.zip", want: tree{"a/b/file.zip": payload, "r.zip": payload}},
		{name: "MD5 right", in: "- source: %s/file.zip\n  destination: f\n  checksum: " + digest("MD5") + "\n  algorithm: MD5",
			want: tree{"f": payload}},
		{name: "SHA1 right, upper-case digest", in: "- source: %s/file.zip\n  destination: f\n  checksum: " + strings.ToUpper(digest("SHA1")) + "\n  algorithm: sha1",
			want: tree{"f": payload}},
		{name: "SHA256 right", in: "- source: %s/file.zip\n  destination: f\n  checksum: " + digest("SHA256") + "\n  algorithm: SHA256",
			want: tree{"f": payload}},
		{name: "SHA512 right", in: "- source: %s/file.zip\n  destination: f\n  checksum: " + digest("SHA512") + "\n  algorithm: SHA512",
			want: tree{"f": payload}},
		{name: "SHA256 wrong", in: "- source: %s/file.zip\n  destination: f\n  checksum: " + strings.Repeat("0", 64) + "\n  algorithm: SHA256",
			wantErr: "checksum mismatch", want: tree{}, requests: 5},
		{name: "retries a flaky server", in: "- source: %s/flaky\n  destination: f", want: tree{"f": payload}, requests: 3},
		{name: "gives up after 5 attempts", in: "- source: %s/down\n  destination: f", wantErr: "attempt 5 of 5", want: tree{}, requests: 5},
		{name: "404 is not retried", in: "- source: %s/missing\n  destination: f", wantErr: "404", want: tree{}, requests: 1},
		{name: "overwrite false", setup: tree{"f": "old"}, in: "- source: %s/file.zip\n  destination: f\n  overwrite: false",
			wantErr: "overwrite is false", want: tree{"f": "old"}, requests: 0},
		{name: "overwrite default replaces", setup: tree{"f": "old"}, in: "- source: %s/file.zip\n  destination: f",
			want: tree{"f": payload}},
		{name: "matching existing file is not downloaded again", setup: tree{"f": payload},
			in:   "- source: %s/file.zip\n  destination: f\n  checksum: " + digest("SHA256") + "\n  algorithm: SHA256",
			want: tree{"f": payload}, requests: -1},
		{name: "folder destination needs a file name", in: "- source: %s/\n  destination: d/", wantErr: "file name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, n := webServer(t)
			env, _, _ := testEnv(t)
			w := env.WorkDir
			writeTree(t, w, tc.setup)
			in := decodeYAML(t, strings.ReplaceAll(tc.in, "%s", srv.URL))
			if ps := m.Check(in); len(ps) > 0 {
				t.Fatalf("Check:%s", problemsString(ps))
			}
			res, err := m.Run(context.Background(), env, in)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
			}
			if tc.wantOut != "" && res.Outputs["destination"] != strings.ReplaceAll(tc.wantOut, "$W", w) {
				t.Errorf("destination output = %q", res.Outputs["destination"])
			}
			if tc.want != nil {
				got := readTree(t, w)
				for k := range got {
					if strings.HasSuffix(k, "/") {
						delete(got, k)
					}
				}
				if d := diffTree(tc.want, got); d != "" {
					t.Errorf("files differ:%s", d)
				}
			}
			switch {
			case tc.requests > 0 && n.Load() != tc.requests:
				t.Errorf("requests = %d, want %d", n.Load(), tc.requests)
			case tc.requests == -1 && n.Load() != 0:
				t.Errorf("requests = %d, want none", n.Load())
			}
		})
	}
}

func TestWebDownloadIgnoreCertificateErrors(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, payload) }))
	defer srv.Close()
	m := webDownload{backoff: time.Millisecond}
	env, _, _ := testEnv(t)
	_, err := m.Run(context.Background(), env, decodeYAML(t, "- source: "+srv.URL+"/x\n  destination: strict"))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("self-signed certificate accepted: %v", err)
	}
	if _, err := m.Run(context.Background(), env, decodeYAML(t, "- source: "+srv.URL+"/x\n  destination: lax\n  ignoreCertificateErrors: true")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(env.WorkDir, "lax")); string(b) != payload {
		t.Errorf("content %q", b)
	}
}

func TestWebDownloadCancel(t *testing.T) {
	srv, _ := webServer(t)
	m := webDownload{backoff: time.Hour}
	env, _, _ := testEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := m.Run(ctx, env, decodeYAML(t, "- source: "+srv.URL+"/down\n  destination: f"))
	if err == nil || !strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
		t.Errorf("err = %v", err)
	}
}
