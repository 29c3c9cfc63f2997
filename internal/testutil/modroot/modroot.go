// Package modroot finds the module's root directory (the one holding go.mod)
// from a test, which runs in its package's directory somewhere below it, or
// from bench/cmd/rotatebench, run from the root.
package modroot

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Find walks up from the working directory to the directory holding go.mod.
// It is for TestMain, which has no test to fail, and for programs.
func Find() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Dir is Find for a test: it fails the test when there is no go.mod above
// the working directory.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := Find()
	if err != nil {
		t.Fatalf("modroot: %v", err)
	}
	return dir
}
