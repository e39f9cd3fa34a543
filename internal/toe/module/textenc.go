package module

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ParsePermissions interprets permissions text as octal, the way AWSTOE
// documents it: "0755", "755", "0700", "4755", also "0o755". The text must
// be the scalar's source text; a YAML 1.1 integer such as 448 (from an
// unquoted 0700) is refused because 8 is not an octal digit.
func ParsePermissions(s string) (uint32, error) {
	t := strings.TrimSpace(s)
	if len(t) > 2 && t[0] == '0' && (t[1] == 'o' || t[1] == 'O') {
		t = t[2:]
	}
	if t == "" || len(t) > 5 || (len(t) == 5 && t[0] != '0') {
		return 0, fmt.Errorf("permissions must be 3 or 4 octal digits such as \"0755\", got %q", s)
	}
	var n uint32
	for _, c := range t {
		if c < '0' || c > '7' {
			return 0, fmt.Errorf("permissions must be octal digits (0-7) such as \"0755\", got %q", s)
		}
		n = n*8 + uint32(c-'0')
	}
	return n, nil
}

// FormatPermissions renders permission bits as four octal digits.
func FormatPermissions(n uint32) string { return fmt.Sprintf("%04o", n&0o7777) }

var ownerName = regexp.MustCompile(`^[A-Za-z0-9._][A-Za-z0-9._@-]*\$?$`)

// checkOwnerSyntax accepts a user/group name or a numeric id.
func checkOwnerSyntax(s string) error {
	t := strings.TrimSpace(s)
	if t == "" {
		return fmt.Errorf("must be a user or group name or numeric id, got an empty string")
	}
	if isNumericID(t) {
		if _, err := strconv.ParseUint(t, 10, 32); err != nil {
			return fmt.Errorf("numeric id %q is out of range", s)
		}
		return nil
	}
	if len(t) > 256 || !ownerName.MatchString(t) {
		return fmt.Errorf("%q is not a valid user or group name", s)
	}
	return nil
}

func isNumericID(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// textEncoding is one supported file encoding.
type textEncoding struct {
	name   string
	bom    []byte
	encode func(string) []byte
	decode func([]byte) (string, error)
}

// lookupEncoding maps the (case-insensitive) names AWSTOE accepts — utf8,
// utf-8, utf16, utf-16, utf16-LE, utf-16-BE, utf32, utf-32-LE, … — plus the
// common aliases unicode (UTF-16LE), bigendianunicode, ascii and latin1.
// Bare utf16/utf32 are little-endian.
func lookupEncoding(name string) (*textEncoding, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	n = strings.NewReplacer("-", "", "_", "", " ", "").Replace(n)
	switch n {
	case "", "utf8":
		return &encUTF8, nil
	case "utf16", "utf16le", "unicode":
		return &encUTF16LE, nil
	case "utf16be", "bigendianunicode":
		return &encUTF16BE, nil
	case "utf32", "utf32le":
		return &encUTF32LE, nil
	case "utf32be":
		return &encUTF32BE, nil
	case "ascii", "usascii":
		return &encASCII, nil
	case "latin1", "iso88591":
		return &encLatin1, nil
	}
	return nil, fmt.Errorf("unsupported encoding %q (accepted: utf8, utf-8, utf16, utf-16, utf16-LE, utf16-BE, utf32, utf-32, utf32-LE, utf32-BE, unicode, ascii, latin1)", name)
}

var (
	encUTF8 = textEncoding{name: "utf-8", bom: []byte{0xEF, 0xBB, 0xBF},
		encode: func(s string) []byte { return []byte(s) },
		decode: func(b []byte) (string, error) { return string(bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF})), nil }}
	encUTF16LE = textEncoding{name: "utf-16le", bom: []byte{0xFF, 0xFE},
		encode: func(s string) []byte { return encode16(s, binary.LittleEndian) },
		decode: func(b []byte) (string, error) { return decode16(b, binary.LittleEndian, []byte{0xFF, 0xFE}) }}
	encUTF16BE = textEncoding{name: "utf-16be", bom: []byte{0xFE, 0xFF},
		encode: func(s string) []byte { return encode16(s, binary.BigEndian) },
		decode: func(b []byte) (string, error) { return decode16(b, binary.BigEndian, []byte{0xFE, 0xFF}) }}
	encUTF32LE = textEncoding{name: "utf-32le", bom: []byte{0xFF, 0xFE, 0, 0},
		encode: func(s string) []byte { return encode32(s, binary.LittleEndian) },
		decode: func(b []byte) (string, error) { return decode32(b, binary.LittleEndian, []byte{0xFF, 0xFE, 0, 0}) }}
	encUTF32BE = textEncoding{name: "utf-32be", bom: []byte{0, 0, 0xFE, 0xFF},
		encode: func(s string) []byte { return encode32(s, binary.BigEndian) },
		decode: func(b []byte) (string, error) { return decode32(b, binary.BigEndian, []byte{0, 0, 0xFE, 0xFF}) }}
	encASCII = textEncoding{name: "ascii",
		encode: func(s string) []byte { return encodeSingleByte(s, 0x7F) },
		decode: func(b []byte) (string, error) { return decodeSingleByte(b, 0x7F), nil }}
	encLatin1 = textEncoding{name: "latin1",
		encode: func(s string) []byte { return encodeSingleByte(s, 0xFF) },
		decode: func(b []byte) (string, error) { return decodeSingleByte(b, 0xFF), nil }}
)

