// Package sources_test runs the plugin's data sources and the promote
// builder in real packer builds against the Compute Engine emulator: the
// plugin is built once per test binary and installed with
// `packer plugins install --path` into one plugin directory that every test
// shares; each test has its own emulator and packer environment.
package sources_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
)

// pluginSource is the plugin's Packer source address (DESIGN.md).
const pluginSource = "github.com/immutable-infra/imagefamily"

// pluginBin is the plugin binary built by TestMain.
var pluginBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "imagefamily-sources-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := modroot.Find()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	pluginBin = filepath.Join(dir, "packer-plugin-imagefamily")
	build := exec.Command("go", "build", "-o", pluginBin, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the plugin: %v\n%s", err, out)
		return 1
	}
	sharedPlugins = filepath.Join(dir, "plugins")
	return m.Run()
}
