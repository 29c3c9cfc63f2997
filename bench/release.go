package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

// ReleaseConfig is the post-processor comparison: the same packer build
// (googlecompute, communicator "none") with and without post-processor
// "imagefamily-release", at zero latency.
type ReleaseConfig struct {
	Root   string // the module root: the plugin is built from it
	BinDir string // holds packer and packer-plugin-googlecompute (make tools)
	Runs   int    // builds of each kind; the medians are compared
}

// ReleaseResult holds the medians.
type ReleaseResult struct {
	Runs          int
	Without, With time.Duration
	AllWithout    []time.Duration
	AllWith       []time.Duration
	// Calls are the API calls of the last build with the post-processor,
	// CallsWithout those of the last build without it.
	Calls        map[string]int
	CallsWithout map[string]int
}

// AddedCalls is what the post-processor adds to a build's API calls.
func (r ReleaseResult) AddedCalls() map[string]int {
	out := map[string]int{}
	for m, n := range r.Calls {
		if d := n - r.CallsWithout[m]; d != 0 {
			out[m] = d
		}
	}
	return out
}

// Added is what the post-processor adds to a build.
func (r ReleaseResult) Added() time.Duration { return r.With - r.Without }

// buildTemplate is the build both runs share; POSTPROCESSOR is replaced by
// the post-processor block or by nothing.
const buildTemplate = `
source "googlecompute" "app" {
  project_id              = "acme-images"
  zone                    = "us-central1-a"
  source_image_family     = "base-debian-12"
  source_image_project_id = ["acme-images"]
  image_name              = "IMAGE"
  communicator            = "none"
  access_token            = "x"
  custom_endpoints        = { compute = "ENDPOINT" }
}

build {
  sources = ["source.googlecompute.app"]
POSTPROCESSOR}
`

const releaseBlock = `  post-processor "imagefamily-release" {
    project_id       = "acme-images"
    family           = "app"
    labels           = { team = "web" }
    access_token     = "x"
    custom_endpoints = { compute = "ENDPOINT" }
    rotation {
      keep_active = 2
      min_age     = "0s"
    }
  }
`

// RunRelease builds the plugin, installs it and googlecompute into a private
// packer environment, and times Runs builds of each kind, alternating.
func RunRelease(ctx context.Context, cfg ReleaseConfig) (ReleaseResult, error) {
	res := ReleaseResult{Runs: cfg.Runs}
	binDir, err := filepath.Abs(cfg.BinDir) // packer runs in other directories
	if err != nil {
		return res, err
	}
	packer := filepath.Join(binDir, "packer")
	googlecompute := filepath.Join(binDir, "packer-plugin-googlecompute")
	for _, p := range []string{packer, googlecompute} {
		if _, err := os.Stat(p); err != nil {
			return res, fmt.Errorf("%s is missing: run `make tools`", p)
		}
	}
	tmp, err := os.MkdirTemp("", "rotatebench-release-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)
	plugin := filepath.Join(tmp, "packer-plugin-imagefamily")
	build := exec.CommandContext(ctx, "go", "build", "-o", plugin, ".")
	build.Dir = cfg.Root
	if b, err := build.CombinedOutput(); err != nil {
		return res, fmt.Errorf("go build (the plugin): %v\n%s", err, b)
	}
	env := packerrun.Vars(filepath.Join(tmp, "home"), filepath.Join(tmp, "plugins"))
	runPacker := func(dir string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, packer, args...)
		cmd.Dir, cmd.Env = dir, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	for _, p := range []struct{ path, source string }{
		{googlecompute, "github.com/hashicorp/googlecompute"},
		{plugin, packerrun.PluginSource},
	} {
		if out, err := runPacker(tmp, "plugins", "install", "--path", p.path, p.source); err != nil {
			return res, fmt.Errorf("packer plugins install --path %s %s: %v\n%s", p.path, p.source, err, out)
		}
	}

	for i := 0; i < 2*cfg.Runs; i++ {
		with := i%2 == 1
		d, calls, err := releaseBuild(ctx, runPacker, filepath.Join(tmp, fmt.Sprintf("build-%d", i)), fmt.Sprintf("app-bench-%d", i), with)
		if err != nil {
			return res, err
		}
		if with {
			res.AllWith = append(res.AllWith, d)
			res.Calls = calls
		} else {
			res.AllWithout = append(res.AllWithout, d)
			res.CallsWithout = calls
		}
	}
	res.Without, res.With = median(res.AllWithout), median(res.AllWith)
	return res, nil
}

// releaseBuild runs one build against a fresh emulator holding the parent
// family and five older images of family app.
func releaseBuild(ctx context.Context, runPacker func(dir string, args ...string) (string, error), dir, image string, with bool) (time.Duration, map[string]int, error) {
	em, err := StartEmulator(emulator.Options{})
	if err != nil {
		return 0, nil, err
	}
	defer em.Close()
	now := time.Now().UTC()
	var ps emulator.ProjectState
	raw := func(v map[string]any) json.RawMessage { b, _ := json.Marshal(v); return b }
	ps.Images = append(ps.Images, raw(map[string]any{"name": "base-debian-12-v1", "family": "base-debian-12", "diskSizeGb": "10",
		"creationTimestamp": now.Add(-48 * time.Hour).Format(stamp), "rawDisk": map[string]any{"source": "https://storage.googleapis.com/b/o.tar.gz"}}))
	for i := 1; i <= 5; i++ {
		ps.Images = append(ps.Images, raw(map[string]any{"name": fmt.Sprintf("app-old-%d", i), "family": Family, "diskSizeGb": "10",
			"creationTimestamp": now.Add(-time.Duration(10-i) * time.Hour).Format(stamp), "rawDisk": map[string]any{"source": "https://storage.googleapis.com/b/o.tar.gz"}}))
	}
	if err := em.Server.LoadState(emulator.State{Projects: map[string]emulator.ProjectState{Project: ps}}); err != nil {
		return 0, nil, err
	}
	pp := ""
	if with {
		pp = releaseBlock
	}
	tmpl := strings.NewReplacer("POSTPROCESSOR", pp).Replace(buildTemplate)
	tmpl = strings.NewReplacer("ENDPOINT", em.ComputeEndpoint(), "IMAGE", image).Replace(tmpl)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "build.pkr.hcl"), []byte(tmpl), 0o644); err != nil {
		return 0, nil, err
	}
	em.Reset()
	start := time.Now()
	out, err := runPacker(dir, "build", "-color=false", ".")
	d := time.Since(start)
	if err != nil {
		return 0, nil, fmt.Errorf("packer build (post-processor: %v): %v\n%s", with, err, out)
	}
	// The build's calls, before the harness's own check below adds one.
	calls := em.Counts.Methods()
	if with {
		head, err := familyHead(em)
		if err != nil || head != image {
			return 0, nil, fmt.Errorf("after the release, family %s points to %q (%v), want %s:\n%s", Family, head, err, image, out)
		}
	}
	return d, calls, nil
}

// familyHead asks the emulator what family app resolves to.
func familyHead(em *Emulator) (string, error) {
	resp, err := httpGet(em.URL + "/compute/v1/projects/" + Project + "/global/images/family/" + Family)
	if err != nil {
		return "", err
	}
	var img struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(resp, &img); err != nil {
		return "", err
	}
	return img.Name, nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
