package emulator_test

import (
	"encoding/json"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// A fixture captured with `gcloud beta compute instances describe` names
// the boot disk with a /compute/beta/ URL; the in-use scan joins instances
// to disks by the v1 URL instances.insert writes, so a fixture is
// normalised on load the same way.
func TestAFixtureInstancesDiskSourceIsNormalisedOnLoadInEverySpelling(t *testing.T) {
	const v1 = "https://www.googleapis.com/compute/v1/projects/" + proj + "/zones/us-central1-a/disks/"
	for _, tc := range []struct{ name, source string }{
		{"Beta", "https://www.googleapis.com/compute/beta/projects/" + proj + "/zones/us-central1-a/disks/d1"},
		{"Alpha", "https://compute.googleapis.com/compute/alpha/projects/" + proj + "/zones/us-central1-a/disks/d1"},
		{"OtherHost", "http://127.0.0.1:8085/compute/v1/projects/" + proj + "/zones/us-central1-a/disks/d1"},
		{"Path", "/compute/v1/projects/" + proj + "/zones/us-central1-a/disks/d1"},
		{"ProjectRelative", "projects/" + proj + "/zones/us-central1-a/disks/d1"},
		{"ZoneRelative", "zones/us-central1-a/disks/d1"},
		{"AlreadyCanonical", v1 + "d1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCompute(t, emulator.Options{})
			disk, _ := json.Marshal(map[string]any{"name": "d1", "zone": "us-central1-a", "sizeGb": "10",
				"sourceImage": "https://www.googleapis.com/compute/beta/projects/" + proj + "/global/images/web-v1",
				"users":       []string{"zones/us-central1-a/instances/vm"}})
			inst, _ := json.Marshal(map[string]any{"name": "vm", "zone": "us-central1-a", "machineType": "e2-small",
				"disks": []map[string]any{{"boot": true, "source": tc.source}}})
			if err := c.env.Server.LoadState(emulator.State{Projects: map[string]emulator.ProjectState{proj: {
				Disks: []json.RawMessage{disk}, Instances: []json.RawMessage{inst}}}}); err != nil {
				t.Fatal(err)
			}
			in, err := c.instances.Get(ctxT(t), &computepb.GetInstanceRequest{Project: proj, Zone: "us-central1-a", Instance: "vm"})
			if err != nil {
				t.Fatal(err)
			}
			if got := in.GetDisks()[0].GetSource(); got != v1+"d1" {
				t.Errorf("disks[0].source = %q, want %q", got, v1+"d1")
			}
			if got := in.GetMachineType(); got != "https://www.googleapis.com/compute/v1/projects/"+proj+"/zones/us-central1-a/machineTypes/e2-small" {
				t.Errorf("machineType = %q, want its v1 URL", got)
			}
			d, err := c.disks.Get(ctxT(t), &computepb.GetDiskRequest{Project: proj, Zone: "us-central1-a", Disk: "d1"})
			if err != nil {
				t.Fatal(err)
			}
			if got := d.GetSourceImage(); got != "https://www.googleapis.com/compute/v1/projects/"+proj+"/global/images/web-v1" {
				t.Errorf("disk sourceImage = %q, want its v1 URL", got)
			}
			if got := strings.Join(d.GetUsers(), ","); got != "https://www.googleapis.com/compute/v1/projects/"+proj+"/zones/us-central1-a/instances/vm" {
				t.Errorf("disk users = %q, want the v1 URL", got)
			}
		})
	}
}

// Images with equal creationTimestamps (only fixtures have them: the
// emulator's own are strictly increasing) are ordered by one rule that
// getFromFamily and orderBy=creationTimestamp desc share: the later
// timestamp, then the greater name, is newer.
func TestEqualCreationTimestampsAreOrderedByOneRuleEverywhere(t *testing.T) {
	c := start(t, emulator.Options{})
	const ts = "2026-11-20T10:00:00.000Z"
	for _, f := range []struct {
		name string
		id   uint64
		ts   string
	}{{"web-a", 900, ts}, {"web-b", 100, ts}, {"web-c", 500, "2026-11-19T10:00:00.000Z"}} {
		if err := c.env.Server.PutImage(proj, &computepb.Image{Name: proto.String(f.name), Id: proto.Uint64(f.id),
			Family: proto.String("web"), CreationTimestamp: proto.String(f.ts)}); err != nil {
			t.Fatal(err)
		}
	}
	head, err := c.images.GetFromFamily(ctxT(t), &computepb.GetFromFamilyImageRequest{Project: proj, Family: "web"})
	if err != nil {
		t.Fatal(err)
	}
	byAge := names(drain(t, c.images.List(ctxT(t), &computepb.ListImagesRequest{Project: proj, OrderBy: proto.String("creationTimestamp desc")})))
	if head.GetName() != "web-b" || strings.Join(byAge, ",") != "web-b,web-a,web-c" {
		t.Errorf("getFromFamily %s, by age %v; want web-b, then web-b,web-a,web-c", head.GetName(), byAge)
	}
	// Paging keeps the order across the tie.
	var paged []string
	req := &computepb.ListImagesRequest{Project: proj, OrderBy: proto.String("creationTimestamp desc"), MaxResults: proto.Uint32(1)}
	it := c.images.List(ctxT(t), req)
	paged = names(drain(t, it))
	if strings.Join(paged, ",") != "web-b,web-a,web-c" {
		t.Errorf("paged one at a time: %v", paged)
	}
}
