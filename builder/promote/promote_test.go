package promote

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce/gcetest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

var buildTime = time.Date(2026, 11, 26, 6, 47, 30, 0, time.UTC)

func devImage(name string, created int, state lifecycle.State, labels map[string]string) lifecycle.Image {
	return lifecycle.Image{
		Name: name, ID: uint64(created), Project: "acme-dev", Family: "app-nginx",
		CreatedAt: time.Date(2026, 11, created, 0, 0, 0, 0, time.UTC), Status: lifecycle.StatusReady,
		Deprecation: lifecycle.Deprecation{State: state}, Labels: labels, Architecture: "X86_64", DiskSizeGB: 20,
		SelfLink: lifecycle.ImageRef{Project: "acme-dev", Name: name}.SelfLink(),
	}
}

// devLineage is what a dev image built on a base image and released in dev
// carries; its parent project is left implicit (the dev project).
var devLineage = map[string]string{
	"imagefamily-parent-image":  "base-debian-12-v3",
	"imagefamily-parent-family": "base-debian-12",
	"imagefamily-os":            "debian-12",
	"imagefamily-software":      "nginx",
	"imagefamily-version":       "1-24-0",
	"imagefamily-released-at":   "20261120t000000z",
	"imagefamily-rotated-at":    "20261121t000000z",
	"team":                      "web",
}

func devFake() *gcetest.Fake {
	obsolete := devImage("app-nginx-v1", 1, lifecycle.StateObsolete, nil)
	obsolete.Deprecation.Replacement = "projects/acme-dev/global/images/app-nginx-v2"
	deprecated := devImage("app-nginx-v3", 3, lifecycle.StateDeprecated, devLineage)
	deprecated.Deprecation.Replacement = "projects/acme-dev/global/images/app-nginx-v2"
	return gcetest.New(
		obsolete,
		devImage("app-nginx-v2", 2, "", devLineage),
		deprecated,
		devImage("app-nginx-v0", 0, lifecycle.StateDeleted, nil),
	)
}

type run struct {
	fake   *gcetest.Fake
	art    packersdk.Artifact
	err    error
	out    string
	errOut string
}

func promote(t *testing.T, f *gcetest.Fake, raw map[string]interface{}) run {
	t.Helper()
	b := &Builder{
		newClient: func(context.Context, pluginconfig.Auth) (gce.Compute, error) { return f, nil },
		now:       func() time.Time { return buildTime },
	}
	if _, _, err := b.Prepare(raw); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	var out, errOut bytes.Buffer
	art, err := b.Run(context.Background(), &packersdk.BasicUi{Writer: &out, ErrorWriter: &errOut}, nil)
	return run{fake: f, art: art, err: err, out: out.String(), errOut: errOut.String()}
}

func TestRunPromotesTheFamilyHeadIntoTheDestinationWithOneInsert(t *testing.T) {
	r := promote(t, devFake(), valid())
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := []string{
		"GetFromFamily(acme-dev, app-nginx)",
		"GetImage(acme-prod, app-nginx-v1)",
		"InsertImageFromImage(acme-prod, app-nginx-v1, projects/acme-dev/global/images/app-nginx-v2)",
	}
	if got := r.fake.CallStrings(); !slices.Equal(got, want) {
		t.Errorf("calls:\n got %q\nwant %q", got, want)
	}
	img, ok := r.fake.Image("acme-prod", "app-nginx-v1")
	if !ok {
		t.Fatal("no image in acme-prod")
	}
	wantLabels := map[string]string{
		"imagefamily-promoted-from":         "app-nginx-v2",
		"imagefamily-promoted-from-project": "acme-dev",
		"imagefamily-parent-image":          "base-debian-12-v3",
		"imagefamily-parent-family":         "base-debian-12",
		"imagefamily-parent-project":        "acme-dev", // was implicit in dev; explicit in prod
		"imagefamily-os":                    "debian-12",
		"imagefamily-software":              "nginx",
		"imagefamily-version":               "1-24-0",
	}
	if !maps.Equal(img.Labels, wantLabels) {
		t.Errorf("labels:\n got %v\nwant %v", img.Labels, wantLabels)
	}
	if img.Family != "" || img.Architecture != "X86_64" {
		t.Errorf("family %q, architecture %q: want no family and the source's architecture", img.Family, img.Architecture)
	}
	if src, _ := r.fake.Image("acme-dev", "app-nginx-v2"); !maps.Equal(src.Labels, devLineage) || src.State() != lifecycle.StateActive {
		t.Errorf("the source changed: %+v", src)
	}
}

