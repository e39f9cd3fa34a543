package toecli

import (
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	reboot := &toeExit{code: toeExitReboot, err: errors.New("reboot requested")}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"plain error", errors.New("boom"), 1},
		{"toe exit", reboot, toeExitReboot},
		{"wrapped toe exit", fmt.Errorf("running: %w", reboot), toeExitReboot},
		{"joined", errors.Join(errors.New("other"), reboot), toeExitReboot},
		{"failure", &toeExit{code: toeExitFailure}, toeExitFailure},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("%s: ExitCode(%v) = %d, want %d", tt.name, tt.err, got, tt.want)
		}
	}
}
