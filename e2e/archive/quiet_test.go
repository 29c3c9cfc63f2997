package archive_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
)

// goreleaser's logger forces colour whenever CI is set, terminal or not,
// and CI logs then show raw escape codes. make runs it so that it does not:
// `make release-check` under CI=true (as CI runs make test) prints plain
// text.
func TestGoreleaserThroughMakeWritesNoColourInCI(t *testing.T) {
	if os.Getenv(distEnv) == "" {
		t.Skipf("%s is not set: make test sets it, after building goreleaser; run make test", distEnv)
	}
	cmd := exec.Command("make", "--no-print-directory", "release-check")
	cmd.Dir = modroot.Dir(t)
	cmd.Env = append(os.Environ(), "CI=true", "TERM=xterm-256color")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make release-check: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "configuration file(s) validated") {
		t.Errorf("make release-check did not run goreleaser check:\n%s", out)
	}
	if strings.Contains(string(out), "\x1b[") {
		t.Errorf("goreleaser wrote escape codes under CI=true:\n%q", out)
	}
}
