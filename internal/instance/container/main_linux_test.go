package container

import (
	"os"
	"testing"

	"github.com/goldsmith/goldsmith/internal/testsupport"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testsupport.Cleanup()
	os.Exit(code)
}