func TestRunPromotesAPinnedImageWithNamingLabelsAndFamily(t *testing.T) {
	r := promote(t, devFake(), with("source_family", nil, "source_project_id", nil,
		"source_image", "https://compute.googleapis.com/compute/v1/projects/acme-dev/global/images/app-nginx-v2",
		"image_name", nil, "naming", map[string]interface{}{"os": "debian-12", "software": "nginx", "version": "1.24.1"},
		"family", "app-nginx", "labels", map[string]interface{}{"team": "web", "env": "prod"}))
	if r.err != nil {
		t.Fatal(r.err)
	}
	const name = "debian-12-nginx-1-24-1-v20261126t064730"
	want := []string{
		"GetImage(acme-dev, app-nginx-v2)",
		"GetImage(acme-prod, " + name + ")",
		// The copy goes into family app-nginx: its lease first (the family
		// is empty in prod, so there is no image to hold it).
		"ListImages(acme-prod, (family = \"app-nginx\") (labels.imagefamily-lease:*))",
		"GetFromFamily(acme-prod, app-nginx)",
		"ListFamily(acme-prod, app-nginx)",
		"InsertImageFromImage(acme-prod, " + name + ", projects/acme-dev/global/images/app-nginx-v2)",
	}
	if got := r.fake.CallStrings(); !slices.Equal(got, want) {
		t.Errorf("calls:\n got %q\nwant %q", got, want)
	}
	img, _ := r.fake.Image("acme-prod", name)
	if img.Family != "app-nginx" || img.Labels["imagefamily-version"] != "1-24-1" || img.Labels["team"] != "web" || img.Labels["env"] != "prod" {
		t.Errorf("family %q, labels %v", img.Family, img.Labels)
	}
}

func TestRunRefusesObsoleteAndDeletedSourcesWithTheReason(t *testing.T) {
	tests := []struct{ source, want string }{
		{"app-nginx-v1", "refusing to promote: image projects/acme-dev/global/images/app-nginx-v1 is OBSOLETE: Compute Engine refuses new uses of OBSOLETE and DELETED images (its replacement is projects/acme-dev/global/images/app-nginx-v2)"},
		{"app-nginx-v0", "refusing to promote: image projects/acme-dev/global/images/app-nginx-v0 is DELETED: Compute Engine refuses new uses of OBSOLETE and DELETED images"},
		{"app-nginx-v9", "source_image projects/acme-dev/global/images/app-nginx-v9 was not found (images.get projects/acme-dev/global/images/app-nginx-v9: The resource 'projects/acme-dev/global/images/app-nginx-v9' was not found (404 notFound))"},
	}
	for _, tc := range tests {
		t.Run(tc.source, func(t *testing.T) {
			r := promote(t, devFake(), with("source_family", nil, "source_image", tc.source))
			if r.err == nil || r.err.Error() != tc.want {
				t.Errorf("error:\n got %v\nwant %s", r.err, tc.want)
			}
			if got := r.fake.CallStrings(); !slices.Equal(got, []string{"GetImage(acme-dev, " + tc.source + ")", "Close()"}) {
				t.Errorf("calls after a refusal: %q", got)
			}
		})
	}
}

func TestRunWarnsAndPromotesADeprecatedSource(t *testing.T) {
	r := promote(t, devFake(), with("source_family", nil, "source_image", "app-nginx-v3"))
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := "Warning: source image projects/acme-dev/global/images/app-nginx-v3 is DEPRECATED (its replacement is projects/acme-dev/global/images/app-nginx-v2): promoting it anyway, as Compute Engine only warns on new uses of a DEPRECATED image"
	if !strings.Contains(r.errOut, want) {
		t.Errorf("error output %q does not warn: %s", r.errOut, want)
	}
	if _, ok := r.fake.Image("acme-prod", "app-nginx-v1"); !ok {
		t.Error("the deprecated source was not promoted")
	}
}

