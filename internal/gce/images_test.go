package gce

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

func TestListFamilyReads1200ImagesInThreeListCalls(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	for i := range 1200 {
		h.putImage(t, "acme", fmt.Sprintf("web-%04d", i), "web", nil)
	}
	for i := range 30 {
		h.putImage(t, "acme", fmt.Sprintf("db-%04d", i), "db", nil)
	}
	h.rec.reset()

	imgs, err := h.c.ListFamily(t.Context(), "acme", "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1200 {
		t.Fatalf("ListFamily returned %d images, want 1200", len(imgs))
	}
	names := map[string]bool{}
	for _, img := range imgs {
		if img.Family != "web" || img.Project != "acme" {
			t.Fatalf("image %+v is not acme's web", img)
		}
		names[img.Name] = true
	}
	if len(names) != 1200 {
		t.Fatalf("ListFamily returned %d distinct images, want 1200", len(names))
	}
	lists := h.rec.matching("GET", "/projects/acme/global/images")
	if len(lists) != 3 || len(h.rec.sent) != 3 {
		t.Fatalf("ListFamily made %d list calls (%d requests), want 3 and nothing else: %v", len(lists), len(h.rec.sent), h.rec.sent)
	}
	for _, l := range lists {
		if l.Query["maxResults"] != "500" || l.Query["filter"] != `family = "web"` {
			t.Errorf("list call %v: maxResults=%q filter=%q, want 500 and family = \"web\"", l, l.Query["maxResults"], l.Query["filter"])
		}
	}
}

func TestListImagesPassesTheFilterAndReportsABadOne(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.putImage(t, "acme", "web-1", "web", map[string]string{"team": "web"})
	h.putImage(t, "acme", "db-1", "db", map[string]string{"team": "data"})

	imgs, err := h.c.ListImages(t.Context(), "acme", `labels.team = "data"`)
	if err != nil || len(imgs) != 1 || imgs[0].Name != "db-1" {
		t.Fatalf("ListImages(labels.team = data) = %v, %v; want db-1", imgs, err)
	}
	all, err := h.c.ListImages(t.Context(), "acme", "")
	if err != nil || len(all) != 2 {
		t.Fatalf("ListImages(all) = %d images, %v; want 2", len(all), err)
	}
	_, err = h.c.ListImages(t.Context(), "acme", "family = (")
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("ListImages with a broken filter: %v, want ErrInvalid", err)
	}
}

func TestReadsConvertImagesToTheDomain(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	created := time.Date(2026, 11, 1, 6, 47, 30, 123e6, time.UTC)
	obsolete := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	fixtures := []*computepb.Image{
		{Name: proto.String("web-1"), Family: proto.String("web"), CreationTimestamp: proto.String("2026-10-01T00:00:00.000Z")},
		{Name: proto.String("web-2"), Family: proto.String("web"), CreationTimestamp: proto.String(formatTime(created)),
			Labels: map[string]string{"team": "web"}, Architecture: proto.String("ARM64"), DiskSizeGb: proto.Int64(20)},
		{Name: proto.String("web-3"), Family: proto.String("web"), CreationTimestamp: proto.String("2026-11-02T00:00:00.000Z"),
			Deprecated: &computepb.DeprecationStatus{State: proto.String("DEPRECATED"),
				Replacement: proto.String("https://www.googleapis.com/compute/v1/projects/acme/global/images/web-2"),
				Obsolete:    proto.String(formatTime(obsolete))}},
	}
	for _, f := range fixtures {
		if err := h.env.Server.PutImage("acme", f); err != nil {
			t.Fatal(err)
		}
	}

	img, err := h.c.GetImage(t.Context(), "acme", "web-2")
	if err != nil {
		t.Fatal(err)
	}
	if img.Name != "web-2" || img.Project != "acme" || img.Family != "web" || !img.CreatedAt.Equal(created) ||
		img.Labels["team"] != "web" || img.Architecture != "ARM64" || img.DiskSizeGB != 20 || img.ID == 0 ||
		img.Status != "READY" || img.State() != lifecycle.StateActive ||
		img.SelfLink != "https://www.googleapis.com/compute/v1/projects/acme/global/images/web-2" {
		t.Errorf("GetImage(web-2) = %+v", img)
	}

	dep, err := h.c.GetImage(t.Context(), "acme", "web-3")
	if err != nil {
		t.Fatal(err)
	}
	if dep.State() != lifecycle.StateDeprecated || dep.Deprecation.Obsolete == nil || !dep.Deprecation.Obsolete.Equal(obsolete) ||
		dep.Deprecation.Deprecated != nil || dep.Deprecation.Replacement == "" {
		t.Errorf("GetImage(web-3).Deprecation = %+v", dep.Deprecation)
	}

	// web-3 is newer but deprecated: the family points to web-2.
	head, err := h.c.GetFromFamily(t.Context(), "acme", "web")
	if err != nil || head.Name != "web-2" {
		t.Errorf("GetFromFamily(web) = %s, %v; want web-2", head.Name, err)
	}
	zonal, err := h.c.GetFromFamilyZonal(t.Context(), "acme", "us-central1-a", "web")
	if err != nil || zonal.Name != "web-2" {
		t.Errorf("GetFromFamilyZonal(web) = %s, %v; want web-2", zonal.Name, err)
	}
	_, err = h.c.GetFromFamily(t.Context(), "acme", "nothing")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("GetFromFamily(empty family) = %v, want ErrNotFound", err)
	}
}

