// Package packerrun runs the real packer binary in tests: it finds packer and
// the official googlecompute plugin (built from tools/go.mod by `make tools`),
// gives every run an isolated environment (HOME, config and plugin
// directories of its own, no checkpoint calls, no ambient Google credentials)
// and installs plugins into it with `packer plugins install --path`;
// WriteTemplate and GoogleComputeApp write the templates it runs.
package packerrun

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gobuild"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
)

// BinEnv names the directory holding packer and the plugins; `make test`
// sets it to the repository's bin/.
const BinEnv = "IMAGEFAMILY_BIN"

// Bins are the binaries a packer test runs.
type Bins struct {
	Dir           string // the directory they were found in
	Packer        string // packer
	GoogleCompute string // packer-plugin-googlecompute
}

// Binaries finds packer and packer-plugin-googlecompute in $IMAGEFAMILY_BIN or
// in the bin/ directory at the module root (found by walking up from the
// test's package directory). Missing binaries fail the test, with the command
// that builds them: the conformance suites must not pass by skipping.
func Binaries(t testing.TB) Bins {
	t.Helper()
	dir := os.Getenv(BinEnv)
	if dir == "" {
		root, err := modroot.Find()
		if err != nil {
			t.Fatalf("packerrun: %v, so bin/ cannot be located; set %s to the directory holding packer and packer-plugin-googlecompute", err, BinEnv)
		}
		dir = filepath.Join(root, "bin")
	}
	b := Bins{Dir: dir, Packer: filepath.Join(dir, "packer"), GoogleCompute: filepath.Join(dir, "packer-plugin-googlecompute")}
	for _, p := range []string{b.Packer, b.GoogleCompute} {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			t.Fatalf("packerrun: %s is missing or not executable. Build it with `make tools` "+
				"(packer and packer-plugin-googlecompute are pinned in tools/go.mod), or set %s to a directory holding both", p, BinEnv)
		}
	}
	return b
}

// Environment is an isolated environment for packer runs.
type Environment struct {
	Bins Bins
	// PluginPath is PACKER_PLUGIN_PATH: plugins installed by InstallPlugin.
	PluginPath string
	// Home is HOME and PACKER_CONFIG_DIR.
	Home string
	// Vars is the complete environment of every run. Append to it (before
	// Run) to pass more, e.g. PACKER_LOG=1.
	Vars []string
}

// Env returns a fresh environment whose directories are removed when the test
// ends; its Vars are Vars(Home, PluginPath).
func Env(t testing.TB) *Environment {
	t.Helper()
	e := &Environment{Bins: Binaries(t), PluginPath: t.TempDir(), Home: t.TempDir()}
	e.Vars = Vars(e.Home, e.PluginPath)
	return e
}

// Vars is the complete environment of an isolated packer run with home as
// HOME and PACKER_CONFIG_DIR and pluginPath as PACKER_PLUGIN_PATH. The
// parent's environment is kept except for packer's own settings, checkpoint,
// and Google credentials and gcloud settings, which would make a run depend
// on the machine it runs on. Env uses it; so does bench, which is no test.
func Vars(home, pluginPath string) []string {
	var vars []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "PACKER_"), strings.HasPrefix(name, "CHECKPOINT_"),
			strings.HasPrefix(name, "GOOGLE_"), strings.HasPrefix(name, "CLOUDSDK_"),
			name == "HOME", name == "XDG_CONFIG_HOME", name == "XDG_CACHE_HOME":
			continue
		}
		vars = append(vars, kv)
	}
	return append(vars,
		"HOME="+home,
		"PACKER_CONFIG_DIR="+home,
		"PACKER_PLUGIN_PATH="+pluginPath,
		"PACKER_CACHE_DIR="+filepath.Join(home, "cache"),
		"PACKER_CHECKPOINT_DISABLE=1",
		"PACKER_NO_COLOR=1",
		"CHECKPOINT_DISABLE=1",
	)
}

// InstallPlugin installs a locally built plugin binary under source (e.g.
// github.com/hashicorp/googlecompute) into env's plugin path.
func InstallPlugin(t testing.TB, env *Environment, path, source string) {
	t.Helper()
	stdout, stderr, err := Run(t, env, "", "plugins", "install", "--path", path, source)
	if err != nil {
		t.Fatalf("packerrun: packer plugins install --path %s %s: %v\nstdout:\n%s\nstderr:\n%s", path, source, err, stdout, stderr)
	}
}

// PluginSource is where templates find this plugin (its Packer source
// address).
const PluginSource = "github.com/immutable-infra/imagefamily"

// InstallPlugins installs the googlecompute plugin (Bins) and this plugin,
// built from the working tree (gobuild.Plugin), into env's plugin path. The
// package's TestMain removes the build with gobuild.Clean.
func InstallPlugins(t testing.TB, env *Environment) {
	t.Helper()
	InstallPlugin(t, env, env.Bins.GoogleCompute, "github.com/hashicorp/googlecompute")
	InstallPlugin(t, env, gobuild.Plugin(t), PluginSource)
}

// DefaultTimeout bounds one packer run when the test has no deadline.
const DefaultTimeout = 5 * time.Minute

// Run runs packer with args in dir (the current directory when empty) and
// returns what it printed. err is non-nil when packer could not be started or
// exited non-zero (an *exec.ExitError then carries the code). The run is
// killed at the test's deadline, or after DefaultTimeout.
func Run(t testing.TB, env *Environment, dir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx := context.Background()
	var cancel context.CancelFunc
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-5*time.Second))
		}
	}
	if cancel == nil {
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
	}
	defer cancel()
	cmd := exec.CommandContext(ctx, env.Bins.Packer, args...)
	cmd.Dir = dir
	cmd.Env = env.Vars
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err = cmd.Run()
	t.Logf("packerrun: packer %s (%s, exit %d)", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), cmd.ProcessState.ExitCode())
	return out.String(), errOut.String(), err
}

// WriteTemplate writes hcl into dir as build.pkr.hcl, the template that
// `packer build .` or `packer validate .` run in dir reads.
func WriteTemplate(t testing.TB, dir, hcl string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "build.pkr.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatalf("packerrun: %v", err)
	}
}

// GoogleComputeApp is the googlecompute source "app" (a build's sources
// name it source.googlecompute.app) that builds imageName in acme-images
// from the image base-v1 there, labelled built-by = packer, without a VM
// (communicator "none"), against the Compute Engine endpoint (the
// emulator's compute URL). settings are more of the source's settings, one
// a line (e.g. `image_family = "app-nginx"`). The tests that release a
// googlecompute build post-process this one.
func GoogleComputeApp(endpoint, imageName string, settings ...string) string {
	var more strings.Builder
	for _, s := range settings {
		more.WriteString("  " + s + "\n")
	}
	return fmt.Sprintf(`
source "googlecompute" "app" {
  project_id              = "acme-images"
  zone                    = "us-central1-a"
  source_image            = "base-v1"
  source_image_project_id = ["acme-images"]
  image_name              = %q
  image_labels            = { built-by = "packer" }
  communicator            = "none"
  access_token            = "emulator-token-not-a-secret"
  custom_endpoints        = { compute = %q }
%s}
`, imageName, endpoint, more.String())
}
