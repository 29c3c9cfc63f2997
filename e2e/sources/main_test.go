// Package sources_test runs the plugin's data sources and the promote
// builder in real packer builds against the Compute Engine emulator: the
// plugin is built once per test binary and installed with
// `packer plugins install --path` into one plugin directory that every test
// shares; each test has its own emulator and packer environment.
package sources_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gobuild"
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	defer gobuild.Clean()
	dir, err := os.MkdirTemp("", "imagefamily-sources-plugins-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	sharedPlugins = dir
	return m.Run()
}
