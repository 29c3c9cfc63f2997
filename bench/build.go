package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModuleRoot is the directory of this repository's go.mod, found from dir
// upwards.
func ModuleRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/immutable-infra/packer-plugin-imagefamily\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod of github.com/immutable-infra/packer-plugin-imagefamily above %s", dir)
		}
	}
}

// BuildCLI builds the imagefamily CLI from the module at root into dir and
// returns its path: the real binary, as users run it.
func BuildCLI(ctx context.Context, root, dir string) (string, error) {
	out := filepath.Join(dir, "imagefamily")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/imagefamily")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/imagefamily: %v\n%s", err, b)
	}
	return out, nil
}
