package gcetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

func TestFakeRecordsCallsAppliesMutationsAndReturnsScriptedErrors(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	f := New(
		lifecycle.Image{Project: "acme", Name: "web-v1", Family: "web", CreatedAt: t0},
		lifecycle.Image{Project: "acme", Name: "web-v2", Family: "web", CreatedAt: t0.Add(time.Hour)},
	)
	quota := &gce.Error{Kind: gce.ErrQuota, Method: "images.patch", Message: "Quota exceeded"}
	f.Fail("SetFamily", quota, nil)

	if err := f.SetFamily(ctx, "acme", "web-v1", "app"); !errors.Is(err, gce.ErrQuota) {
		t.Fatalf("first SetFamily = %v, want the scripted quota error", err)
	}
	if err := f.SetFamily(ctx, "acme", "web-v1", "app"); err != nil {
		t.Fatalf("second SetFamily = %v, want success (nil scripted)", err)
	}
	if err := f.SetLabelsFrom(ctx, lifecycle.Image{Project: "acme", Name: "web-v2"}, func(c map[string]string) (map[string]string, error) {
		c["team"] = "web"
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.Deprecate(ctx, "acme", "web-v2", lifecycle.Deprecation{State: lifecycle.StateDeprecated}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.GetFromFamily(ctx, "acme", "web"); !errors.Is(err, gce.ErrNotFound) {
		t.Fatalf("GetFromFamily with only a deprecated image = %v, want ErrNotFound", err)
	}
	if err := f.DeleteImage(ctx, "acme", "nope"); !errors.Is(err, gce.ErrNotFound) {
		t.Fatalf("DeleteImage(missing) = %v, want ErrNotFound", err)
	}
	img, _ := f.Image("acme", "web-v2")
	if img.Labels["team"] != "web" || img.State() != lifecycle.StateDeprecated {
		t.Errorf("web-v2 after mutations = %+v", img)
	}
	want := []string{
		"SetFamily(acme, web-v1, app)", "SetFamily(acme, web-v1, app)", "SetLabels(acme, web-v2)",
		"Deprecate(acme, web-v2, DEPRECATED)", "GetFromFamily(acme, web)", "DeleteImage(acme, nope)",
	}
	if got := f.CallStrings(); !slices.Equal(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
}
