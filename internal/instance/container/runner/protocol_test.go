package runner

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFramesRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("x"), MaxFrame+10)
	tests := []struct {
		name string
		typ  byte
		data []byte
		want [][]byte // payloads read back
	}{
		{"empty", FrameReady, nil, [][]byte{{}}},
		{"small", FrameStdout, []byte("hello"), [][]byte{[]byte("hello")}},
		{"split at MaxFrame", FrameStderr, big, [][]byte{big[:MaxFrame], big[MaxFrame:]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := NewFrameWriter(&b).Write(tt.typ, tt.data); err != nil {
				t.Fatal(err)
			}
			var buf []byte
			for i, want := range tt.want {
				typ, got, grown, err := ReadFrame(&b, buf)
				buf = grown
				if err != nil || typ != tt.typ || !bytes.Equal(got, want) {
					t.Fatalf("frame %d: type %d, %d bytes, %v; want type %d, %d bytes", i, typ, len(got), err, tt.typ, len(want))
				}
			}
			if _, _, _, err := ReadFrame(&b, buf); !errors.Is(err, io.EOF) {
				t.Fatalf("after the frames: %v, want EOF", err)
			}
		})
	}
}

func TestReadFrameErrors(t *testing.T) {
	tests := []struct {
		name  string
		input []byte
		want  string
	}{
		{"short header", []byte{FrameStdout, 0, 0}, "unexpected EOF"},
		{"bad header", []byte{FrameStdout, 1, 0, 0, 0, 0, 0, 0}, "malformed"},
		{"too large", []byte{FrameStdout, 0, 0, 0, 0x7f, 0, 0, 0}, "over the limit"},
		{"short payload", []byte{FrameStdout, 0, 0, 0, 0, 0, 0, 5, 'a'}, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := ReadFrame(bytes.NewReader(tt.input), nil)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.want)) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestIsRunner(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"/dev/.goldsmith-runner", Arg}, true},
		{[]string{"goldsmith"}, false},
		{[]string{"goldsmith", Arg, "x"}, false},
		{[]string{"goldsmith", "serve"}, false},
	}
	for _, tt := range tests {
		if got := IsRunner(tt.args); got != tt.want {
			t.Errorf("IsRunner(%q) = %v", tt.args, got)
		}
	}
}

// FuzzReadFrame: any input gives frames within the limit or an error,
// never a panic; what FrameWriter writes reads back the same.
func FuzzReadFrame(f *testing.F) {
	var b bytes.Buffer
	w := NewFrameWriter(&b)
	_ = w.Write(FrameStdout, []byte("out"))
	_ = w.Write(FrameResult, []byte(`{"exitCode":0}`))
	f.Add(b.Bytes())
	f.Add([]byte{FrameStdout, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		var buf []byte
		for {
			typ, payload, grown, err := ReadFrame(r, buf)
			buf = grown
			if err != nil {
				return
			}
			if len(payload) > MaxFrame {
				t.Fatalf("payload of %d bytes", len(payload))
			}
			var again bytes.Buffer
			if err := NewFrameWriter(&again).Write(typ, payload); err != nil {
				t.Fatal(err)
			}
			typ2, p2, _, err := ReadFrame(&again, nil)
			if err != nil || typ2 != typ || !bytes.Equal(p2, payload) {
				t.Fatalf("round trip: %d %q %v", typ2, p2, err)
			}
		}
	})
}
