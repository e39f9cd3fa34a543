package api

import (
	"bytes"
	"net/url"
	"testing"
)

// FuzzDecode feeds arbitrary bodies and query strings to every operation:
// the server must answer with a status, never panic or hang.
func FuzzDecode(f *testing.F) {
	f.Add("PUT", "/CreateComponent", "", `{"name":"abc","semanticVersion":"1.0.0","platform":"Linux","clientToken":"t","data":"x"}`)
	f.Add("POST", "/ListComponents", "", `{"filters":[{"name":"name","values":["a"]}],"maxResults":3}`)
	f.Add("GET", "/GetComponent", "componentBuildVersionArn=arn%3Aaws", "")
	f.Add("DELETE", "/tags/arn%3Ax", "tagKeys=a&tagKeys=b", "")
	f.Add("PUT", "/CreateImageRecipe", "", `{"components":[{"parameters":[{"name":"n","value":["v"]}]}],"blockDeviceMappings":[{"ebs":{"volumeSize":-1}}]}`)
	f.Add("PUT", "/StartResourceStateUpdate", "", `{"updateAt":1.5e300,"state":{"status":"AVAILABLE"}}`)
	f.Fuzz(func(t *testing.T, method, path, query, body string) {
		s, _ := newTestServer(t)
		if len(path) == 0 || path[0] != '/' || bytes.ContainsAny([]byte(path+query), " \r\n\t#?") {
			t.Skip()
		}
		target := path
		if query != "" {
			target += "?" + query
		}
		if _, err := url.ParseRequestURI(target); err != nil {
			t.Skip()
		}
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("panic escaped for %s %s: %v", method, target, p)
			}
		}()
		switch method {
		case "GET", "PUT", "POST", "DELETE":
		default:
			t.Skip()
		}
		rec, _ := do(s, method, target, body, "000000000000")
		if rec.Code == 500 && rec.Header().Get("X-Amzn-ErrorType") != "ServiceException" {
			t.Fatalf("500 without ServiceException for %s %s", method, target)
		}
	})
}

// FuzzToken checks that only tokens the codec sealed open, and that they
// open to what was sealed.
func FuzzToken(f *testing.F) {
	c := tokenCodec{key: bytes.Repeat([]byte{1}, 32)}
	f.Add("ListComponents", "000000000000", "cursor", c.seal("ListComponents", "000000000000", "cursor"))
	f.Add("ListImages", "111111111111", "", "garbage.token")
	f.Fuzz(func(t *testing.T, op, account, cursor, token string) {
		sealed := c.seal(op, account, cursor)
		got, err := c.open(op, account, sealed)
		if err != nil || got != cursor {
			t.Fatalf("round trip of %q: %q %v", cursor, got, err)
		}
		if token != sealed {
			if got, err := c.open(op, account, token); err == nil && got != cursor {
				// A different token may only open if it is another valid
				// encoding of a cursor for the same op and account, which
				// needs the key: treat any success as a forgery.
				t.Fatalf("forged token %q opened to %q", token, got)
			}
		}
	})
}
