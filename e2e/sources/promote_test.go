package sources_test

import (
	"maps"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
)

// devImages is a dev family: its head app-nginx-v2 was built on a base image
// (parent project implicit: the dev project), v0 is OBSOLETE.
func devImages(f *fakeGCE, t *testing.T) {
	f.put(t,
		image{project: "acme-dev", name: "app-nginx-v0", family: "app-nginx", created: "2026-11-01T00:00:00.000Z", state: "OBSOLETE"},
		image{project: "acme-dev", name: "app-nginx-v1", family: "app-nginx", created: "2026-11-05T00:00:00.000Z"},
		image{project: "acme-dev", name: "app-nginx-v2", family: "app-nginx", created: "2026-11-10T00:00:00.000Z",
			labels: map[string]string{
				"imagefamily-parent-image":  "base-debian-12-v2",
				"imagefamily-parent-family": "base-debian-12",
				"imagefamily-released-at":   "20261110t000000z",
				"team":                      "web",
			}},
	)
}

// snapshot renders a project's images for an unchanged-ness comparison.
func snapshot(t *testing.T, f *fakeGCE, project string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, img := range f.list(t, project) {
		b, err := protojson.Marshal(img)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = string(b)
	}
	return out
}

const promoteTemplate = `
data "imagefamily" "dev" {
  project_id       = "acme-dev"
  family           = "app-nginx"
  custom_endpoints = { compute = "ENDPOINT" }
}
source "imagefamily-promote" "prod" {
  source_image     = data.imagefamily.dev.self_link
  project_id       = "acme-prod"
  image_name       = "app-nginx-prod-v1"
  labels           = { env = "prod" }
  custom_endpoints = { compute = "ENDPOINT" }
}
build { sources = ["source.imagefamily-promote.prod"] }
`

// promoteFromFamily is a source that promotes app-nginx-prod-v1 naming its
// source the other way: by the family and its project. A build follows it.
const promoteFromFamily = `
source "imagefamily-promote" "prod" {
  source_family     = "app-nginx"
  source_project_id = "acme-dev"
  project_id        = "acme-prod"
  image_name        = "app-nginx-prod-v1"
  custom_endpoints  = { compute = "ENDPOINT" }
}
`

func TestPromoteCopiesTheDevHeadIntoProdWithoutAVM(t *testing.T) {
	f := startEmulator(t)
	devImages(f, t)
	before := snapshot(t, f, "acme-dev")
	env := packerEnv(t)
	dir := f.template(t, promoteTemplate)

	out, err := packer(t, env, dir, "build", "-color=false", ".")
	if err != nil {
		t.Fatalf("packer build: %v\n%s", err, out)
	}
	if want := "A disk image was promoted to the 'acme-prod' project: app-nginx-prod-v1 (from projects/acme-dev/global/images/app-nginx-v2)"; !strings.Contains(out, want) {
		t.Errorf("packer output does not report the artifact %q:\n%s", want, out)
	}

	img := f.get(t, "acme-prod", "app-nginx-prod-v1")
	wantLabels := map[string]string{
		"imagefamily-promoted-from":         "app-nginx-v2",
		"imagefamily-promoted-from-project": "acme-dev",
		"imagefamily-parent-image":          "base-debian-12-v2",
		"imagefamily-parent-family":         "base-debian-12",
		"imagefamily-parent-project":        "acme-dev",
		"env":                               "prod",
	}
	if !maps.Equal(img.GetLabels(), wantLabels) {
		t.Errorf("prod labels = %v\nwant %v", img.GetLabels(), wantLabels)
	}
	if got, want := img.GetSourceImage(), "https://www.googleapis.com/compute/v1/projects/acme-dev/global/images/app-nginx-v2"; got != want {
		t.Errorf("sourceImage = %q, want %q", got, want)
	}
	if img.GetStatus() != "READY" || img.GetFamily() != "" || img.GetDescription() != "Promoted from projects/acme-dev/global/images/app-nginx-v2" {
		t.Errorf("status %q, family %q, description %q", img.GetStatus(), img.GetFamily(), img.GetDescription())
	}
	if after := snapshot(t, f, "acme-dev"); !maps.Equal(before, after) {
		t.Errorf("the dev project changed:\nbefore %v\nafter  %v", before, after)
	}
	for _, c := range f.calls() {
		if strings.Contains(c, "/instances") || strings.Contains(c, "/disks") {
			t.Errorf("promote touched a VM or disk: %s", c)
		}
	}
}

