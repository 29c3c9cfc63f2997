package bench

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
)

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
