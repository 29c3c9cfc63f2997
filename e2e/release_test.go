package e2e_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

// releaseTemplate releases the image googlecompute builds from base-v1
// (packerrun.GoogleComputeApp) into app-nginx. %[1]s is the endpoint, %[2]s
// more post-processor settings.
const releaseTemplate = `
build {
  sources = ["source.googlecompute.app"]
  post-processor "imagefamily-release" {
    project_id       = "acme-images"
    family           = "app-nginx"
    naming {
      os       = "debian-12"
      software = "nginx"
      version  = "1.26"
    }
    rotation {
      min_age = "0s"
    }
    custom_endpoints = { compute = "%[1]s" }
    %[2]s
  }
}
`

// seedReleaseFixture lays out base-v1 (the source) and app-v1, the head of
// app-nginx.
func seedReleaseFixture(t *testing.T, emu *emulatortest.Env) {
	t.Helper()
	for _, img := range []*computepb.Image{
		{Name: proto.String("base-v1"), Family: proto.String("base-debian-12"), DiskSizeGb: proto.Int64(10), CreationTimestamp: proto.String("2026-11-01T00:00:00.000Z")},
		{Name: proto.String("app-v1"), Family: proto.String("app-nginx"), DiskSizeGb: proto.Int64(10), CreationTimestamp: proto.String("2026-11-02T00:00:00.000Z")},
	} {
		if err := emu.Server.PutImage(project, img); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReleaseThroughPackerKeepsOrDeletesAsDocumented runs the post-processor
// under real packer and checks who keeps which image: a refused release fails
// the build and Packer deletes the unreleased image (the family untouched); a
// released image is kept even when the template asks Packer not to keep the
// input artifact; a copy replaces a badly named image; a dry run changes
// nothing and keeps the built image.
func TestReleaseThroughPackerKeepsOrDeletesAsDocumented(t *testing.T) {
	env := packerEnv(t)
	for _, tc := range []struct {
		name      string
		image     string
		settings  string
		wantFail  string // in packer's output; the build must fail
		wantOut   string // in packer's output; the build must succeed
		head      string // the family's head afterwards
		exists    []string
		gone      []string
		unlabeled bool // the built image carries no release labels
	}{
		{
			name: "bad name: build fails, Packer deletes the unreleased image", image: "nginx-latest",
			wantFail: "does not follow the naming convention", head: "app-v1", gone: []string{"nginx-latest"},
		},
		{
			name: "released image kept despite keep_input_artifact = false", image: "debian-12-nginx-1-26-v20261126t080000",
			settings: "keep_input_artifact = false", wantOut: "released into family app-nginx",
			head: "debian-12-nginx-1-26-v20261126t080000", exists: []string{"debian-12-nginx-1-26-v20261126t080000", "app-v1"},
		},
		{
			name: "rename copy releases the conventional name", image: "nginx-latest", settings: `rename = "copy"
    description = "nginx, renamed"`,
			wantOut: "Releasing a copy named debian-12-nginx-1-26-v", gone: []string{"nginx-latest"},
		},
		{
			name: "dry run changes nothing", image: "debian-12-nginx-1-26-v20261126t080000", settings: "dry_run = true",
			wantOut: "DRY RUN: nothing was changed", head: "app-v1",
			exists: []string{"debian-12-nginx-1-26-v20261126t080000", "app-v1"}, unlabeled: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu := emulatortest.Start(t, emulatorOptions(t))
			seedReleaseFixture(t, emu)
			dir := t.TempDir()
			packerrun.WriteTemplate(t, dir, packerrun.GoogleComputeApp(emu.ComputeEndpoint(), tc.image)+
				fmt.Sprintf(releaseTemplate, emu.ComputeEndpoint(), tc.settings))
			stdout, stderr, err := packerrun.Run(t, env, dir, "build", "-color=false", ".")
			all := stdout + stderr
			if tc.wantFail != "" {
				if err == nil || !strings.Contains(all, tc.wantFail) {
					t.Fatalf("packer build: %v, want a failure saying %q\n%s", err, tc.wantFail, all)
				}
			} else if err != nil || !strings.Contains(all, tc.wantOut) {
				t.Fatalf("packer build: %v, want success saying %q\n%s", err, tc.wantOut, all)
			}
			afterReadLag(t)
			c := computeClient(t, emu.ComputeEndpoint())
			ctx := context.Background()
			head, err := c.GetFromFamily(ctx, project, "app-nginx")
			if err != nil {
				t.Fatal(err)
			}
			if tc.head != "" && head.Name != tc.head {
				t.Errorf("family head %s, want %s", head.Name, tc.head)
			}
			if tc.head == "" && !strings.HasPrefix(head.Name, "debian-12-nginx-1-26-v") {
				t.Errorf("family head %s, want the conventional copy", head.Name)
			}
			for _, name := range tc.exists {
				if _, err := c.GetImage(ctx, project, name); err != nil {
					t.Errorf("%s: %v, want it kept", name, err)
				}
			}
			for _, name := range tc.gone {
				if _, err := c.GetImage(ctx, project, name); !isNotFound(err) {
					t.Errorf("%s: %v, want it deleted", name, err)
				}
			}
			if tc.unlabeled {
				img, err := c.GetImage(ctx, project, tc.image)
				if err != nil {
					t.Fatal(err)
				}
				for k := range img.Labels {
					if lifecycle.IsLineageKey(k) {
						t.Errorf("a dry run wrote label %s", k)
					}
				}
			}
		})
	}
}

// TestPackerValidateNamesEveryBadOption runs `packer validate` on a template
// with a bad value in each option: every one is reported, by name.
func TestPackerValidateNamesEveryBadOption(t *testing.T) {
	env := packerEnv(t)
	dir := t.TempDir()
	tmpl := `
source "null" "x" {
  communicator = "none"
}
build {
  sources = ["source.null.x"]
  post-processor "imagefamily-release" {
    project_id  = "Acme"
    family      = "App_Nginx"
    parent      = "projects/acme/global/images/family/base"
    labels      = { "imagefamily-parent-image" = "mine", team = "Web Team" }
    rename      = "sometimes"
    description = "only for copies"
    naming {
      template = "{os}-{bad}"
      os       = "debian-12"
    }
    rotation {
      keep_active     = -1
      min_age         = "soon"
      obsolete_after  = "7x"
      delete_after    = "-1h"
      purge_after     = "1 week"
      protect_label   = "Keep Me"
      in_use_projects = ["BAD"]
      parallelism     = -1
    }
    access_token     = "a"
    credentials_json = "{}"
    custom_endpoints = { compute = "127.0.0.1:8080" }
  }
}
`
	packerrun.WriteTemplate(t, dir, tmpl)
	stdout, stderr, err := packerrun.Run(t, env, dir, "validate", ".")
	if err == nil {
		t.Fatalf("packer validate accepted it:\n%s", stdout)
	}
	all := stdout + stderr
	for _, option := range []string{
		`project_id "Acme"`, `family "App_Nginx"`, `parent "projects/acme/global/images/family/base"`,
		"labels: \"imagefamily-parent-image\"", "labels: ", `rename "sometimes"`, "description",
		"{bad}", "rotation.keep_active", "rotation.min_age", "rotation.obsolete_after", "rotation.delete_after",
		"rotation.purge_after", "rotation.protect_label", "rotation.in_use_projects[0]", "rotation.parallelism",
		"credentials_json", "custom_endpoints.compute",
	} {
		if !strings.Contains(all, option) {
			t.Errorf("packer validate does not name %s:\n%s", option, all)
		}
	}
}

// TestPromotedImageIsReleasedIntoAnotherProject promotes the head of a dev
// family into prod with source "imagefamily-promote" (no VM) and releases
// the copy there: the release takes the promote builder's artifact, writes
// its labels over the promoted-from ones and rotates prod's family.
func TestPromotedImageIsReleasedIntoAnotherProject(t *testing.T) {
	env := packerEnv(t)
	emu := emulatortest.Start(t, emulatorOptions(t))
	for _, fx := range []struct {
		project string
		img     *computepb.Image
	}{
		{"acme-images", &computepb.Image{Name: proto.String("debian-12-nginx-1-26-v20261120t000000"), Family: proto.String("app-nginx"),
			DiskSizeGb: proto.Int64(10), Labels: map[string]string{lifecycle.LabelParentImage: "base-v1", lifecycle.LabelParentFamily: "base-debian-12"}}},
		{"acme-prod", &computepb.Image{Name: proto.String("debian-12-nginx-1-26-v20261101t000000"), Family: proto.String("app-nginx"),
			DiskSizeGb: proto.Int64(10), CreationTimestamp: proto.String("2026-11-01T00:00:00.000Z")}},
	} {
		if err := emu.Server.PutImage(fx.project, fx.img); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	tmpl := strings.ReplaceAll(`
data "imagefamily" "dev" {
  project_id       = "acme-images"
  family           = "app-nginx"
  custom_endpoints = { compute = "ENDPOINT" }
}
source "imagefamily-promote" "prod" {
  source_image     = data.imagefamily.dev.self_link
  project_id       = "acme-prod"
  image_name       = "debian-12-nginx-1-26-v20261126t090000"
  custom_endpoints = { compute = "ENDPOINT" }
}
build {
  sources = ["source.imagefamily-promote.prod"]
  post-processor "imagefamily-release" {
    project_id = "acme-prod"
    family     = "app-nginx"
    labels     = { env = "prod" }
    naming {
      os       = "debian-12"
      software = "nginx"
      version  = "1.26"
    }
    rotation {
      keep_active = 1
      min_age     = "0s"
    }
    report_file      = "REPORT"
    custom_endpoints = { compute = "ENDPOINT" }
  }
}
`, "ENDPOINT", emu.ComputeEndpoint())
	report := filepath.Join(dir, "release.json")
	tmpl = strings.ReplaceAll(tmpl, "REPORT", report)
	packerrun.WriteTemplate(t, dir, tmpl)
	stdout, stderr, err := packerrun.Run(t, env, dir, "build", "-color=false", ".")
	if err != nil {
		t.Fatalf("packer build: %v\n%s\n%s", err, stdout, stderr)
	}
	t.Logf("packer build:\n%s", stdout)
	out := readOutcome(t, report)
	const promoted = "debian-12-nginx-1-26-v20261126t090000"
	if !out.Released || out.Image != promoted || out.PreviousHead != "debian-12-nginx-1-26-v20261101t000000" || out.Project != "acme-prod" {
		t.Errorf("report: released %v image %q previous %q project %q", out.Released, out.Image, out.PreviousHead, out.Project)
	}
	afterReadLag(t)
	c := computeClient(t, emu.ComputeEndpoint())
	ctx := context.Background()
	head, err := c.GetFromFamily(ctx, "acme-prod", "app-nginx")
	if err != nil {
		t.Fatal(err)
	}
	if head.Name != promoted || head.Labels["env"] != "prod" || head.Labels[lifecycle.LabelPromotedFrom] != "debian-12-nginx-1-26-v20261120t000000" ||
		head.Labels[lifecycle.LabelReleasedAt] == "" || head.Labels[lifecycle.LabelParentFamily] != "base-debian-12" {
		t.Errorf("prod head %s labels %v", head.Name, head.Labels)
	}
	old, err := c.GetImage(ctx, "acme-prod", "debian-12-nginx-1-26-v20261101t000000")
	if err != nil || old.State() != lifecycle.StateDeprecated || !strings.HasSuffix(old.Deprecation.Replacement, "/acme-prod/global/images/"+promoted) {
		t.Errorf("the old prod head: %v, state %s, replacement %q", err, old.State(), old.Deprecation.Replacement)
	}
	if dev, err := c.GetFromFamily(ctx, "acme-images", "app-nginx"); err != nil || dev.Name != "debian-12-nginx-1-26-v20261120t000000" {
		t.Errorf("the dev family moved: %v %s", err, dev.Name)
	}
}
