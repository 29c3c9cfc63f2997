package apply

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce/gcetest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

func TestGatherReadsFamilyAndUses(t *testing.T) {
	fake := gcetest.New(family("p", 3)...)
	fake.Uses = gce.ImageUses{
		{Project: "p", Name: "web-v1"}:            {{Kind: lifecycle.UseInstanceTemplate, Project: "p", Name: "tpl-a"}},
		{Project: "p", Name: "web-v2"}:            {{Kind: lifecycle.UseInstance, Project: "other", Name: "vm-1", Zone: "europe-west1-b"}},
		{Project: "p", Name: "web", Family: true}: {{Kind: lifecycle.UseInstanceTemplate, Project: "p", Name: "tpl-follow"}},
	}
	tests := []struct {
		name       string
		inUse      []string
		checkInUse bool
		wantScan   string // "" for no scan
		wantUsedBy map[string]int
		wantFamily int
	}{
		{"no in-use check reads the family only", nil, false, "", map[string]int{}, 0},
		{"scans the image project", nil, true, "ScanImageUses(p)", map[string]int{"web-v1": 1}, 1},
		{"scans listed projects once each", []string{"other", "p", "", "other"}, true, "ScanImageUses(p,other)", map[string]int{"web-v1": 1, "web-v2": 1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(fake.Calls())
			s, err := Gather(context.Background(), fake, "p", "web", tt.inUse, tt.checkInUse)
			if err != nil {
				t.Fatal(err)
			}
			calls := fake.CallStrings()[before:]
			// The family, its head as getFromFamily says, its orphans, and
			// the scan when asked: nothing else.
			want := []string{`GetFromFamily(p, web)`, `ListFamily(p, web)`, `ListImages(p, labels.imagefamily-releasing-into = "web")`}
			if tt.wantScan != "" {
				want = append(want, tt.wantScan)
			}
			slices.Sort(want)
			if got := slices.Sorted(slices.Values(calls)); !slices.Equal(got, want) {
				t.Errorf("calls = %v, want %v", got, want)
			}
			if len(s.Images) != 3 || s.Project != "p" || s.Family != "web" {
				t.Errorf("snapshot = %+v", s)
			}
			for _, img := range s.Images {
				if got := len(s.UsesOf(img)); got != tt.wantUsedBy[img.Name] {
					t.Errorf("%s used by %d, want %d", img.Name, got, tt.wantUsedBy[img.Name])
				}
			}
			if len(s.FamilyUses) != tt.wantFamily {
				t.Errorf("family uses = %v, want %d", s.FamilyUses, tt.wantFamily)
			}
		})
	}
}

func TestGatherFailsWhenTheUseScanFails(t *testing.T) {
	fake := gcetest.New(family("p", 3)...)
	fake.Fail("ScanImageUses", &gce.Error{Kind: gce.ErrPermissionDenied, Method: "instances.aggregatedList", Code: 403})
	_, err := Gather(context.Background(), fake, "p", "web", nil, true)
	if !errors.Is(err, gce.ErrPermissionDenied) {
		t.Fatalf("err = %v, want the scan's permission error (never an empty use list)", err)
	}
}

func TestGatherFailsWhenTheFamilyCannotBeRead(t *testing.T) {
	fake := gcetest.New()
	fake.Fail("ListFamily", &gce.Error{Kind: gce.ErrNotFound, Method: "images.list", Code: 404})
	if _, err := Gather(context.Background(), fake, "p", "web", nil, false); !errors.Is(err, gce.ErrNotFound) {
		t.Fatalf("err = %v, want not found", err)
	}
}
