//go:build !linux

package agent

import "errors"

// Init is the PID 1 path of the agent; it needs Linux.
func Init() error { return errors.New("the goldsmith agent runs only on Linux") }
