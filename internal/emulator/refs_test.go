package emulator

import (
	"go/build"
	"path"
	"strings"
	"testing"
)

func TestParseImageRefReadsEverySpellingClientsSend(t *testing.T) {
	const want = "https://www.googleapis.com/compute/v1/projects/acme/global/images/web-v1"
	const wantFamily = "https://www.googleapis.com/compute/v1/projects/acme/global/images/family/web"
	for _, tc := range []struct{ in, want string }{
		{"https://www.googleapis.com/compute/v1/projects/acme/global/images/web-v1", want},
		{"https://compute.googleapis.com/compute/v1/projects/acme/global/images/web-v1", want},
		{"http://127.0.0.1:8085/compute/v1/projects/acme/global/images/web-v1", want},
		{"https://www.googleapis.com/compute/beta/projects/acme/global/images/web-v1", want},
		{"https://www.googleapis.com/compute/alpha/projects/acme/global/images/web-v1", want},
		{"www.googleapis.com/compute/v1/projects/acme/global/images/web-v1", want},
		{"/compute/v1/projects/acme/global/images/web-v1", want},
		{"projects/acme/global/images/web-v1", want},
		{"projects/acme/global/images/web-v1?alt=json", want},
		{"global/images/web-v1", want},
		{"web-v1", want},
		{" web-v1 ", want},
		{"https://www.googleapis.com/compute/v1/projects/acme/global/images/family/web", wantFamily},
		{"projects/acme/global/images/family/web", wantFamily},
		{"global/images/family/web", wantFamily},
		{"projects/other/global/images/web-v1", "https://www.googleapis.com/compute/v1/projects/other/global/images/web-v1"},
	} {
		r, err := parseImageRef(tc.in, "acme")
		if err != nil {
			t.Errorf("parseImageRef(%q): %v", tc.in, err)
			continue
		}
		if got := r.url(); got != tc.want {
			t.Errorf("parseImageRef(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseImageRefRefusesWhatIsNoImage(t *testing.T) {
	for _, in := range []string{
		"", "https://www.googleapis.com", "projects//global/images/x", "projects/acme",
		"projects/acme/global/images", "global/images/family/", "projects/acme/zones/us-central1-a/disks/d",
		"global/snapshots/s", "global/images/a/b", "family/web",
	} {
		if r, err := parseImageRef(in, "acme"); err == nil {
			t.Errorf("parseImageRef(%q) = %+v, want an error", in, r)
		}
	}
}

func TestCanonicalURLNormalisesZonalAndRegionalReferences(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"zones/us-central1-a/disks/d", "https://www.googleapis.com/compute/v1/projects/acme/zones/us-central1-a/disks/d"},
		{"/compute/beta/projects/p/zones/us-central1-a/disks/d", "https://www.googleapis.com/compute/v1/projects/p/zones/us-central1-a/disks/d"},
		{"https://compute.googleapis.com/compute/alpha/projects/p/zones/us-central1-a/disks/d", "https://www.googleapis.com/compute/v1/projects/p/zones/us-central1-a/disks/d"},
		{"regions/us-central1/subnetworks/default", "https://www.googleapis.com/compute/v1/projects/acme/regions/us-central1/subnetworks/default"},
		{"global/networks/default", "https://www.googleapis.com/compute/v1/projects/acme/global/networks/default"},
	} {
		if got := canonicalURL("acme", tc.in); got != tc.want {
			t.Errorf("canonicalURL(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// The emulator is the oracle the project's clients are tested against: it
// must not share their code for what it checks (references, names, labels).
func TestEmulatorImportsNothingFromTheCodeItTests(t *testing.T) {
	const module = "github.com/immutable-infra/packer-plugin-imagefamily/"
	forbidden := []string{"internal/lifecycle", "internal/gce", "internal/apply", "internal/releaser"}
	seen := map[string]bool{}
	var walk func(importPath, dir string, chain []string)
	walk = func(importPath, dir string, chain []string) {
		if seen[importPath] {
			return
		}
		seen[importPath] = true
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", importPath, err)
		}
		for _, imp := range pkg.Imports {
			rel, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			for _, f := range forbidden {
				if rel == f || strings.HasPrefix(rel, f+"/") {
					t.Errorf("%s imports %s", strings.Join(append(chain, importPath), " -> "), imp)
				}
			}
			walk(imp, path.Join("../..", rel), append(chain, importPath))
		}
	}
	walk(module+"internal/emulator", ".", nil)
}
