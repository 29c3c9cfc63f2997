// Package e2e_test runs the example hierarchy (the one template
// example/layer, built as base, app and product with example/<layer>.pkrvars.hcl)
// with the real packer, the real googlecompute builder and this plugin,
// against the Compute Engine emulator, and checks what the releases and
// rotations leave behind through the Go client and gcloud.
package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/releaser"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gcloudrun"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

const (
	project       = "acme-images"
	debianProject = "debian-cloud"
	debianImage   = "debian-12-bookworm-v20261101"
	// runs is how many times the hierarchy is built: the first image of a
	// family with keep_active 1 is deprecated by run 2, obsoleted by run 3,
	// marked deleted by run 4 and purged by run 5.
	runs = 5
	// step is every rotation duration: short enough for a test, and dates
	// written to the second stay distinct.
	step = time.Second
)

// layer is one level of the example hierarchy: example/layer built with the
// variables file example/<name>.pkrvars.hcl.
type layer struct {
	name, family string
	parent       string // the parent layer's name; "" for base (Debian)
}

var layers = []layer{
	{name: "base", family: "base-debian-12"},
	{name: "app", family: "app-nginx", parent: "base"},
	{name: "product", family: "product-shop", parent: "app"},
}

func familyOf(name string) string {
	for _, l := range layers {
		if l.name == name {
			return l.family
		}
	}
	return ""
}

// emulatorToken is the access token googlecompute sends to the emulator,
// which takes any. The templates mark access_token sensitive, and Packer masks
// every occurrence of a sensitive value in its output: "x" would mask every
// letter x.
const emulatorToken = "emulator-token-not-a-secret"

// pinnedTemplate is the instance template that names app's first image: it
// must keep that image untouched through every rotation.
const pinnedTemplate = "web-frontend-pinned"

func TestExampleHierarchyReleasesAndRotatesThroughEveryState(t *testing.T) {
	start := time.Now()
	env := packerEnv(t)
	emu := emulatortest.Start(t, emulatorOptions(t))
	if err := emu.Server.PutImage(debianProject, &computepb.Image{
		Name: proto.String(debianImage), Family: proto.String("debian-12"), DiskSizeGb: proto.Int64(10),
		Licenses: []string{"https://www.googleapis.com/compute/v1/projects/debian-cloud/global/licenses/debian-12-bookworm"},
	}); err != nil {
		t.Fatal(err)
	}
	c := computeClient(t, emu.ComputeEndpoint())
	examples := filepath.Join(modroot.Dir(t), "example")
	work := t.TempDir()
	varFile := filepath.Join(work, "e2e.pkrvars.hcl")
	if err := os.WriteFile(varFile, []byte(fmt.Sprintf(`
project_id       = %q
compute_endpoint = %q
access_token     = %q
rotation = {
  keep_active    = 1
  min_age        = "0s"
  obsolete_after = %q
  delete_after   = %q
  purge_after    = %q
}
`, project, emu.ComputeEndpoint(), emulatorToken, lifecycle.FormatDuration(step), lifecycle.FormatDuration(step), lifecycle.FormatDuration(step))), 0o644); err != nil {
		t.Fatal(err)
	}

	// names[layer][k] is the image run k released (index 0 unused).
	names := map[string][]string{}
	for _, l := range layers {
		names[l.name] = make([]string, runs+1)
	}
	for k := 1; k <= runs; k++ {
		waitUntilDue(t, c, project, []string{"base-debian-12", "app-nginx", "product-shop"}, step)
		reports := filepath.Join(work, fmt.Sprintf("run-%d", k))
		for _, l := range layers {
			stdout, stderr, err := packerrun.Run(t, env, filepath.Join(examples, "layer"), "build", "-color=false",
				"-var-file="+filepath.Join(examples, l.name+".pkrvars.hcl"), "-var-file="+varFile, "-var", "report_dir="+reports, ".")
			if err != nil {
				t.Fatalf("run %d: packer build %s: %v\nstdout:\n%s\nstderr:\n%s", k, l.name, err, stdout, stderr)
			}
			if k == 1 && l.name == "app" {
				t.Logf("packer build example/layer with app.pkrvars.hcl, first run:\n%s", stdout)
			}
			out := readOutcome(t, filepath.Join(reports, l.name+"-release.json"))
			names[l.name][k] = out.Image
			checkRelease(t, k, l, out, names)
			m := readManifest(t, filepath.Join(reports, l.name+"-manifest.json"))
			if len(m.Builds) != 1 || m.Builds[0].ArtifactID != out.Image || m.Builds[0].BuilderType != "googlecompute" {
				t.Errorf("run %d %s: manifest = %+v, want one googlecompute build with artifact %s", k, l.name, m, out.Image)
			}
		}
		if k == 1 {
			pinTemplate(t, emu, names["app"][1])
		}
		afterReadLag(t)
		checkFamilies(t, c, k, names)
	}
	t.Run("gcloud sees the same families", func(t *testing.T) { checkWithGcloud(t, emu.ComputeEndpoint(), names) })
	t.Logf("e2e: %d runs of 3 layers in %s", runs, time.Since(start).Round(time.Millisecond))
}

