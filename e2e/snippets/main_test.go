package snippets_test

import (
	"os"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gobuild"
)

// TestMain removes the plugin the validate tests build (gobuild.Plugin).
func TestMain(m *testing.M) {
	code := m.Run()
	gobuild.Clean()
	os.Exit(code)
}
