package tailbuf

import (
	"strings"
	"sync"
	"testing"
)

func TestBuffer(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		writes []string
		want   string
	}{
		{"under max", 10, []string{"abc", "de"}, "abcde"},
		{"exactly max", 5, []string{"abc", "de"}, "abcde"},
		{"over max in one write", 4, []string{"abcdefgh"}, "efgh"},
		{"over max across writes", 4, []string{"abc", "def", "g"}, "defg"},
		{"zero max keeps nothing", 0, []string{"abc"}, ""},
		{"a character cut", 2, []string{"xé!"}, "?!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(tt.max)
			for _, w := range tt.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := b.String(); got != tt.want {
				t.Fatalf("String = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBufferConcurrent: writers at the same time leave max bytes.
func TestBufferConcurrent(t *testing.T) {
	b := New(100)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("0123456789"))
			}
		})
	}
	wg.Wait()
	if got := b.String(); len(got) != 100 || strings.Trim(got, "0123456789") != "" {
		t.Fatalf("String = %q", got)
	}
}
