package container

import "testing"

func TestIsUnder(t *testing.T) {
	tests := []struct {
		p, root string
		want    bool
	}{
		{"/s/a/bundle", "/s", true},
		{"/s", "/s", false},
		{"/sx/a", "/s", false},
		{"/s/../t/a", "/s", false},
		{"/s/a", "/s/", true},
	}
	for _, tt := range tests {
		if got := isUnder(tt.p, tt.root); got != tt.want {
			t.Errorf("isUnder(%q, %q) = %v", tt.p, tt.root, got)
		}
	}
}
