package packerrun

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGoogleComputeAppTakesTheImageEndpointAndMoreSettings(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings []string
		want     []string
	}{
		{"no more settings", nil, []string{
			`image_name              = "app-v2"`,
			`custom_endpoints        = { compute = "http://127.0.0.1:1/compute/v1/" }` + "\n}\n",
		}},
		{"an image family", []string{`image_family = "app-nginx"`}, []string{
			`custom_endpoints        = { compute = "http://127.0.0.1:1/compute/v1/" }` + "\n  image_family = \"app-nginx\"\n}\n",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := GoogleComputeApp("http://127.0.0.1:1/compute/v1/", "app-v2", tc.settings...)
			if !strings.HasPrefix(got, "\nsource \"googlecompute\" \"app\" {\n") {
				t.Errorf("not the source googlecompute.app:\n%s", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestWriteTemplateWritesTheBuildFile(t *testing.T) {
	dir := t.TempDir()
	WriteTemplate(t, dir, "build {}\n")
	b, err := os.ReadFile(filepath.Join(dir, "build.pkr.hcl"))
	if err != nil || string(b) != "build {}\n" {
		t.Errorf("build.pkr.hcl: %q, %v", b, err)
	}
}
