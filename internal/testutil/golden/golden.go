// Package golden compares a test's output with a file kept beside the test
// (testdata/...), or rewrites the file when the test runs with -update.
package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// Check compares got with the file at path; with update it writes got to
// the file instead (creating its directory), for a reviewer to read in the
// diff.
func Check(t testing.TB, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