func TestRunRefusesAnExistingDestinationUnlessForced(t *testing.T) {
	existing := devImage("app-nginx-v1", 5, "", map[string]string{"old": "yes"})
	existing.Project, existing.Family = "acme-prod", ""

	f := devFake()
	f.Put(existing)
	r := promote(t, f, valid())
	want := "image app-nginx-v1 already exists in project acme-prod: run packer build -force to delete it and promote again, or choose another name"
	if r.err == nil || r.err.Error() != want {
		t.Errorf("without -force:\n got %v\nwant %s", r.err, want)
	}
	if img, _ := f.Image("acme-prod", "app-nginx-v1"); img.Labels["old"] != "yes" {
		t.Error("the existing image was changed without -force")
	}

	f = devFake()
	f.Put(existing)
	r = promote(t, f, with("packer_force", true))
	if r.err != nil {
		t.Fatal(r.err)
	}
	wantCalls := []string{
		"GetFromFamily(acme-dev, app-nginx)",
		"GetImage(acme-prod, app-nginx-v1)",
		"ScanImageUses(acme-prod)", // nothing may use what -force deletes
		"DeleteImage(acme-prod, app-nginx-v1)",
		"InsertImageFromImage(acme-prod, app-nginx-v1, projects/acme-dev/global/images/app-nginx-v2)",
	}
	if got := f.CallStrings(); !slices.Equal(got, wantCalls) {
		t.Errorf("calls with -force:\n got %q\nwant %q", got, wantCalls)
	}
	if img, _ := f.Image("acme-prod", "app-nginx-v1"); img.Labels["old"] != "" || img.Labels["imagefamily-promoted-from"] != "app-nginx-v2" {
		t.Errorf("with -force the image was not replaced: labels %v", img.Labels)
	}
}

func TestForceNeverDeletesADestinationThePolicyProtects(t *testing.T) {
	prod := func(name string, created int, family string, labels map[string]string) lifecycle.Image {
		img := devImage(name, created, "", labels)
		img.Project, img.Family = "acme-prod", family
		return img
	}
	tests := []struct {
		name   string
		images []lifecycle.Image
		uses   gce.ImageUses
		want   string
	}{
		{"the protect label", []lifecycle.Image{prod("app-nginx-v1", 5, "", map[string]string{"imagefamily-protect": "true"})}, nil,
			`the protect label imagefamily-protect="true"`},
		{"the head of its family", []lifecycle.Image{prod("app-nginx-v1", 5, "app-prod", nil)}, nil,
			"it is the head of family app-prod (getFromFamily resolves to it)"},
		{"a warm rollback target", []lifecycle.Image{prod("app-nginx-v1", 5, "app-prod", nil), prod("app-nginx-v9", 9, "app-prod", nil)}, nil,
			"one of the 2 newest ACTIVE images of family app-prod kept for rollback (keep_active)"},
		{"used by an instance template", []lifecycle.Image{prod("app-nginx-v1", 5, "", nil)},
			gce.ImageUses{{Project: "acme-prod", Name: "app-nginx-v1"}: {{Kind: lifecycle.UseInstanceTemplate, Project: "acme-prod", Name: "web"}}},
			"it is in use by instance template acme-prod/web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := devFake()
			for _, img := range tt.images {
				f.Put(img)
			}
			if tt.uses != nil {
				f.Uses = tt.uses
			}
			before, _ := f.Image("acme-prod", "app-nginx-v1")
			r := promote(t, f, with("packer_force", true))
			if r.err == nil || !strings.Contains(r.err.Error(), "refusing to replace image projects/acme-prod/global/images/app-nginx-v1 with packer build -force") ||
				!strings.Contains(r.err.Error(), tt.want) {
				t.Fatalf("error = %v, want a refusal naming the image and %q", r.err, tt.want)
			}
			for _, c := range f.CallStrings() {
				if strings.HasPrefix(c, "DeleteImage(") || strings.HasPrefix(c, "InsertImageFromImage(") {
					t.Errorf("%s sent for a protected destination", c)
				}
			}
			if after, ok := f.Image("acme-prod", "app-nginx-v1"); !ok || after.ID != before.ID {
				t.Error("the protected image was replaced")
			}
		})
	}
}

func TestRunRefusesToReplaceTheSourceItself(t *testing.T) {
	r := promote(t, devFake(), with("project_id", "acme-dev", "image_name", "app-nginx-v2", "packer_force", true))
	want := "the destination projects/acme-dev/global/images/app-nginx-v2 is the source image itself: choose another image_name or project_id"
	if r.err == nil || r.err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", r.err, want)
	}
}

