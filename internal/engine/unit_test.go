package engine

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

func TestImageBodyKeepsExtraKeys(t *testing.T) {
	body := `{"arn":"x","type":"DOCKER","state":{"status":"PENDING"},"goldsmithImport":{"uri":"s3://b/k"}}`
	d, err := decodeImage(&store.Resource{ARN: "x", Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	d.State = &gen.ImageState{Status: gen.ImageStatusBUILDING}
	if err := d.setExtra(keyPackages, []gen.ImagePackage{{PackageName: "p", PackageVersion: "1"}}); err != nil {
		t.Fatal(err)
	}
	out, err := d.encode()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"goldsmithImport", "goldsmithPackages", "state", "type"} {
		if m[want] == nil {
			t.Errorf("%s lost: %s", want, out)
		}
	}
	if !strings.Contains(string(m["state"]), "BUILDING") || !strings.Contains(string(m["goldsmithImport"]), "s3://b/k") {
		t.Errorf("body %s", out)
	}
	// A gen.Image member cleared is not brought back from the old body.
	d.State = nil
	out, _ = d.encode()
	if strings.Contains(string(out), "state") {
		t.Errorf("cleared state came back: %s", out)
	}
}

func TestParseImageARN(t *testing.T) {
	tests := []struct {
		arn  string
		want imageARN
		ok   bool
	}{
		{"arn:aws:imagebuilder:us-east-1:000000000000:image/demo/1.0.0/1",
			imageARN{"us-east-1", "000000000000", "demo", "1.0.0", "1"}, true},
		{"arn:aws:imagebuilder:us-east-1:000000000000:image/demo/1.0.0", imageARN{}, false},
		{"arn:aws:imagebuilder:us-east-1:000000000000:component/demo/1.0.0/1", imageARN{}, false},
		{"arn:aws:s3:::bucket", imageARN{}, false},
		{"", imageARN{}, false},
	}
	for _, tc := range tests {
		got, err := parseImageARN(tc.arn)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseImageARN(%q) = %+v, %v", tc.arn, got, err)
		}
	}
}

func FuzzParseImageARN(f *testing.F) {
	f.Add("arn:aws:imagebuilder:us-east-1:000000000000:image/demo/1.0.0/1")
	f.Add("arn:aws:imagebuilder:::image////")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseImageARN(s)
		if err == nil && (a.Name == "" || a.Version == "" || a.Build == "") {
			t.Errorf("accepted %q with empty parts: %+v", s, a)
		}
	})
}

func FuzzDecodeImage(f *testing.F) {
	f.Add(`{"type":"DOCKER","goldsmithImport":{"uri":"u"}}`)
	f.Add(`{}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		d, err := decodeImage(&store.Resource{ARN: "x", Body: []byte(body)})
		if err != nil {
			return
		}
		out, err := d.encode()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		d2, err := decodeImage(&store.Resource{ARN: "x", Body: out})
		if err != nil {
			t.Fatalf("re-decode of %s: %v", out, err)
		}
		if len(d2.extra) != len(d.extra) {
			t.Errorf("extra keys %d → %d", len(d.extra), len(d2.extra))
		}
	})
}
