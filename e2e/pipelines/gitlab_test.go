// Package pipelines_test runs the CI examples in example/ci as a team would
// use them: the GitLab pipeline runs through gitlab-ci-local (shell
// executor) against the Compute Engine emulator, with the real packer, the
// official googlecompute plugin and this plugin, through daily rebuilds,
// promotions from the stable branch, a push that changes a layer and
// nightly rotations, one of each with nothing to do (the nightly base
// rebuild releasing nothing: the same packages as the head); the Kubernetes CronJob
// is decoded strictly as Kubernetes types and its container's arguments
// run against the emulator; the runners' install script installs a release
// only when its checksums vouch for it. (make lint checks the GitHub
// workflow with actionlint: nothing here can run GitHub Actions.)
package pipelines_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gobuild"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

func TestMain(m *testing.M) {
	code := m.Run()
	gobuild.Clean()
	os.Exit(code)
}

const (
	devProject    = "acme-images-dev"
	prodProject   = "acme-images-prod"
	debianProject = "debian-cloud"
	// emulatorToken is what the templates send as access_token; Packer
	// masks sensitive values in its output, so it must not be a letter.
	emulatorToken = "emulator-token-not-a-secret"
	// obsoleteAfter is short enough for a test to wait for and long enough
	// that a release's own rotation never finds it due.
	obsoleteAfter = 3 * time.Second
)

// layers are the families of example/, bottom up.
var layers = []struct{ layer, family string }{
	{"base", "base-debian-12"},
	{"app", "app-nginx"},
	{"product", "product-shop"},
}

// gitlabCILocal is gitlab-ci-local as make installs it (npm ci from
// tools/gitlab-ci-local), under $IMAGEFAMILY_BIN or bin/.
func gitlabCILocal(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(packerrun.BinEnv)
	if dir == "" {
		dir = filepath.Join(modroot.Dir(t), "bin")
	}
	p := filepath.Join(dir, "gitlab-ci-local", "node_modules", ".bin", "gitlab-ci-local")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("gitlab-ci-local is not installed at %s: run `make ci-tools` (make test does), which installs it with npm from tools/gitlab-ci-local", p)
	}
	for _, tool := range []string{"rsync", "git", "bash", "node"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("gitlab-ci-local needs %s on PATH (`make ci-tools` installs rsync with apt): %v", tool, err)
		}
	}
	return p
}

// releasedPlugin is this plugin built from the working tree as a release
// build (VersionPrerelease cleared, so it reports 0.1.0, not 0.1.0-dev):
// then `packer init`, which the pipeline runs, finds the installed plugin
// satisfies the templates' required_plugins and needs no network.
func releasedPlugin(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "packer-plugin-imagefamily")
	cmd := exec.Command("go", "build", "-o", out,
		"-ldflags", "-X github.com/immutable-infra/packer-plugin-imagefamily/version.VersionPrerelease=", ".")
	cmd.Dir = modroot.Dir(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the plugin as a release: %v\n%s", err, b)
	}
	return out
}