func encode16(s string, order binary.ByteOrder) []byte {
	units := utf16.Encode([]rune(s))
	out := make([]byte, 2*len(units))
	for i, u := range units {
		order.PutUint16(out[2*i:], u)
	}
	return out
}

func decode16(b []byte, order binary.ByteOrder, bom []byte) (string, error) {
	b = bytes.TrimPrefix(b, bom)
	if len(b)%2 != 0 {
		return "", fmt.Errorf("invalid UTF-16 data: odd length %d", len(b))
	}
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = order.Uint16(b[2*i:])
	}
	return string(utf16.Decode(units)), nil
}

func encode32(s string, order binary.AppendByteOrder) []byte {
	out := make([]byte, 0, 4*len(s))
	for _, r := range s {
		out = order.AppendUint32(out, uint32(r))
	}
	return out
}

func decode32(b []byte, order binary.ByteOrder, bom []byte) (string, error) {
	b = bytes.TrimPrefix(b, bom)
	if len(b)%4 != 0 {
		return "", fmt.Errorf("invalid UTF-32 data: length %d is not a multiple of 4", len(b))
	}
	var sb strings.Builder
	for i := 0; i < len(b); i += 4 {
		r := rune(order.Uint32(b[i:]))
		if !utf8.ValidRune(r) {
			r = utf8.RuneError
		}
		sb.WriteRune(r)
	}
	return sb.String(), nil
}

// encodeSingleByte maps runes above max to '?', like .NET's ASCII encoder.
func encodeSingleByte(s string, maxRune rune) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > maxRune {
			r = '?'
		}
		out = append(out, byte(r))
	}
	return out
}

func decodeSingleByte(b []byte, maxRune rune) string {
	var sb strings.Builder
	for _, c := range b {
		r := rune(c)
		if r > maxRune {
			r = utf8.RuneError
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// detectEncoding guesses a file's current encoding from its byte order
// mark; files without one are taken as UTF-8.
func detectEncoding(b []byte) *textEncoding {
	for _, e := range []*textEncoding{&encUTF32LE, &encUTF32BE, &encUTF8, &encUTF16LE, &encUTF16BE} {
		if len(e.bom) > 0 && bytes.HasPrefix(b, e.bom) {
			return e
		}
	}
	return &encUTF8
}