func TestRunReportsAFailedInsert(t *testing.T) {
	f := devFake()
	f.Fail("InsertImageFromImage", &gce.Error{Kind: gce.ErrQuota, Method: "images.insert", Code: 429, Reason: "rateLimitExceeded", Message: "Quota exceeded", Attempts: 6})
	r := promote(t, f, valid())
	want := "creating image projects/acme-prod/global/images/app-nginx-v1 from projects/acme-dev/global/images/app-nginx-v2: images.insert: Quota exceeded (429 rateLimitExceeded) after 6 attempts"
	if r.err == nil || r.err.Error() != want || !errors.Is(r.err, gce.ErrQuota) {
		t.Errorf("error:\n got %v\nwant %s", r.err, want)
	}
}

func TestArtifactLooksLikeGooglecomputesAndDestroyDeletesTheCopy(t *testing.T) {
	r := promote(t, devFake(), valid())
	if r.err != nil {
		t.Fatal(r.err)
	}
	a := r.art
	if a.BuilderId() != "immutable-infra.imagefamily-promote" || a.Id() != "app-nginx-v1" || a.Files() != nil {
		t.Errorf("BuilderId %q, Id %q, Files %v", a.BuilderId(), a.Id(), a.Files())
	}
	if want := "A disk image was promoted to the 'acme-prod' project: app-nginx-v1 (from projects/acme-dev/global/images/app-nginx-v2)"; a.String() != want {
		t.Errorf("String() = %q", a.String())
	}
	for key, want := range map[string]interface{}{
		"ImageName":     "app-nginx-v1",
		"ProjectId":     "acme-prod",
		"ImageSelfLink": "https://www.googleapis.com/compute/v1/projects/acme-prod/global/images/app-nginx-v1",
		"SourceImage":   "https://www.googleapis.com/compute/v1/projects/acme-dev/global/images/app-nginx-v2",
		"generated_data": map[string]interface{}{
			"SourceImageName":      "app-nginx-v2",
			"SourceImageProjectId": "acme-dev",
			"SourceImageSelfLink":  "https://www.googleapis.com/compute/v1/projects/acme-dev/global/images/app-nginx-v2",
		},
		"NoSuchKey": nil,
	} {
		if got := a.State(key); !reflect.DeepEqual(got, want) {
			t.Errorf("State(%q) = %#v, want %#v", key, got, want)
		}
	}
	par, ok := a.State(registryimage.ArtifactStateURI).(*registryimage.Image)
	if !ok || par.ImageID != "app-nginx-v1" || par.ProviderName != "gce" || par.SourceImageID != "app-nginx-v2" ||
		par.Labels["project_id"] != "acme-prod" || par.Labels["source_project_id"] != "acme-dev" {
		t.Errorf("HCP Packer metadata = %+v", par)
	}

	if err := a.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.fake.Image("acme-prod", "app-nginx-v1"); ok {
		t.Error("Destroy left the image")
	}
	if calls := r.fake.CallStrings(); calls[len(calls)-1] != "DeleteImage(acme-prod, app-nginx-v1)" {
		t.Errorf("last call %q", calls[len(calls)-1])
	}
}

func TestPromotedLabelsCarryContentLineageOnly(t *testing.T) {
	src := devImage("app-v2", 2, "", map[string]string{
		"imagefamily-parent-image":   "base-v3",
		"imagefamily-parent-project": "acme-base",
		"imagefamily-rollback-of":    "app-v1",
		"imagefamily-revoked-reason": "cve",
		"imagefamily-promoted-from":  "app-v2-dev",
		"team":                       "web",
	})
	got, err := promotedLabels(src, nil, map[string]string{"env": "prod"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"imagefamily-parent-image":          "base-v3",
		"imagefamily-parent-project":        "acme-base", // an explicit project is kept
		"imagefamily-promoted-from":         "app-v2",    // the latest hop replaces the earlier
		"imagefamily-promoted-from-project": "acme-dev",
		"env":                               "prod",
	}
	if !maps.Equal(got, want) {
		t.Errorf("labels:\n got %v\nwant %v", got, want)
	}
}