// repository is a git repository laid out as a team's image repository:
// example/ (the templates and the CI scripts) and the pipeline as
// .gitlab-ci.yml, committed on main, with an origin whose HEAD is main.
func repository(t *testing.T) string {
	t.Helper()
	root := modroot.Dir(t)
	repo := t.TempDir()
	for _, f := range []string{
		"example/layer/layer.pkr.hcl", "example/layer/variables.pkr.hcl",
		"example/base.pkrvars.hcl", "example/app.pkrvars.hcl", "example/product.pkrvars.hcl",
		"example/ci/release-layer.sh", "example/ci/promote-family.sh",
		"example/ci/promote/promote.pkr.hcl", "example/ci/promote/variables.pkr.hcl",
	} {
		copyFile(t, filepath.Join(root, f), filepath.Join(repo, f))
	}
	copyFile(t, filepath.Join(root, "example/ci/gitlab/.gitlab-ci.yml"), filepath.Join(repo, ".gitlab-ci.yml"))
	if err := os.WriteFile(filepath.Join(repo, ".gitignore"), []byte("/.gitlab-ci-local/\n/reports/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "config", "user.name", "ci")
	git(t, repo, "config", "user.email", "ci@example.com")
	git(t, repo, "add", ".")
	git(t, repo, "commit", "-q", "-m", "the image pipeline")
	// gitlab-ci-local reads the project's URL and default branch from
	// origin; without one it warns and guesses.
	git(t, repo, "remote", "add", "origin", "https://gitlab.example.com/acme/images.git")
	git(t, repo, "update-ref", "refs/remotes/origin/main", "HEAD")
	git(t, repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
	return repo
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=ci", "GIT_AUTHOR_EMAIL=ci@example.com",
		"GIT_COMMITTER_NAME=ci", "GIT_COMMITTER_EMAIL=ci@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// runner runs pipelines of one repository with gitlab-ci-local.
type runner struct {
	bin, repo string
	env       []string
	vars      []string // --variable KEY=VALUE: the project's CI/CD variables
	runs      int
}

// pipeline runs the pipeline for the repository's current branch as
// source (push, schedule) with more variables (a schedule's), and returns
// gitlab-ci-local's output. A failed pipeline fails the test.
func (r *runner) pipeline(t *testing.T, name, source string, vars ...string) string {
	t.Helper()
	r.runs++
	args := []string{"--no-color", "--shell-isolation", "--no-artifacts-to-source",
		"--timestamps", "--variable", "CI_PIPELINE_SOURCE=" + source}
	for _, v := range append(slices.Clone(r.vars), vars...) {
		args = append(args, "--variable", v)
	}
	cmd := exec.Command(r.bin, args...)
	cmd.Dir = r.repo
	cmd.Env = r.env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	log := filepath.Join(filepath.Dir(r.repo), fmt.Sprintf("pipeline-%d-%s.log", r.runs, name))
	_ = os.WriteFile(log, out, 0o644)
	t.Logf("pipeline %d (%s, %s on %s): %s, exit %d", r.runs, name, source, git(t, r.repo, "branch", "--show-current"),
		time.Since(start).Round(time.Millisecond), cmd.ProcessState.ExitCode())
	if err != nil {
		t.Fatalf("pipeline %q failed: %v\n%s", name, err, out)
	}
	return string(out)
}

// artifact is a file a job kept, where gitlab-ci-local stores it.
func (r *runner) artifact(job, path string) string {
	return filepath.Join(r.repo, ".gitlab-ci-local", "artifacts", job, filepath.FromSlash(path))
}

// families reads every family of the hierarchy in project.
func families(t *testing.T, c gce.Compute, project string) map[string][]lifecycle.Image {
	t.Helper()
	out := map[string][]lifecycle.Image{}
	for _, l := range layers {
		imgs, err := c.ListFamily(context.Background(), project, l.family)
		if err != nil {
			t.Fatal(err)
		}
		out[l.family] = imgs
	}
	return out
}

func headOf(t *testing.T, c gce.Compute, project, family string) lifecycle.Image {
	t.Helper()
	img, err := c.GetFromFamily(context.Background(), project, family)
	if err != nil {
		t.Fatalf("the head of %s/%s: %v", project, family, err)
	}
	return img
}

// picture is what a pipeline left: every image of every family with its
// state and labels, to compare before and after a run that must change
// nothing.
func picture(t *testing.T, c gce.Compute) string {
	t.Helper()
	var b strings.Builder
	for _, p := range []string{devProject, prodProject} {
		for _, l := range layers {
			for _, img := range families(t, c, p)[l.family] {
				fmt.Fprintf(&b, "%s/%s %s %s %v\n", p, l.family, img.Name, img.State(), img.Labels)
			}
		}
	}
	return b.String()
}

// rotateReport is the part of imagefamily rotate's --report read here.
type rotateReport struct {
	Project  string `json:"project"`
	Families []struct {
		Family  string `json:"family"`
		Results []struct {
			Image  string `json:"image"`
			Action string `json:"action"`
			To     string `json:"to"`
			Error  string `json:"error"`
		} `json:"results"`
	} `json:"families"`
	Summary struct {
		Families int `json:"families"`
		Actions  int `json:"actions"`
		Done     int `json:"done"`
		Failed   int `json:"failed"`
	} `json:"summary"`
}

func readReport(t *testing.T, path string) rotateReport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the rotation report artifact: %v", err)
	}
	var r rotateReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return r
}

func TestGitLabPipelineRebuildsPromotesAndRotates(t *testing.T) {
	gcl := gitlabCILocal(t)
	env := packerrun.Env(t)
	packerrun.InstallPlugin(t, env, env.Bins.GoogleCompute, "github.com/hashicorp/googlecompute")
	packerrun.InstallPlugin(t, env, releasedPlugin(t), packerrun.PluginSource)
	// The runner's tools: packer and the imagefamily CLI on PATH.
	tools := t.TempDir()
	for name, bin := range map[string]string{"packer": env.Bins.Packer, "imagefamily": gobuild.CLI(t)} {
		if err := os.Symlink(bin, filepath.Join(tools, name)); err != nil {
			t.Fatal(err)
		}
	}
	jobEnv := []string{"GCL_IGNORE_PREDEFINED_VARS=CI_PIPELINE_SOURCE"}
	for _, kv := range env.Vars {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			kv = "PATH=" + tools + string(os.PathListSeparator) + v
		}
		jobEnv = append(jobEnv, kv)
	}

	emu := emulatortest.Start(t, emulator.Options{})
	debian := func(name string) {
		t.Helper()
		if err := emu.Server.PutImage(debianProject, &computepb.Image{Name: proto.String(name), Family: proto.String("debian-12"),
			DiskSizeGb: proto.Int64(10)}); err != nil {
			t.Fatal(err)
		}
	}
	debian("debian-12-bookworm-v20261101")
	c, err := gce.New(context.Background(), pluginconfig.Auth{CustomEndpoints: map[string]string{"compute": emu.ComputeEndpoint()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })

	// The emulator's images have no machine to list packages on: a file
	// stands for the list the template downloads with communicator ssh.
	packages := filepath.Join(t.TempDir(), "packages.txt")
	if err := os.WriteFile(packages, []byte("nginx 1.26.2-1~bookworm\nopenssl 3.0.15-1~deb12u1\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	repo := repository(t)
	r := &runner{bin: gcl, repo: repo, env: jobEnv, vars: []string{
		"DEV_PROJECT=" + devProject, "PROD_PROJECT=" + prodProject,
		"KEEP_ACTIVE=1", "MIN_AGE=0s", "OBSOLETE_AFTER=" + lifecycle.FormatDuration(obsoleteAfter),
		"DELETE_AFTER=1h", "PURGE_AFTER=1h",
		// The emulator, as a team would point a test pipeline at it.
		"IMAGEFAMILY_COMPUTE_ENDPOINT=" + emu.URL,
		"PKR_VAR_compute_endpoint=" + emu.ComputeEndpoint(),
		"PKR_VAR_access_token=" + emulatorToken,
		"PKR_VAR_packages_stand_in=" + packages,
	}}
	rebuild := []string{"SCHEDULE=rebuild"}
	rotate := []string{"SCHEDULE=rotate"}

	// 1. The first daily rebuild: every family is empty, so every layer is
	// built, bottom up, each on the head of the one below.
	r.pipeline(t, "rebuild-1", "schedule", rebuild...)
	first := map[string]lifecycle.Image{}
	for i, l := range layers {
		head := headOf(t, c, devProject, l.family)
		first[l.family] = head
		wantParent := "debian-12-bookworm-v20261101"
		if i > 0 {
			wantParent = first[layers[i-1].family].Name
		}
		if got := head.Labels[lifecycle.LabelParentImage]; got != wantParent {
			t.Errorf("rebuild 1: %s's head %s was built on %q, want %q", l.family, head.Name, got, wantParent)
		}
	}

	// 2. The stable branch: each dev head is promoted to prod, the same
	// image under the same name, and released there.
	git(t, repo, "checkout", "-q", "-b", "stable")
	r.pipeline(t, "promote-1", "push")
	checkPromoted := func(step string, want map[string]lifecycle.Image) {
		t.Helper()
		for _, l := range layers {
			head := headOf(t, c, prodProject, l.family)
			dev := want[l.family]
			if head.Name != dev.Name || head.Labels[lifecycle.LabelPromotedFrom] != dev.Name ||
				head.Labels[lifecycle.LabelPromotedFromProject] != devProject {
				t.Errorf("%s: prod's %s head is %s (promoted from %s/%s), want a copy of dev's %s", step, l.family,
					head.Name, head.Labels[lifecycle.LabelPromotedFromProject], head.Labels[lifecycle.LabelPromotedFrom], dev.Name)
			}
			if head.Labels[lifecycle.LabelParentImage] != dev.Labels[lifecycle.LabelParentImage] {
				t.Errorf("%s: prod's %s lost its lineage: parent %q, dev's is %q", step, head.Name,
					head.Labels[lifecycle.LabelParentImage], dev.Labels[lifecycle.LabelParentImage])
			}
		}
	}
	checkPromoted("promote 1", first)

	// 3. Debian publishes a new image: the next rebuild finds base
	// outdated, rebuilds it, and then app and product, each on the new
	// head below. The releases deprecate the heads they replace.
	debian("debian-12-bookworm-v20261201")
	git(t, repo, "checkout", "-q", "main")
	r.pipeline(t, "rebuild-2", "schedule", rebuild...)
	second := map[string]lifecycle.Image{}
	for i, l := range layers {
		head := headOf(t, c, devProject, l.family)
		second[l.family] = head
		if head.Name == first[l.family].Name {
			t.Errorf("rebuild 2: %s's head did not move from %s", l.family, head.Name)
		}
		wantParent := "debian-12-bookworm-v20261201"
		if i > 0 {
			wantParent = second[layers[i-1].family].Name
		}
		if got := head.Labels[lifecycle.LabelParentImage]; got != wantParent {
			t.Errorf("rebuild 2: %s's head %s was built on %q, want %q", l.family, head.Name, got, wantParent)
		}
		old, err := c.GetImage(context.Background(), devProject, first[l.family].Name)
		if err != nil || old.State() != lifecycle.StateDeprecated {
			t.Errorf("rebuild 2: the replaced head %s is %s (%v), want DEPRECATED", first[l.family].Name, old.State(), err)
		}
	}

	// 4. The stable branch again, after a merge: prod follows.
	git(t, repo, "checkout", "-q", "stable")
	git(t, repo, "merge", "-q", "--no-edit", "main")
	git(t, repo, "commit", "-q", "--allow-empty", "-m", "release to prod")
	r.pipeline(t, "promote-2", "push")
	checkPromoted("promote 2", second)

	// 5. A push to main that changes the app layer's version: app is
	// rebuilt although its parent did not move, product follows because
	// app moved, and base, current and unchanged, builds nothing.
	git(t, repo, "checkout", "-q", "main")
	appVars := filepath.Join(repo, "example", "app.pkrvars.hcl")
	b, err := os.ReadFile(appVars)
	if err != nil {
		t.Fatal(err)
	}
	bumped := strings.Replace(string(b), `version       = "1.26.2"`, `version       = "1.27.0"`, 1)
	if bumped == string(b) {
		t.Fatal(`example/app.pkrvars.hcl no longer says version       = "1.26.2": update this test`)
	}
	if err := os.WriteFile(appVars, []byte(bumped), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "commit", "-q", "-am", "nginx 1.27.0")
	out := r.pipeline(t, "push-app", "push")
	git(t, repo, "update-ref", "refs/remotes/origin/main", "HEAD") // pushed
	if head := headOf(t, c, devProject, "base-debian-12"); head.Name != second["base-debian-12"].Name {
		t.Errorf("push: base was rebuilt (%s) although neither it nor its parent changed", head.Name)
	}
	if !strings.Contains(out, "release-layer: base-debian-12 is current") {
		t.Error("push: the log does not say base is current")
	}
	third := map[string]lifecycle.Image{"base-debian-12": second["base-debian-12"]}
	for _, l := range layers[1:] {
		head := headOf(t, c, devProject, l.family)
		third[l.family] = head
		if head.Name == second[l.family].Name {
			t.Errorf("push: %s's head did not move from %s", l.family, head.Name)
		}
	}
	if v := third["app-nginx"].Labels[lifecycle.LabelVersion]; v != "1-27-0" {
		t.Errorf("push: app's new head %s has version %q, want 1-27-0", third["app-nginx"].Name, v)
	}
	if got := third["product-shop"].Labels[lifecycle.LabelParentImage]; got != third["app-nginx"].Name {
		t.Errorf("push: product was rebuilt on %q, want app's new head %s", got, third["app-nginx"].Name)
	}

	// 6. The nightly rotation, once the replaced images' obsolete dates
	// have passed: every DEPRECATED image becomes OBSOLETE, in both
	// projects, and each run's report is kept as an artifact.
	waitForObsoleteDates(t, c)
	// Every family of both projects has replaced a head since the last
	// rotation; a release's own rotation may have moved older ones on
	// already, depending on how long the builds took.
	deprecated := map[string][]string{}
	for _, p := range []string{devProject, prodProject} {
		for family, imgs := range families(t, c, p) {
			n := 0
			for _, img := range imgs {
				if img.State() == lifecycle.StateDeprecated {
					deprecated[p] = append(deprecated[p], img.Name)
					n++
				}
			}
			if n == 0 {
				t.Errorf("before the rotation, %s/%s has no DEPRECATED image, although a release replaced its head", p, family)
			}
		}
	}
	r.pipeline(t, "rotate-1", "schedule", rotate...)
	for _, p := range []struct{ job, project string }{{"rotate-dev", devProject}, {"rotate-prod", prodProject}} {
		rep := readReport(t, r.artifact(p.job, "reports/rotate-"+p.project+".json"))
		var obsoleted []string
		for _, f := range rep.Families {
			for _, res := range f.Results {
				if res.Action != string(lifecycle.ActionObsolete) || res.Error != "" {
					t.Errorf("%s: %s/%s: %s -> %s %s; want only obsolete, done", p.job, f.Family, res.Image, res.Action, res.To, res.Error)
				}
				obsoleted = append(obsoleted, res.Image)
			}
		}
		slices.Sort(obsoleted)
		slices.Sort(deprecated[p.project])
		if rep.Project != p.project || rep.Summary.Failed != 0 || !slices.Equal(obsoleted, deprecated[p.project]) {
			t.Errorf("%s's report: project %s, obsoleted %v, %d failed; want %s, every DEPRECATED image %v, none failed",
				p.job, rep.Project, obsoleted, rep.Summary.Failed, p.project, deprecated[p.project])
		}
		for _, name := range deprecated[p.project] {
			img, err := c.GetImage(context.Background(), p.project, name)
			if err != nil || img.State() != lifecycle.StateObsolete {
				t.Errorf("rotate 1: %s/%s is %s (%v), want OBSOLETE", p.project, name, img.State(), err)
			}
		}
	}

	// 7. The next night, nothing has changed: base is rebuilt for package
	// updates and releases nothing (the same packages on the same parent:
	// its image deleted), app and product are current and build nothing,
	// the rotation finds nothing due, and the families are exactly as they
	// were.
	before := picture(t, c)
	out = r.pipeline(t, "rebuild-3", "schedule", rebuild...)
	base := third["base-debian-12"].Name
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "release-layer:") || strings.Contains(line, "(imagefamily-release)") {
			t.Log(line)
		}
	}
	if want := "unchanged: same content as HEAD " + base; !strings.Contains(out, want) {
		t.Errorf("rebuild 3: the log does not say %q", want)
	}
	for _, l := range layers[1:] {
		if want := fmt.Sprintf("release-layer: %s is current", l.family); !strings.Contains(out, want) {
			t.Errorf("rebuild 3: the log does not say %q", want)
		}
	}
	if n := strings.Count(out, "release-layer: rebuilding"); n != 1 || !strings.Contains(out, "release-layer: rebuilding base") {
		t.Errorf("rebuild 3 rebuilt %d layers, want base alone:\n%s", n, out)
	}
	var baseReport struct {
		Unchanged    bool   `json:"unchanged"`
		Released     bool   `json:"released"`
		BuiltImage   string `json:"built_image"`
		BuiltDeleted bool   `json:"built_deleted"`
		Head         string `json:"head"`
	}
	if b, err := os.ReadFile(r.artifact("build-base", "reports/base-release.json")); err != nil {
		t.Error(err)
	} else if err := json.Unmarshal(b, &baseReport); err != nil || !baseReport.Unchanged || baseReport.Released || !baseReport.BuiltDeleted || baseReport.Head != base {
		t.Errorf("rebuild 3: base's release report %s (%v): want unchanged, not released, its image deleted, head %s", b, err, base)
	}
	if _, err := c.GetImage(context.Background(), devProject, baseReport.BuiltImage); !errors.Is(err, gce.ErrNotFound) {
		t.Errorf("rebuild 3: the identical base image %s is still there (%v)", baseReport.BuiltImage, err)
	}
	r.pipeline(t, "rotate-2", "schedule", rotate...)
	for _, p := range []struct{ job, project string }{{"rotate-dev", devProject}, {"rotate-prod", prodProject}} {
		rep := readReport(t, r.artifact(p.job, "reports/rotate-"+p.project+".json"))
		if rep.Summary.Families != len(layers) || rep.Summary.Actions != 0 {
			t.Errorf("rotate 2 (%s): %d families, %d actions; want %d families and nothing to do", p.job,
				rep.Summary.Families, rep.Summary.Actions, len(layers))
		}
	}
	if after := picture(t, c); after != before {
		t.Errorf("a night with nothing to do changed the families:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// waitForObsoleteDates waits until every DEPRECATED image's obsolete date
// in both projects has passed (dates are to the second: one more second).
func waitForObsoleteDates(t *testing.T, c gce.Compute) {
	t.Helper()
	var latest time.Time
	for _, p := range []string{devProject, prodProject} {
		for _, imgs := range families(t, c, p) {
			for _, img := range imgs {
				if img.State() == lifecycle.StateDeprecated && img.Deprecation.Obsolete != nil && img.Deprecation.Obsolete.After(latest) {
					latest = *img.Deprecation.Obsolete
				}
			}
		}
	}
	if latest.IsZero() {
		t.Fatal("no DEPRECATED image with an obsolete date: the releases rotated nothing")
	}
	if wait := time.Until(latest.Add(time.Second)); wait > 0 {
		t.Logf("waiting %s for the obsolete dates to pass", wait.Round(time.Millisecond))
		time.Sleep(wait)
	}
}
