package modroot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDirHoldsThisModulesGoMod(t *testing.T) {
	dir := Dir(t)
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "module github.com/immutable-infra/packer-plugin-imagefamily\n") {
		t.Errorf("%s/go.mod is not this module's:\n%s", dir, b)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if rel, err := filepath.Rel(dir, wd); err != nil || rel != filepath.Join("internal", "testutil", "modroot") {
		t.Errorf("the working directory is %q below the root, want internal/testutil/modroot (%v)", rel, err)
	}
}
