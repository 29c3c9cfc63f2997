// Package gobuild builds this module's commands from the working tree for
// tests, once per test process, so that a test runs the code under test and
// not a copy in bin/ that may be stale. The binaries live in a temporary
// directory that the package's TestMain removes with Clean.
package gobuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
)

type build struct {
	once sync.Once
	path string
	err  error
}

var (
	mu     sync.Mutex
	dir    string                // holds the binaries; made by the first build
	builds = map[string]*build{} // by binary name
)

// binary builds the main package pkg of this module (relative to the module
// root) into a binary called name, the first time name is asked for in the
// test process, and returns its path. Later calls, from any test or
// goroutine, wait for that build and share it; a failed build fails every
// test that asks for it.
func binary(t testing.TB, pkg, name string) string {
	t.Helper()
	mu.Lock()
	b := builds[name]
	if b == nil {
		b = &build{}
		builds[name] = b
	}
	mu.Unlock()
	b.once.Do(func() {
		start := time.Now()
		b.path, b.err = goBuild(pkg, name)
		if b.err == nil {
			t.Logf("gobuild: built %s (%s) in %s", name, pkg, time.Since(start).Round(time.Millisecond))
		}
	})
	if b.err != nil {
		t.Fatalf("gobuild: %v", b.err)
	}
	return b.path
}

// Plugin is packer-plugin-imagefamily built from the working tree.
func Plugin(t testing.TB) string { return binary(t, ".", "packer-plugin-imagefamily") }

// CLI is the imagefamily CLI built from the working tree.
func CLI(t testing.TB) string { return binary(t, "./cmd/imagefamily", "imagefamily") }

func goBuild(pkg, name string) (string, error) {
	root, err := modroot.Find()
	if err != nil {
		return "", err
	}
	mu.Lock()
	if dir == "" {
		dir, err = os.MkdirTemp("", "imagefamily-test-bin-")
	}
	out := filepath.Join(dir, name)
	mu.Unlock()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -o %s %s: %v\n%s", name, pkg, err, b)
	}
	return out, nil
}

// Clean removes every binary built; TestMain calls it once m.Run returns.
func Clean() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}
