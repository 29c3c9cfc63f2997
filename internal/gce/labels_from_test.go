package gce

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

func addLabel(k, v string) func(map[string]string) (map[string]string, error) {
	return func(cur map[string]string) (map[string]string, error) {
		out := maps.Clone(cur)
		out[k] = v
		return out, nil
	}
}

// A label write from an image as listed needs no images.get: the list
// carried the labels and their fingerprint.
func TestSetLabelsFromAListedImageReadsNothing(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.putImage(t, "acme", "web-v1", "web", map[string]string{"team": "web"})
	listed, err := h.c.ListFamily(t.Context(), "acme", "web")
	if err != nil || len(listed) != 1 || listed[0].LabelFingerprint == "" {
		t.Fatalf("ListFamily = %+v, %v; want one image with its label fingerprint", listed, err)
	}
	h.rec.reset()
	if err := h.c.SetLabelsFrom(t.Context(), listed[0], addLabel("stage", "prod")); err != nil {
		t.Fatal(err)
	}
	if gets := h.rec.matching("GET", "/global/images/web-v1"); len(gets) != 0 {
		t.Errorf("%d images.get calls, want none", len(gets))
	}
	if sets := h.rec.matching("POST", "/setLabels"); len(sets) != 1 {
		t.Errorf("%d setLabels calls, want 1", len(sets))
	}
	got, err := h.c.GetImage(t.Context(), "acme", "web-v1")
	if err != nil || got.Labels["team"] != "web" || got.Labels["stage"] != "prod" {
		t.Errorf("labels = %v, %v; want team and stage", got.Labels, err)
	}
}

// When someone changed the labels since the list, the fingerprint is stale:
// the write gets 412, and the labels are read and merged again, so both
// writers' labels survive.
func TestSetLabelsFromAStaleListingReadsAgain(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.putImage(t, "acme", "web-v1", "web", map[string]string{"team": "web"})
	listed, err := h.c.ListFamily(t.Context(), "acme", "web")
	if err != nil || len(listed) != 1 {
		t.Fatal(listed, err)
	}
	if err := h.c.setLabels(t.Context(), "acme", "web-v1", nil, addLabel("owner", "alice")); err != nil {
		t.Fatal(err)
	}
	h.rec.reset()
	if err := h.c.SetLabelsFrom(t.Context(), listed[0], addLabel("stage", "prod")); err != nil {
		t.Fatal(err)
	}
	if sets, gets := h.rec.matching("POST", "/setLabels"), h.rec.matching("GET", "/global/images/web-v1"); len(sets) != 2 || len(gets) != 1 {
		t.Errorf("%d setLabels and %d images.get, want 2 (the stale one refused) and 1", len(sets), len(gets))
	}
	got, err := h.c.GetImage(t.Context(), "acme", "web-v1")
	if err != nil || got.Labels["owner"] != "alice" || got.Labels["stage"] != "prod" || got.Labels["team"] != "web" {
		t.Errorf("labels = %v, %v; want every writer's", got.Labels, err)
	}
	// Without a fingerprint it is SetLabels: read, then write.
	img := listed[0]
	img.LabelFingerprint = ""
	h.rec.reset()
	if err := h.c.SetLabelsFrom(t.Context(), img, addLabel("x", "y")); err != nil {
		t.Fatal(err)
	}
	if gets := h.rec.matching("GET", "/global/images/web-v1"); len(gets) != 1 {
		t.Errorf("%d images.get without a fingerprint, want 1", len(gets))
	}
	img.Name = "nope"
	if err := h.c.SetLabelsFrom(t.Context(), img, addLabel("x", "y")); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("a missing image: %v, want ErrNotFound naming it", err)
	}
}
