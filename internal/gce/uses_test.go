package gce

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

func raw(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func template(name, region, sourceImage string, extraDisks ...map[string]any) map[string]any {
	disks := []map[string]any{{"boot": true, "initializeParams": map[string]any{"sourceImage": sourceImage}}}
	disks = append(disks, extraDisks...)
	t := map[string]any{"name": name, "properties": map[string]any{"machineType": "e2-small", "disks": disks}}
	if region != "" {
		t["region"] = "https://www.googleapis.com/compute/v1/projects/apps/regions/" + region
	}
	return t
}

func TestScanImageUsesFindsTemplatesInstancesAndFamilyFollowers(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	gcloudURL := h.env.URL + "/compute/v1/projects/acme/global/images/web-v3" // gcloud writes its endpoint's host
	zone := "https://www.googleapis.com/compute/v1/projects/apps/zones/us-central1-a"
	state := emulator.State{Projects: map[string]emulator.ProjectState{
		"apps": {
			InstanceTemplates: []json.RawMessage{
				raw(t, template("web-tpl", "", "https://www.googleapis.com/compute/v1/projects/acme/global/images/web-v1")),
				raw(t, template("follow-tpl", "", "projects/acme/global/images/family/web")),
			},
			RegionInstanceTemplates: []json.RawMessage{
				raw(t, template("web-rtpl", "us-central1", "projects/acme/global/images/web-v2")),
			},
			Disks: []json.RawMessage{
				raw(t, map[string]any{"name": "vm-1", "zone": zone, "sizeGb": "10", "sourceImage": gcloudURL}),
				raw(t, map[string]any{"name": "data-1", "zone": zone, "sizeGb": "10",
					"sourceImage": "https://www.googleapis.com/compute/v1/projects/acme/global/images/web-v4"}),
			},
			Instances: []json.RawMessage{
				raw(t, map[string]any{"name": "vm-1", "zone": zone, "machineType": zone + "/machineTypes/e2-small",
					"disks": []map[string]any{
						{"boot": true, "source": zone + "/disks/vm-1", "deviceName": "vm-1"},
						{"boot": false, "source": zone + "/disks/data-1", "deviceName": "data-1"},
					}}),
			},
		},
		"acme": {
			InstanceTemplates: []json.RawMessage{raw(t, template("local-tpl", "", "global/images/web-v5"))},
		},
	}}
	if err := h.env.Server.LoadState(state); err != nil {
		t.Fatalf("fixtures: %v", err)
	}

	uses, err := h.c.ScanImageUses(t.Context(), []string{"apps", "acme"})
	if err != nil {
		t.Fatal(err)
	}
	img := func(name string) lifecycle.ImageRef { return lifecycle.ImageRef{Project: "acme", Name: name} }
	want := map[lifecycle.ImageRef][]lifecycle.Use{
		img("web-v1"): {{Kind: lifecycle.UseInstanceTemplate, Project: "apps", Name: "web-tpl"}},
		img("web-v2"): {{Kind: lifecycle.UseRegionInstanceTemplate, Project: "apps", Name: "web-rtpl", Region: "us-central1"}},
		img("web-v3"): {{Kind: lifecycle.UseInstance, Project: "apps", Name: "vm-1", Zone: "us-central1-a"}},
		img("web-v5"): {{Kind: lifecycle.UseInstanceTemplate, Project: "acme", Name: "local-tpl"}},
		{Project: "acme", Name: "web", Family: true}: {{Kind: lifecycle.UseInstanceTemplate, Project: "apps", Name: "follow-tpl"}},
	}
	if len(uses) != len(want) {
		t.Errorf("found uses of %d references, want %d: %v", len(uses), len(want), uses)
	}
	for ref, w := range want {
		if !slices.Equal(uses[ref], w) {
			t.Errorf("uses of %s = %v, want %v", ref, uses[ref], w)
		}
	}
	if _, ok := uses[img("web-v4")]; ok {
		t.Errorf("a data disk counted as a use: %v", uses[img("web-v4")])
	}

	// Into a family snapshot: the family follower pins the head.
	snap := lifecycle.Snapshot{Project: "acme", Family: "web"}
	if err := uses.AddTo(&snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.FamilyUses) != 1 || snap.FamilyUses[0].Name != "follow-tpl" {
		t.Errorf("snapshot family uses = %v, want follow-tpl", snap.FamilyUses)
	}
	if got := snap.UsesOf(lifecycle.Image{Project: "acme", Name: "web-v3"}); len(got) != 1 || got[0].Name != "vm-1" {
		t.Errorf("snapshot uses of web-v3 = %v, want vm-1", got)
	}
}

func TestScanImageUsesPagesThroughAggregatedLists(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	var tpls []json.RawMessage
	for i := range 501 {
		tpls = append(tpls, raw(t, template(fmt.Sprintf("tpl-%03d", i), "", "projects/acme/global/images/web-v1")))
	}
	if err := h.env.Server.LoadState(emulator.State{Projects: map[string]emulator.ProjectState{"bulk": {InstanceTemplates: tpls}}}); err != nil {
		t.Fatal(err)
	}
	h.rec.reset()
	uses, err := h.c.ScanImageUses(t.Context(), []string{"bulk"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(uses[lifecycle.ImageRef{Project: "acme", Name: "web-v1"}]); n != 501 {
		t.Errorf("found %d template uses, want 501", n)
	}
	if n := len(h.rec.matching("GET", "/aggregated/instanceTemplates")); n != 2 {
		t.Errorf("%d template listing calls for 501 templates, want 2", n)
	}
	for _, r := range h.rec.sent {
		if r.Query["maxResults"] != "500" {
			t.Errorf("%v sent maxResults=%q, want 500", r, r.Query["maxResults"])
		}
	}
}

// The three listings of a scan do not depend on each other: they run at
// once, so a scan costs its longest listing, not the sum of all three.
func TestScanImageUsesListsConcurrently(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	zone := "https://www.googleapis.com/compute/v1/projects/apps/zones/us-central1-a"
	if err := h.env.Server.LoadState(emulator.State{Projects: map[string]emulator.ProjectState{"apps": {
		InstanceTemplates: []json.RawMessage{raw(t, template("web-tpl", "", "projects/acme/global/images/web-v1"))},
		Disks:             []json.RawMessage{raw(t, map[string]any{"name": "vm-1", "zone": zone, "sourceImage": "projects/acme/global/images/web-v2"})},
		Instances: []json.RawMessage{raw(t, map[string]any{"name": "vm-1", "zone": zone, "machineType": zone + "/machineTypes/e2-small",
			"disks": []map[string]any{{"boot": true, "source": zone + "/disks/vm-1"}}})},
	}}}); err != nil {
		t.Fatal(err)
	}
	// Each of the three listings is held until all three have been sent:
	// listings read one after the other would never get past the first.
	const listings = 3
	var (
		mu      sync.Mutex
		arrived int
		all     = make(chan struct{})
	)
	h.rec.intercept = func(_ int, req *http.Request, base http.RoundTripper) (*http.Response, error) {
		if !strings.Contains(req.URL.Path, "/aggregated/") {
			return base.RoundTrip(req)
		}
		mu.Lock()
		if arrived++; arrived == listings {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
			return base.RoundTrip(req)
		case <-time.After(10 * time.Second):
			return nil, errors.New("the other listings were never sent while this one was in flight")
		}
	}
	uses, err := h.c.ScanImageUses(t.Context(), []string{"apps"})
	if err != nil {
		t.Fatalf("the three listings did not run at once: %v", err)
	}
	if len(uses) != 2 {
		t.Errorf("uses = %v, want web-v1 (template) and web-v2 (instance)", uses)
	}
}

func TestScanImageUsesFailsWhenAnyListingFails(t *testing.T) {
	h := newHarness(t, emulator.Options{Faults: faults(t, "disks.aggregatedList=403:1")})
	_, err := h.c.ScanImageUses(t.Context(), []string{"apps", "other"})
	if !errors.Is(err, ErrPermissionDenied) || !strings.Contains(err.Error(), "disks.aggregatedList") {
		t.Fatalf("err = %v, want the disks listing's permission error", err)
	}
}

func TestScanImageUsesJoinsBootDisksWrittenInAnyAPIVersionOrHost(t *testing.T) {
	// gcloud beta ... --format=json writes /compute/beta/ URLs; a fixture
	// captured that way must still join the instance to its disk.
	tests := []struct{ name, source string }{
		{"beta", "https://www.googleapis.com/compute/beta/projects/apps/zones/us-central1-a/disks/d1"},
		{"alpha on another host", "https://compute.googleapis.com/compute/alpha/projects/apps/zones/us-central1-a/disks/d1"},
		{"relative", "projects/apps/zones/us-central1-a/disks/d1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, emulator.Options{})
			zone := "https://www.googleapis.com/compute/v1/projects/apps/zones/us-central1-a"
			state := emulator.State{Projects: map[string]emulator.ProjectState{"apps": {
				Disks: []json.RawMessage{raw(t, map[string]any{"name": "d1", "zone": zone, "sizeGb": "10",
					"sourceImage": "https://www.googleapis.com/compute/v1/projects/acme/global/images/web-v1"})},
				Instances: []json.RawMessage{raw(t, map[string]any{"name": "vm", "zone": zone, "machineType": zone + "/machineTypes/e2-small",
					"disks": []map[string]any{{"boot": true, "source": tt.source}}})},
			}}}
			if err := h.env.Server.LoadState(state); err != nil {
				t.Fatalf("fixtures: %v", err)
			}
			uses, err := h.c.ScanImageUses(t.Context(), []string{"apps"})
			if err != nil {
				t.Fatal(err)
			}
			got := uses[lifecycle.ImageRef{Project: "acme", Name: "web-v1"}]
			if len(got) != 1 || got[0].Name != "vm" {
				t.Fatalf("uses of web-v1 = %v, want the instance vm", got)
			}
		})
	}
}
