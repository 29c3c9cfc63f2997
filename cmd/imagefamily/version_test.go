package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
)

// TestTheReleaseStampsTheVersionTheCLIPrints builds the CLI with the
// ldflags .goreleaser.yml gives its cli build (the tag's version, the -dev
// prerelease cleared) and runs --version and version: the release's version
// is what the CLI says, as it is what the plugin says.
func TestTheReleaseStampsTheVersionTheCLIPrints(t *testing.T) {
	root, err := modroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, ".goreleaser.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Builds []struct {
			ID      string   `json:"id"`
			Main    string   `json:"main"`
			LDFlags []string `json:"ldflags"`
		} `json:"builds"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	var ldflags []string
	for _, bl := range cfg.Builds {
		if bl.ID == "cli" && bl.Main == "./cmd/imagefamily" {
			for _, f := range bl.LDFlags {
				ldflags = append(ldflags, strings.ReplaceAll(f, "{{ .Version }}", "1.2.3"))
			}
		}
	}
	if len(ldflags) == 0 {
		t.Fatal(".goreleaser.yml has no ldflags for the cli build of ./cmd/imagefamily")
	}
	bin := filepath.Join(t.TempDir(), "imagefamily")
	build := exec.Command("go", "build", "-ldflags", strings.Join(ldflags, " "), "-o", bin, "./cmd/imagefamily")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -ldflags %q: %v\n%s", strings.Join(ldflags, " "), err, out)
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, err := exec.Command(bin, args...).Output()
		if err != nil || !strings.HasPrefix(string(out), "imagefamily 1.2.3 ") {
			t.Errorf("imagefamily %s: %q (%v), want the release's version 1.2.3 first", args[0], out, err)
		}
	}
}
