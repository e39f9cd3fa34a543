package module

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParsePermissions(t *testing.T) {
	good := map[string]uint32{"0755": 0o755, "755": 0o755, "0700": 0o700, "777": 0o777, "4755": 0o4755,
		"01777": 0o1777, "0o644": 0o644, " 0640 ": 0o640, "0": 0, "7": 7}
	for s, want := range good {
		if got, err := ParsePermissions(s); err != nil || got != want {
			t.Errorf("ParsePermissions(%q) = %o, %v; want %o", s, got, err, want)
		}
	}
	for _, s := range []string{"", "448", "0789", "rwxr-xr-x", "12345", "-755", "0o", "0x1ff", "7777777"} {
		if _, err := ParsePermissions(s); err == nil {
			t.Errorf("ParsePermissions(%q) accepted", s)
		}
	}
	if FormatPermissions(0o755) != "0755" {
		t.Error(FormatPermissions(0o755))
	}
}

func TestOwnerSyntax(t *testing.T) {
	for _, s := range []string{"root", "ec2-user", "0", "1000", "svc_account", "user.name", "machine$", "Ubuntu"} {
		if err := checkOwnerSyntax(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", "a b", "a:b", "-dash", "99999999999", "x/y"} {
		if err := checkOwnerSyntax(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestEncodingsRoundTrip(t *testing.T) {
	text := "Hello, wörld — 𝄞 ✓\n"
	for _, name := range []string{"utf8", "UTF-8", "utf16", "utf-16", "utf16-LE", "UTF-16-BE", "utf32", "utf-32-le", "UTF32-BE", "unicode", "BigEndianUnicode"} {
		enc, err := lookupEncoding(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b := enc.encode(text)
		got, err := enc.decode(b)
		if err != nil || got != text {
			t.Errorf("%s: round trip = %q, %v", name, got, err)
		}
		// With a byte order mark, decoding strips it and detection finds it.
		if len(enc.bom) > 0 {
			withBOM := append(append([]byte{}, enc.bom...), b...)
			if got, _ := enc.decode(withBOM); got != text {
				t.Errorf("%s: BOM not stripped: %q", name, got)
			}
			if det := detectEncoding(withBOM); det.name != enc.name {
				t.Errorf("%s: detected %s", name, det.name)
			}
		}
	}
	ascii, _ := lookupEncoding("ascii")
	if got := string(ascii.encode("aé")); got != "a?" {
		t.Errorf("ascii encode = %q", got)
	}
	if _, err := encUTF16LE.decode([]byte{1}); err == nil {
		t.Error("odd UTF-16 accepted")
	}
	if _, err := lookupEncoding("utf-7"); err == nil {
		t.Error("utf-7 accepted")
	}
}

func FuzzParsePermissions(f *testing.F) {
	for _, s := range []string{"0755", "755", "0700", "448", "4755", "0o644", "", "07777", "99", " 1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParsePermissions(s)
		if err != nil {
			return
		}
		if n > 0o7777 {
			t.Fatalf("%q parsed to %o, above 07777", s, n)
		}
		// The canonical form parses back to the same bits.
		if m, err := ParsePermissions(FormatPermissions(n)); err != nil || m != n {
			t.Fatalf("%q: canonical %q → %o, %v", s, FormatPermissions(n), m, err)
		}
		if strings.ContainsAny(strings.TrimSpace(s), "89") {
			t.Fatalf("%q with non-octal digit accepted", s)
		}
	})
}

func FuzzOwnerSyntax(f *testing.F) {
	for _, s := range []string{"root", "1000", "a b", "a:b", "", "ec2-user", "4294967295", "4294967296"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := checkOwnerSyntax(s); err != nil {
			return
		}
		if strings.ContainsAny(s, ": /\t\n") && strings.TrimSpace(s) == s {
			t.Fatalf("%q accepted", s)
		}
	})
}

func FuzzEncodingRoundTrip(f *testing.F) {
	f.Add("hello", "utf16")
	f.Add("wörld 𝄞", "utf-32-BE")
	f.Add("", "utf8")
	f.Fuzz(func(t *testing.T, text, name string) {
		enc, err := lookupEncoding(name)
		if err != nil || !utf8.ValidString(text) {
			return
		}
		if enc == &encASCII || enc == &encLatin1 {
			return // lossy by design
		}
		got, err := enc.decode(enc.encode(text))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// A leading U+FEFF is taken as a byte order mark.
		if got != strings.TrimPrefix(text, "\ufeff") && got != text {
			t.Fatalf("%s: %q → %q", name, text, got)
		}
	})
}

func FuzzCheckInputs(f *testing.F) {
	f.Add("CreateFile", "- path: /x\n  permissions: 0755\n  owner: root")
	f.Add("S3Download", "- source: s3://b/k/*\n  destination: /x/")
	f.Add("Assert", "and: [{stringEquals: a, value: b}]")
	f.Add("ExecuteBash", "commands: [echo]")
	f.Fuzz(func(t *testing.T, action, text string) {
		m, ok := Lookup(action)
		if !ok {
			return
		}
		var n any
		func() {
			defer func() { _ = recover() }() // YAML decoding is not under test
			n = decodeYAMLNoFail(text)
		}()
		for _, p := range m.Check(n) {
			if p.Msg == "" {
				t.Fatalf("empty problem message for %q", p.Field)
			}
		}
	})
}