func TestPromoteWithForceReplacesAnExistingDestination(t *testing.T) {
	f := startEmulator(t)
	devImages(f, t)
	f.put(t, image{project: "acme-prod", name: "app-nginx-prod-v1", created: "2026-11-02T00:00:00.000Z", labels: map[string]string{"stale": "yes"}})
	old := f.get(t, "acme-prod", "app-nginx-prod-v1").GetId()
	env := packerEnv(t)
	dir := f.template(t, promoteFromFamily+`build { sources = ["source.imagefamily-promote.prod"] }`)
	out, err := packer(t, env, dir, "build", "-color=false", "-force", ".")
	if err != nil {
		t.Fatalf("packer build -force: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Deleting existing image projects/acme-prod/global/images/app-nginx-prod-v1 (-force)") {
		t.Errorf("packer output does not say it deleted the existing image:\n%s", out)
	}
	img := f.get(t, "acme-prod", "app-nginx-prod-v1")
	if img.GetId() == old || img.GetLabels()["stale"] != "" || img.GetLabels()["imagefamily-promoted-from"] != "app-nginx-v2" {
		t.Errorf("the image was not replaced: id %d (old %d), labels %v", img.GetId(), old, img.GetLabels())
	}
}

func TestPromoteRefusesAnObsoleteSource(t *testing.T) {
	f := startEmulator(t)
	devImages(f, t)
	env := packerEnv(t)
	dir := f.template(t, `
source "imagefamily-promote" "prod" {
  source_image     = "projects/acme-dev/global/images/app-nginx-v0"
  project_id       = "acme-prod"
  image_name       = "app-nginx-prod-v0"
  custom_endpoints = { compute = "ENDPOINT" }
}
build { sources = ["source.imagefamily-promote.prod"] }
`)
	out, err := packer(t, env, dir, "build", "-color=false", ".")
	if err == nil {
		t.Fatalf("packer build succeeded:\n%s", out)
	}
	want := "refusing to promote: image projects/acme-dev/global/images/app-nginx-v0 is OBSOLETE: Compute Engine refuses new uses of OBSOLETE and DELETED images"
	if !strings.Contains(out, want) {
		t.Errorf("packer output does not say %q:\n%s", want, out)
	}
	if imgs := f.list(t, "acme-prod"); len(imgs) != 0 {
		t.Errorf("acme-prod has images after a refused promotion: %v", imgs)
	}
}

func TestPromotedImageIsDeletedWhenAPostProcessorFails(t *testing.T) {
	f := startEmulator(t)
	devImages(f, t)
	env := packerEnv(t)
	dir := f.template(t, promoteFromFamily+`
build {
  sources = ["source.imagefamily-promote.prod"]
  post-processor "shell-local" {
    inline = ["exit 3"]
  }
}
`)
	out, err := packer(t, env, dir, "build", "-color=false", ".")
	if err == nil {
		t.Fatalf("packer build succeeded:\n%s", out)
	}
	if n := f.count("POST /compute/v1/projects/acme-prod/global/images"); n != 1 {
		t.Fatalf("%d inserts in acme-prod, want 1:\n%s", n, out)
	}
	if n := f.count("DELETE /compute/v1/projects/acme-prod/global/images/app-nginx-prod-v1"); n != 1 {
		t.Errorf("the artifact was deleted %d times, want once", n)
	}
	if imgs := f.list(t, "acme-prod"); len(imgs) != 0 {
		t.Errorf("acme-prod still has images after the build failed: %v", imgs)
	}
}
