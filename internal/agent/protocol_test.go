package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestDecoder(t *testing.T) {
	cases := []struct {
		name  string
		input string
		max   int
		want  []string // op or type of each message
		err   error
	}{
		{"requests", `{"id":"1","op":"ping"}` + "\n" + `{"id":"2","op":"exec","args":{"argv":["x"]}}` + "\n", 0, []string{"ping", "exec"}, io.EOF},
		{"noise and fragments are skipped", "garbage\n\n" + `"line":"x"}` + "\n{\"id\":\"1\"}\n" + `{"type":"hello","data":{}}` + "\r\n", 0, []string{"hello"}, io.EOF},
		{"unterminated last line", `{"op":"ping"}`, 0, []string{"ping"}, io.EOF},
		{"too long", `{"op":"exec","args":{"argv":["` + strings.Repeat("a", 200) + `"]}}` + "\n" + `{"op":"ping"}` + "\n", 100, nil, ErrMessageTooLong},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder(strings.NewReader(c.input), c.max)
			var got []string
			var err error
			for {
				var m Message
				if m, err = d.Next(); err != nil {
					break
				}
				got = append(got, m.Op+m.Type)
			}
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("messages = %v, want %v", got, c.want)
			}
		})
	}
	// After an oversized line the decoder goes on.
	d := NewDecoder(strings.NewReader(strings.Repeat("x", 300)+"\n"+`{"op":"ping"}`+"\n"), 100)
	if _, err := d.Next(); !errors.Is(err, ErrMessageTooLong) {
		t.Fatalf("err = %v", err)
	}
	if m, err := d.Next(); err != nil || m.Op != "ping" {
		t.Fatalf("after an oversized line: %+v, %v", m, err)
	}
}

func TestEncoderRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	e := NewEncoder(&buf)
	payload := []byte{0, 1, 2, '\n', 0xff}
	m, err := newMessage("7", TypeResult, ExecResult{ExitCode: 3, Stdout: payload})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Send(m); err != nil {
		t.Fatal(err)
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) != 2 {
		t.Fatalf("one message must be one line (plus its leading newline): %q", buf.String())
	}
	got, err := NewDecoder(&buf, 0).Next()
	if err != nil {
		t.Fatal(err)
	}
	var r ExecResult
	if err := json.Unmarshal(got.Data, &r); err != nil || r.ExitCode != 3 || !bytes.Equal(r.Stdout, payload) {
		t.Fatalf("round trip: %+v %v", r, err)
	}
}

func FuzzDecodeLine(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","op":"ping"}`,
		`{"id":"2","type":"result","data":{"exitCode":0,"stdout":"aGk="}}`,
		`{"id":"3","type":"error","error":"x"}`,
		`{"op":"run-toe","args":{"id":"j","documents":[{"name":"a","content":"bmFtZTog"}]}}`,
		`not json}`, `{}`, `{"op":1}`, "\x00\xff{",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, ok := DecodeLine(line)
		if !ok {
			return
		}
		if m.Op == "" && m.Type == "" {
			t.Fatalf("accepted a message without op or type: %q", line)
		}
		// What was accepted survives an encode/decode round trip.
		var buf bytes.Buffer
		if err := NewEncoder(&buf).Send(m); err != nil {
			t.Fatal(err)
		}
		m2, err := NewDecoder(&buf, 0).Next()
		if err != nil {
			t.Fatalf("re-decoding %q: %v", buf.String(), err)
		}
		if m2.ID != m.ID || m2.Op != m.Op || m2.Type != m.Type || m2.Error != m.Error {
			t.Fatalf("round trip changed %+v into %+v", m, m2)
		}
		// Decoding arguments of any op never panics.
		var job ToeJob
		var ex ExecArgs
		_ = json.Unmarshal(m.Args, &job)
		_ = json.Unmarshal(m.Args, &ex)
	})
}