func TestInsertImageFromImageCreatesItOnceAndReturnsIt(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.putImage(t, "base", "debian-12-v1", "debian-12", nil)
	h.rec.reset()

	spec := ImageSpec{
		Name: "web-v1", SourceImage: "https://compute.googleapis.com/compute/v1/projects/base/global/images/debian-12-v1",
		Family: "web", Description: "copy", Labels: map[string]string{"team": "web"}, StorageLocations: []string{"us"},
	}
	img, err := h.c.InsertImageFromImage(t.Context(), "acme", spec)
	if err != nil {
		t.Fatal(err)
	}
	if img.Name != "web-v1" || img.Family != "web" || img.Labels["team"] != "web" || !img.Ready() {
		t.Errorf("InsertImageFromImage returned %+v", img)
	}
	inserts := h.rec.matching("POST", "/projects/acme/global/images")
	if len(inserts) != 1 || inserts[0].Query["requestId"] == "" {
		t.Fatalf("insert calls = %v, want one with a requestId", inserts)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(inserts[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	if body["sourceImage"] != "projects/base/global/images/debian-12-v1" {
		t.Errorf("sourceImage sent as %v, want the normalised path", body["sourceImage"])
	}

	_, err = h.c.InsertImageFromImage(t.Context(), "acme", spec)
	var e *Error
	if !errors.Is(err, ErrAlreadyExists) || !errors.As(err, &e) || e.Message != "The resource 'projects/acme/global/images/web-v1' already exists" {
		t.Fatalf("second insert = %v, want ErrAlreadyExists with Google's message", err)
	}
}

func TestSetFamilyPatchesOnlyTheFamily(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.putImage(t, "acme", "web-v2", "", map[string]string{"team": "web"})
	h.rec.reset()

	if err := h.c.SetFamily(t.Context(), "acme", "web-v2", "web"); err != nil {
		t.Fatal(err)
	}
	patches := h.rec.matching("PATCH", "/global/images/web-v2")
	if len(patches) != 1 {
		t.Fatalf("patch calls = %v", patches)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(patches[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	if keys := slices.Sorted(maps.Keys(body)); !slices.Equal(keys, []string{"family"}) || body["family"] != "web" {
		t.Errorf("patch body = %s, want only family", patches[0].Body)
	}
	head, err := h.c.GetFromFamily(t.Context(), "acme", "web")
	if err != nil || head.Name != "web-v2" || head.Labels["team"] != "web" {
		t.Errorf("after SetFamily the family head is %+v, %v", head, err)
	}
}

func TestDeprecateWritesStateReplacementAndDates(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.putImage(t, "acme", "web-v1", "web", nil)
	h.putImage(t, "acme", "web-v2", "web", nil)
	at := time.Date(2026, 11, 26, 6, 47, 30, 0, time.UTC)
	obs, del := at.Add(168*time.Hour), at.Add(720*time.Hour)
	want := lifecycle.Deprecation{State: lifecycle.StateDeprecated, Replacement: "web-v2", Deprecated: &at, Obsolete: &obs, Deleted: &del}

	if err := h.c.Deprecate(t.Context(), "acme", "web-v1", want); err != nil {
		t.Fatal(err)
	}
	got, err := h.c.GetImage(t.Context(), "acme", "web-v1")
	if err != nil {
		t.Fatal(err)
	}
	d := got.Deprecation
	if d.State != lifecycle.StateDeprecated || d.Replacement != "https://www.googleapis.com/compute/v1/projects/acme/global/images/web-v2" ||
		!d.Deprecated.Equal(at) || !d.Obsolete.Equal(obs) || !d.Deleted.Equal(del) {
		t.Errorf("deprecation read back = %+v", d)
	}
	var body map[string]any
	dep := h.rec.matching("POST", "/web-v1/deprecate")
	if len(dep) != 1 || json.Unmarshal([]byte(dep[0].Body), &body) != nil || body["obsolete"] != "2026-12-03T06:47:30.000Z" {
		t.Errorf("deprecate body = %v, want RFC 3339 dates", dep)
	}
}

func TestDeleteImageRemovesItAndReportsAMissingOne(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.putImage(t, "acme", "web-v1", "web", nil)
	if err := h.c.DeleteImage(t.Context(), "acme", "web-v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.GetImage(t.Context(), "acme", "web-v1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete GetImage = %v, want ErrNotFound", err)
	}
	if err := h.c.DeleteImage(t.Context(), "acme", "web-v1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting a missing image = %v, want ErrNotFound", err)
	}
}