// expectedSteps is how far image i of a layer has walked after run k:
// 0 ACTIVE, 1 DEPRECATED, 2 OBSOLETE, 3 DELETED, 4 purged. app's first
// image is pinned by an instance template and never moves.
func expectedSteps(layerName string, i, k int) int {
	if layerName == "app" && i == 1 {
		return 0
	}
	return min(k-i, 4)
}

var stepStates = []lifecycle.State{lifecycle.StateActive, lifecycle.StateDeprecated, lifecycle.StateObsolete, lifecycle.StateDeleted}

// checkRelease checks one layer's release report of run k.
func checkRelease(t *testing.T, k int, l layer, out releaser.Outcome, names map[string][]string) {
	t.Helper()
	prev := ""
	if k > 1 {
		prev = names[l.name][k-1]
	}
	parent := lifecycle.ImageRef{Project: debianProject, Name: debianImage}.String()
	if l.parent != "" {
		parent = lifecycle.ImageRef{Project: project, Name: names[l.parent][k]}.String()
	}
	if !out.Released || out.DryRun || out.Raced || out.RotationFailed || out.Error != "" || len(out.Warnings) != 0 {
		t.Errorf("run %d %s: released %v dry_run %v raced %v rotation_failed %v error %q warnings %q",
			k, l.name, out.Released, out.DryRun, out.Raced, out.RotationFailed, out.Error, out.Warnings)
	}
	if out.Family != l.family || out.PreviousHead != prev || out.Head != out.Image || out.Parent != parent {
		t.Errorf("run %d %s: family %q previous_head %q head %q (image %q) parent %q; want %q, %q, the image, %q",
			k, l.name, out.Family, out.PreviousHead, out.Head, out.Image, out.Parent, l.family, prev, parent)
	}
	// The rotation of run k moves each older image one step.
	var want []string
	for i := 1; i < k; i++ {
		steps := expectedSteps(l.name, i, k)
		if steps == 0 || steps > 4 || expectedSteps(l.name, i, k-1) == steps {
			continue
		}
		action := []lifecycle.Action{"", lifecycle.ActionDeprecate, lifecycle.ActionObsolete, lifecycle.ActionMarkDeleted, lifecycle.ActionPurge}[steps]
		want = append(want, fmt.Sprintf("%s %s", action, names[l.name][i]))
	}
	var got []string
	if out.Rotation != nil {
		for _, r := range out.Rotation.Results {
			got = append(got, fmt.Sprintf("%s %s", r.Action, r.Image))
			if r.Err != nil {
				t.Errorf("run %d %s: %s %s failed: %v", k, l.name, r.Action, r.Image, r.Err)
			}
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("run %d %s: rotation did\n  %s\nwant\n  %s", k, l.name, joinLines(got), joinLines(want))
	}
}

// checkFamilies reads every family through the Go client after run k.
func checkFamilies(t *testing.T, c gce.Compute, k int, names map[string][]string) {
	t.Helper()
	ctx := context.Background()
	for _, l := range layers {
		head, err := c.GetFromFamily(ctx, project, l.family)
		if err != nil {
			t.Fatalf("run %d: family %s: %v", k, l.family, err)
		}
		if head.Name != names[l.name][k] {
			t.Errorf("run %d: family %s resolves to %s, want %s", k, l.family, head.Name, names[l.name][k])
		}
		wantLabels := map[string]string{
			lifecycle.LabelParentImage:   debianImage,
			lifecycle.LabelParentFamily:  "debian-12",
			lifecycle.LabelParentProject: debianProject,
			lifecycle.LabelOS:            "debian-12",
		}
		if l.parent != "" {
			wantLabels[lifecycle.LabelParentImage] = names[l.parent][k]
			wantLabels[lifecycle.LabelParentFamily] = familyOf(l.parent)
			wantLabels[lifecycle.LabelParentProject] = project
		}
		for key, want := range wantLabels {
			if got := head.Labels[key]; got != want {
				t.Errorf("run %d: head %s label %s = %q, want %q", k, head.Name, key, got, want)
			}
		}
		if _, err := lifecycle.ParseLabelTimestamp(head.Labels[lifecycle.LabelReleasedAt]); err != nil {
			t.Errorf("run %d: head %s %s: %v", k, head.Name, lifecycle.LabelReleasedAt, err)
		}

		for i := 1; i <= k; i++ {
			name := names[l.name][i]
			steps := expectedSteps(l.name, i, k)
			img, err := c.GetImage(ctx, project, name)
			if steps == 4 {
				if !isNotFound(err) {
					t.Errorf("run %d: %s should be purged; got %v (state %s)", k, name, err, img.State())
				}
				continue
			}
			if err != nil {
				t.Errorf("run %d: %s: %v", k, name, err)
				continue
			}
			if want := stepStates[steps]; img.State() != want {
				t.Errorf("run %d: %s is %s, want %s", k, name, img.State(), want)
			}
			if steps == 0 {
				continue
			}
			// Deprecated by run i+1, whose image was the head then.
			d := img.Deprecation
			wantRepl := lifecycle.ImageRef{Project: project, Name: names[l.name][i+1]}.SelfLink()
			if d.Replacement != wantRepl {
				t.Errorf("run %d: %s replacement %q, want %q", k, name, d.Replacement, wantRepl)
			}
			if d.Deprecated == nil || d.Obsolete == nil || d.Deleted == nil {
				t.Errorf("run %d: %s dates %v/%v/%v, want all three", k, name, d.Deprecated, d.Obsolete, d.Deleted)
				continue
			}
			if d.Obsolete.Sub(*d.Deprecated) != step || d.Deleted.Sub(*d.Obsolete) != step {
				t.Errorf("run %d: %s dates deprecated %s obsolete %s deleted %s, want %s apart", k, name,
					d.Deprecated.Format(time.RFC3339), d.Obsolete.Format(time.RFC3339), d.Deleted.Format(time.RFC3339), step)
			}
		}
	}
}

// pinTemplate creates an instance template whose boot disk names image by
// its self link, as a managed instance group's template would.
func pinTemplate(t *testing.T, emu *emulatortest.Env, image string) {
	t.Helper()
	ctx := context.Background()
	tc, err := compute.NewInstanceTemplatesRESTClient(ctx, emu.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	op, err := tc.Insert(ctx, &computepb.InsertInstanceTemplateRequest{Project: project, InstanceTemplateResource: &computepb.InstanceTemplate{
		Name: proto.String(pinnedTemplate),
		Properties: &computepb.InstanceProperties{
			MachineType: proto.String("e2-small"),
			Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), AutoDelete: proto.Bool(true), InitializeParams: &computepb.AttachedDiskInitializeParams{
				SourceImage: proto.String(lifecycle.ImageRef{Project: project, Name: image}.SelfLink()),
			}}},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// checkWithGcloud reads the families back with the real gcloud CLI.
func checkWithGcloud(t *testing.T, endpoint string, names map[string][]string) {
	genv := gcloudrun.Env(endpoint, project, t.TempDir())
	for _, l := range layers {
		out, errOut, err := gcloudrun.Run(t, genv, "compute", "images", "describe-from-family", l.family, "--format=value(name)")
		if err != nil {
			t.Fatalf("gcloud describe-from-family %s: %v\n%s", l.family, err, errOut)
		}
		if got := strings.TrimSpace(out); got != names[l.name][runs] {
			t.Errorf("gcloud: family %s resolves to %q, want %q", l.family, got, names[l.name][runs])
		}
	}
	out, errOut, err := gcloudrun.Run(t, genv, "compute", "images", "list", "--no-standard-images", "--show-deprecated", "--filter=family=app-nginx", "--format=json")
	if err != nil {
		t.Fatalf("gcloud images list: %v\n%s", err, errOut)
	}
	var listed []struct {
		Name       string            `json:"name"`
		Labels     map[string]string `json:"labels"`
		Deprecated *struct {
			State string `json:"state"`
		} `json:"deprecated"`
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("gcloud printed no JSON: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, img := range listed {
		state := "ACTIVE"
		if img.Deprecated != nil && img.Deprecated.State != "" {
			state = img.Deprecated.State
		}
		got[img.Name] = state
		if img.Labels[lifecycle.LabelParentFamily] != "base-debian-12" || img.Labels["team"] != "web" {
			t.Errorf("gcloud: %s labels %v, want parent family base-debian-12 and team web", img.Name, img.Labels)
		}
	}
	want := map[string]string{}
	for i := 1; i <= runs; i++ {
		if s := expectedSteps("app", i, runs); s < 4 {
			want[names["app"][i]] = string(stepStates[s])
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("gcloud: app-nginx images %v, want %v (the pinned %s ACTIVE)", got, want, names["app"][1])
	}
}
