package emulator_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
)

const zone = "us-central1-a"

// computeEnv bundles the REST clients of the non-image resources.
type computeEnv struct {
	env        *emulatortest.Env
	projects   *compute.ProjectsClient
	zones      *compute.ZonesClient
	machines   *compute.MachineTypesClient
	instances  *compute.InstancesClient
	disks      *compute.DisksClient
	templates  *compute.InstanceTemplatesClient
	rtemplates *compute.RegionInstanceTemplatesClient
}

func startCompute(t *testing.T, opts emulator.Options) *computeEnv {
	t.Helper()
	env := emulatortest.Start(t, opts)
	ctx, o := context.Background(), env.ClientOptions()
	c := &computeEnv{env: env}
	var err error
	closers := []func() error{}
	must := func(close func() error, e error) {
		if e != nil {
			t.Fatal(e)
		}
		closers = append(closers, close)
	}
	c.projects, err = compute.NewProjectsRESTClient(ctx, o...)
	must(func() error { return c.projects.Close() }, err)
	c.zones, err = compute.NewZonesRESTClient(ctx, o...)
	must(func() error { return c.zones.Close() }, err)
	c.machines, err = compute.NewMachineTypesRESTClient(ctx, o...)
	must(func() error { return c.machines.Close() }, err)
	c.instances, err = compute.NewInstancesRESTClient(ctx, o...)
	must(func() error { return c.instances.Close() }, err)
	c.disks, err = compute.NewDisksRESTClient(ctx, o...)
	must(func() error { return c.disks.Close() }, err)
	c.templates, err = compute.NewInstanceTemplatesRESTClient(ctx, o...)
	must(func() error { return c.templates.Close() }, err)
	c.rtemplates, err = compute.NewRegionInstanceTemplatesRESTClient(ctx, o...)
	must(func() error { return c.rtemplates.Close() }, err)
	t.Cleanup(func() {
		for _, close := range closers {
			_ = close()
		}
	})
	return c
}

// seed stores images in proj as fixtures, 10 GB unless they say otherwise.
func (c *computeEnv) seed(t *testing.T, imgs ...*computepb.Image) {
	t.Helper()
	for _, img := range imgs {
		if img.DiskSizeGb == nil {
			img.DiskSizeGb = proto.Int64(10)
		}
		if err := c.env.Server.PutImage(proj, img); err != nil {
			t.Fatal(err)
		}
	}
}

func img(name, family, state string) *computepb.Image {
	i := &computepb.Image{Name: proto.String(name)}
	if family != "" {
		i.Family = proto.String(family)
	}
	if state != "" {
		i.Deprecated = &computepb.DeprecationStatus{State: proto.String(state)}
	}
	return i
}

// vm is an instance insert body with one boot disk made from image.
func vm(name, image string, autoDelete bool) *computepb.Instance {
	return &computepb.Instance{
		Name:        proto.String(name),
		MachineType: proto.String("zones/" + zone + "/machineTypes/e2-small"),
		Disks: []*computepb.AttachedDisk{{
			Boot:             proto.Bool(true),
			AutoDelete:       proto.Bool(autoDelete),
			InitializeParams: &computepb.AttachedDiskInitializeParams{SourceImage: proto.String(image)},
		}},
		NetworkInterfaces: []*computepb.NetworkInterface{{
			AccessConfigs: []*computepb.AccessConfig{{Name: proto.String("External NAT"), Type: proto.String("ONE_TO_ONE_NAT")}},
		}},
	}
}

func (c *computeEnv) insertVM(t *testing.T, in *computepb.Instance, requestID string) (*compute.Operation, error) {
	t.Helper()
	ctx := ctxT(t)
	req := &computepb.InsertInstanceRequest{Project: proj, Zone: zone, InstanceResource: in}
	if requestID != "" {
		req.RequestId = proto.String(requestID)
	}
	op, err := c.instances.Insert(ctx, req)
	if err != nil {
		return nil, err
	}
	return op, op.Wait(ctx)
}

func TestLocationsAndMachineTypesAreAFixedRealisticSet(t *testing.T) {
	c := startCompute(t, emulator.Options{})
	ctx := ctxT(t)

	z, err := c.zones.Get(ctx, &computepb.GetZoneRequest{Project: proj, Zone: "europe-west4-b"})
	if err != nil {
		t.Fatal(err)
	}
	if z.GetStatus() != "UP" || !strings.HasSuffix(z.GetRegion(), "/projects/"+proj+"/regions/europe-west4") || z.GetKind() != "compute#zone" {
		t.Errorf("zone = %v", z)
	}
	var zones []string
	for _, z := range drain(t, c.zones.List(ctx, &computepb.ListZonesRequest{Project: proj, Filter: proto.String("name eq us-central1-.*")})) {
		zones = append(zones, z.GetName())
	}
	if got := strings.Join(zones, ","); got != "us-central1-a,us-central1-b,us-central1-c,us-central1-f" {
		t.Errorf("zones in us-central1 = %s", got)
	}

	mt, err := c.machines.Get(ctx, &computepb.GetMachineTypeRequest{Project: proj, Zone: zone, MachineType: "n1-standard-1"})
	if err != nil {
		t.Fatal(err)
	}
	if mt.GetGuestCpus() != 1 || mt.GetMemoryMb() != 3840 || mt.GetZone() != zone {
		t.Errorf("n1-standard-1 = %v", mt)
	}
	custom, err := c.machines.Get(ctx, &computepb.GetMachineTypeRequest{Project: proj, Zone: zone, MachineType: "custom-4-8192"})
	if err != nil || custom.GetGuestCpus() != 4 || custom.GetMemoryMb() != 8192 {
		t.Errorf("custom-4-8192 = %v, %v", custom, err)
	}

	p, err := c.projects.Get(ctx, &computepb.GetProjectRequest{Project: proj})
	if err != nil {
		t.Fatal(err)
	}
	if p.GetName() != proj || p.GetCommonInstanceMetadata() == nil ||
		!strings.HasSuffix(p.GetDefaultServiceAccount(), "-compute@developer.gserviceaccount.com") ||
		p.GetDefaultServiceAccount() != strconv.FormatUint(p.GetId(), 10)+"-compute@developer.gserviceaccount.com" {
		t.Errorf("project = %v", p)
	}

	for _, tc := range []struct {
		name string
		call func() error
		msg  string
	}{
		{"UnknownZone", func() error {
			_, err := c.zones.Get(ctx, &computepb.GetZoneRequest{Project: proj, Zone: "us-central1-z"})
			return err
		}, "The resource 'projects/acme-images/zones/us-central1-z' was not found"},
		{"UnknownMachineType", func() error {
			_, err := c.machines.Get(ctx, &computepb.GetMachineTypeRequest{Project: proj, Zone: zone, MachineType: "e9-huge"})
			return err
		}, "The resource 'projects/acme-images/zones/us-central1-a/machineTypes/e9-huge' was not found"},
		{"InstanceInUnknownZone", func() error {
			_, err := c.instances.Get(ctx, &computepb.GetInstanceRequest{Project: proj, Zone: "mars-1a", Instance: "x"})
			return err
		}, "The resource 'projects/acme-images/zones/mars-1a' was not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if msg := wantAPIErr(t, tc.call(), http.StatusNotFound, "notFound"); msg != tc.msg {
				t.Errorf("message = %q, want %q", msg, tc.msg)
			}
		})
	}
}

// TestInstanceBootDiskFollowsTheFamilyHead checks the image resolution an
// instance insert performs for each spelling of a reference.
func TestInstanceBootDiskFollowsTheFamilyHead(t *testing.T) {
	c := startCompute(t, emulator.Options{})
	c.seed(t,
		img("web-v1", "web", ""),
		img("web-v2", "web", ""),
		img("web-v3", "web", "DEPRECATED"), // newest, but families skip it
		img("old", "", "OBSOLETE"),
		img("gone", "", "DELETED"),
		img("warned", "", "DEPRECATED"),
	)
	ctx := ctxT(t)
	for i, tc := range []struct {
		name, ref, wantImage string
		wantCode             int
		wantReason           string
	}{
		{"FamilyURLOnAnyHost", "http://127.0.0.1:1/compute/v1/projects/" + proj + "/global/images/family/web", "web-v2", 0, ""},
		{"FamilyPath", "projects/" + proj + "/global/images/family/web", "web-v2", 0, ""},
		{"GlobalPath", "global/images/web-v1", "web-v1", 0, ""},
		{"BareName", "web-v1", "web-v1", 0, ""},
		{"DeprecatedImageStillUsable", "https://www.googleapis.com/compute/v1/projects/" + proj + "/global/images/warned", "warned", 0, ""},
		{"ObsoleteRejected", "global/images/old", "", http.StatusBadRequest, "badRequest"},
		{"DeletedRejected", "global/images/gone", "", http.StatusBadRequest, "badRequest"},
		{"MissingImage", "global/images/nope", "", http.StatusNotFound, "notFound"},
		{"EmptyFamily", "global/images/family/nope", "", http.StatusNotFound, "notFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "vm-" + strings.ToLower(string(rune('a'+i)))
			op, err := c.insertVM(t, vm(name, tc.ref, true), "")
			if tc.wantCode != 0 {
				msg := wantAPIErr(t, err, tc.wantCode, tc.wantReason)
				if tc.wantReason == "badRequest" && !strings.Contains(msg, "New uses are not allowed") {
					t.Errorf("message = %q", msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantImage == "warned" {
				w := op.Proto().GetWarnings()
				if len(w) != 1 || w[0].GetCode() != "DEPRECATED_RESOURCE_USED" {
					t.Errorf("operation warnings = %v, want DEPRECATED_RESOURCE_USED", w)
				}
			}
			d, err := c.disks.Get(ctx, &computepb.GetDiskRequest{Project: proj, Zone: zone, Disk: name})
			if err != nil {
				t.Fatal(err)
			}
			want := "https://www.googleapis.com/compute/v1/projects/" + proj + "/global/images/" + tc.wantImage
			if d.GetSourceImage() != want || d.GetSourceImageId() == "" || d.GetSizeGb() != 10 {
				t.Errorf("boot disk sourceImage = %q (id %q, %d GB), want %s", d.GetSourceImage(), d.GetSourceImageId(), d.GetSizeGb(), want)
			}
		})
	}
}

func TestInstanceLifecycle(t *testing.T) {
	c := startCompute(t, emulator.Options{})
	c.seed(t, img("base", "base", ""))
	ctx := ctxT(t)
	const reqID = "8a1f1c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"

	in := vm("builder", "global/images/family/base", false)
	in.Disks[0].InitializeParams.DiskName = proto.String("builder-boot")
	op1, err := c.insertVM(t, in, reqID)
	if err != nil {
		t.Fatal(err)
	}
	// A retried insert with the same requestId returns the first operation.
	op2, err := c.insertVM(t, vm("builder", "global/images/family/base", false), reqID)
	if err != nil || op2.Proto().GetName() != op1.Proto().GetName() {
		t.Fatalf("replayed insert: op %s (err %v), want %s", op2.Proto().GetName(), err, op1.Proto().GetName())
	}
	_, err = c.insertVM(t, vm("builder", "global/images/family/base", false), "")
	wantAPIErr(t, err, http.StatusConflict, "alreadyExists")

	got, err := c.instances.Get(ctx, &computepb.GetInstanceRequest{Project: proj, Zone: zone, Instance: "builder"})
	if err != nil {
		t.Fatal(err)
	}
	ni := got.GetNetworkInterfaces()[0]
	ad := got.GetDisks()[0]
	for _, chk := range []struct{ field, got, want string }{
		{"status", got.GetStatus(), "RUNNING"},
		{"machineType", got.GetMachineType(), "https://www.googleapis.com/compute/v1/projects/acme-images/zones/us-central1-a/machineTypes/e2-small"},
		{"disks[0].source", ad.GetSource(), "https://www.googleapis.com/compute/v1/projects/acme-images/zones/us-central1-a/disks/builder-boot"},
		{"disks[0].deviceName", ad.GetDeviceName(), "persistent-disk-0"},
		{"network", ni.GetNetwork(), "https://www.googleapis.com/compute/v1/projects/acme-images/global/networks/default"},
	} {
		if chk.got != chk.want {
			t.Errorf("%s = %q, want %q", chk.field, chk.got, chk.want)
		}
	}
	if ni.GetNetworkIP() == "" || ni.GetAccessConfigs()[0].GetNatIP() == "" || ad.GetInitializeParams() != nil {
		t.Errorf("network interface %v / disk %v: want networkIP, natIP and no initializeParams", ni, ad)
	}
	if got.GetMetadata().GetFingerprint() == "" {
		t.Error("metadata has no fingerprint")
	}

	// The boot disk is in use while the instance exists.
	_, err = c.disks.Delete(ctx, &computepb.DeleteDiskRequest{Project: proj, Zone: zone, Disk: "builder-boot"})
	if msg := wantAPIErr(t, err, http.StatusBadRequest, "resourceInUseByAnotherResource"); msg !=
		"The disk resource 'projects/acme-images/zones/us-central1-a/disks/builder-boot' is already being used by 'projects/acme-images/zones/us-central1-a/instances/builder'" {
		t.Errorf("message = %q", msg)
	}

	// setMetadata needs the current fingerprint.
	md := &computepb.Metadata{Fingerprint: proto.String("stale"), Items: []*computepb.Items{{Key: proto.String("k"), Value: proto.String("v")}}}
	_, err = c.instances.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: proj, Zone: zone, Instance: "builder", MetadataResource: md})
	wantAPIErr(t, err, http.StatusPreconditionFailed, "conditionNotMet")
	md.Fingerprint = got.GetMetadata().Fingerprint
	op, err := c.instances.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: proj, Zone: zone, Instance: "builder", MetadataResource: md})
	if err != nil || op.Wait(ctx) != nil {
		t.Fatalf("setMetadata: %v", err)
	}

	serial, err := c.instances.GetSerialPortOutput(ctx, &computepb.GetSerialPortOutputInstanceRequest{Project: proj, Zone: zone, Instance: "builder", Start: proto.Int64(10)})
	if err != nil {
		t.Fatal(err)
	}
	if serial.GetStart() != 10 || serial.GetNext() != 10+int64(len(serial.GetContents())) || !strings.Contains(serial.GetContents(), "builder login:") {
		t.Errorf("serial output start %d next %d contents %q", serial.GetStart(), serial.GetNext(), serial.GetContents())
	}

	// Deleting the instance keeps a disk attached with autoDelete false,
	// detached; the builder then deletes it.
	op, err = c.instances.Delete(ctx, &computepb.DeleteInstanceRequest{Project: proj, Zone: zone, Instance: "builder"})
	if err != nil || op.Wait(ctx) != nil {
		t.Fatalf("delete instance: %v", err)
	}
	d, err := c.disks.Get(ctx, &computepb.GetDiskRequest{Project: proj, Zone: zone, Disk: "builder-boot"})
	if err != nil || len(d.GetUsers()) != 0 {
		t.Fatalf("disk after instance delete: %v users %v", err, d.GetUsers())
	}
	op, err = c.disks.Delete(ctx, &computepb.DeleteDiskRequest{Project: proj, Zone: zone, Disk: "builder-boot"})
	if err != nil || op.Wait(ctx) != nil {
		t.Fatalf("delete disk: %v", err)
	}

	// With autoDelete, the disk goes with the instance.
	if _, err := c.insertVM(t, vm("auto", "base", true), ""); err != nil {
		t.Fatal(err)
	}
	op, err = c.instances.Delete(ctx, &computepb.DeleteInstanceRequest{Project: proj, Zone: zone, Instance: "auto"})
	if err != nil || op.Wait(ctx) != nil {
		t.Fatalf("delete instance: %v", err)
	}
	_, err = c.disks.Get(ctx, &computepb.GetDiskRequest{Project: proj, Zone: zone, Disk: "auto"})
	wantAPIErr(t, err, http.StatusNotFound, "notFound")
}

func TestInjectedOperationFailureChangesNothing(t *testing.T) {
	faults, err := emulator.ParseFaults("instances.insert=fail:1")
	if err != nil {
		t.Fatal(err)
	}
	c := startCompute(t, emulator.Options{Faults: faults})
	c.seed(t, img("base", "", ""))
	op, err := c.insertVM(t, vm("doomed", "base", true), "")
	if err == nil || op.Proto().GetError() == nil || op.Proto().GetHttpErrorStatusCode() == 0 {
		t.Fatalf("insert with a fail fault: err %v, op %v; want a failed operation", err, op.Proto())
	}
	ctx := ctxT(t)
	_, err = c.instances.Get(ctx, &computepb.GetInstanceRequest{Project: proj, Zone: zone, Instance: "doomed"})
	wantAPIErr(t, err, http.StatusNotFound, "notFound")
	_, err = c.disks.Get(ctx, &computepb.GetDiskRequest{Project: proj, Zone: zone, Disk: "doomed"})
	wantAPIErr(t, err, http.StatusNotFound, "notFound")
	// Validation still comes first and synchronously.
	_, err = c.insertVM(t, vm("Bad_Name", "base", true), "")
	wantAPIErr(t, err, http.StatusBadRequest, "invalid")
}

func TestTemplatesKeepTheirSourceImageAndAggregate(t *testing.T) {
	c := startCompute(t, emulator.Options{})
	c.seed(t, img("web-v1", "web", ""))
	ctx := ctxT(t)
	props := func(image string) *computepb.InstanceProperties {
		return &computepb.InstanceProperties{
			MachineType: proto.String("e2-medium"),
			Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), InitializeParams: &computepb.AttachedDiskInitializeParams{
				SourceImage: proto.String(image)}}},
		}
	}
	familyURL := "https://compute.googleapis.com/compute/v1/projects/" + proj + "/global/images/family/web"
	op, err := c.templates.Insert(ctx, &computepb.InsertInstanceTemplateRequest{Project: proj,
		InstanceTemplateResource: &computepb.InstanceTemplate{Name: proto.String("by-family"), Properties: props(familyURL)}})
	if err != nil || op.Wait(ctx) != nil {
		t.Fatalf("insert: %v", err)
	}
	op, err = c.rtemplates.Insert(ctx, &computepb.InsertRegionInstanceTemplateRequest{Project: proj, Region: "europe-west1",
		InstanceTemplateResource: &computepb.InstanceTemplate{Name: proto.String("by-image"), Properties: props("global/images/web-v1")}})
	if err != nil || op.Wait(ctx) != nil {
		t.Fatalf("insert regional: %v", err)
	}
	_, err = c.templates.Insert(ctx, &computepb.InsertInstanceTemplateRequest{Project: proj,
		InstanceTemplateResource: &computepb.InstanceTemplate{Name: proto.String("dangling"), Properties: props("global/images/nope")}})
	wantAPIErr(t, err, http.StatusBadRequest, "invalid")

	got, err := c.templates.Get(ctx, &computepb.GetInstanceTemplateRequest{Project: proj, InstanceTemplate: "by-family"})
	if err != nil {
		t.Fatal(err)
	}
	if src := got.GetProperties().GetDisks()[0].GetInitializeParams().GetSourceImage(); src != familyURL {
		t.Errorf("sourceImage = %q, want it kept as given (%q)", src, familyURL)
	}

	// The aggregated list pages across scopes: one template per page.
	var seen []string
	for _, pair := range drain(t, c.templates.AggregatedList(ctx, &computepb.AggregatedListInstanceTemplatesRequest{Project: proj, MaxResults: proto.Uint32(1)})) {
		for _, tmpl := range pair.Value.GetInstanceTemplates() {
			seen = append(seen, pair.Key+":"+tmpl.GetName())
		}
		if len(pair.Value.GetInstanceTemplates()) == 0 && pair.Value.GetWarning().GetCode() != "NO_RESULTS_ON_PAGE" {
			t.Errorf("empty scope %s without NO_RESULTS_ON_PAGE warning", pair.Key)
		}
	}
	sort.Strings(seen)
	if got := strings.Join(seen, " "); got != "global:by-family regions/europe-west1:by-image" {
		t.Errorf("aggregated templates = %s", got)
	}

	op, err = c.rtemplates.Delete(ctx, &computepb.DeleteRegionInstanceTemplateRequest{Project: proj, Region: "europe-west1", InstanceTemplate: "by-image"})
	if err != nil || op.Wait(ctx) != nil {
		t.Fatalf("delete regional: %v", err)
	}
	_, err = c.rtemplates.Get(ctx, &computepb.GetRegionInstanceTemplateRequest{Project: proj, Region: "europe-west1", InstanceTemplate: "by-image"})
	wantAPIErr(t, err, http.StatusNotFound, "notFound")
}

func TestAggregatedInstancesFilterAcrossZones(t *testing.T) {
	c := startCompute(t, emulator.Options{})
	c.seed(t, img("base", "", ""))
	ctx := ctxT(t)
	for _, z := range []string{"us-central1-a", "europe-west1-b", "asia-east1-c"} {
		in := vm("vm-"+z, "projects/"+proj+"/global/images/base", true)
		in.MachineType = proto.String("e2-micro")
		in.Labels = map[string]string{"zone": z}
		op, err := c.instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: proj, Zone: z, InstanceResource: in})
		if err != nil || op.Wait(ctx) != nil {
			t.Fatalf("insert in %s: %v", z, err)
		}
	}
	var got []string
	for _, pair := range drain(t, c.instances.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{Project: proj,
		Filter: proto.String("labels.zone != asia-east1-c"), MaxResults: proto.Uint32(1)})) {
		for _, in := range pair.Value.GetInstances() {
			if pair.Key != "zones/"+in.GetLabels()["zone"] {
				t.Errorf("instance %s listed under %s", in.GetName(), pair.Key)
			}
			got = append(got, in.GetName())
		}
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "vm-europe-west1-b,vm-us-central1-a" {
		t.Errorf("aggregated instances = %v", got)
	}
}

func TestReadsLeaveNoEmptyProjectsBehind(t *testing.T) {
	c := startCompute(t, emulator.Options{})
	ctx := ctxT(t)
	if _, err := c.projects.Get(ctx, &computepb.GetProjectRequest{Project: "ghost"}); err != nil {
		t.Fatal(err)
	}
	drain(t, c.instances.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{Project: "ghost"}))
	_, err := c.disks.Get(ctx, &computepb.GetDiskRequest{Project: "ghost", Zone: zone, Disk: "d"})
	wantAPIErr(t, err, http.StatusNotFound, "notFound")
	state, err := c.env.Server.SnapshotState()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := state.Projects["ghost"]; ok {
		t.Errorf("reads created project ghost in the state: %v", state.Projects)
	}
}

// TestAggregatedListPagesThroughEqualNamesInDifferentZones: names repeat
// across zones (a disk "d" in three zones, created in the same millisecond),
// and every page size and order must still serve each resource exactly once.
func TestAggregatedListPagesThroughEqualNamesInDifferentZones(t *testing.T) {
	fixed := newFakeClock()
	c := startCompute(t, emulator.Options{Clock: fixed.Now})
	ctx := ctxT(t)
	for _, d := range []struct{ zone, name string }{
		{"us-east1-b", "d"}, {"us-central1-a", "d"}, {"asia-east1-a", "d"}, {"us-central1-a", "e"},
	} {
		op, err := c.disks.Insert(ctx, &computepb.InsertDiskRequest{Project: proj, Zone: d.zone, DiskResource: &computepb.Disk{Name: proto.String(d.name)}})
		if err != nil || op.Wait(ctx) != nil {
			t.Fatalf("insert %v: %v", d, err)
		}
	}
	want := "zones/asia-east1-a/d zones/us-central1-a/d zones/us-central1-a/e zones/us-east1-b/d"
	for _, orderBy := range []string{"", "name", "creationTimestamp desc"} {
		for _, max := range []uint32{1, 2, 3, 500} {
			t.Run(fmt.Sprintf("orderBy=%q/maxResults=%d", orderBy, max), func(t *testing.T) {
				req := &computepb.AggregatedListDisksRequest{Project: proj, MaxResults: proto.Uint32(max)}
				if orderBy != "" {
					req.OrderBy = proto.String(orderBy)
				}
				var got []string
				for _, pair := range drain(t, c.disks.AggregatedList(ctx, req)) {
					for _, d := range pair.Value.GetDisks() {
						got = append(got, pair.Key+"/"+d.GetName())
					}
				}
				sort.Strings(got)
				if strings.Join(got, " ") != want {
					t.Errorf("served %v, want each of %s once", got, want)
				}
			})
		}
	}
	_, err := c.disks.AggregatedList(ctx, &computepb.AggregatedListDisksRequest{Project: proj, PageToken: proto.String("bogus")}).Next()
	wantAPIErr(t, err, http.StatusBadRequest, "invalid")
}

func TestARefusedInstanceInsertLeavesNoDiskBehind(t *testing.T) {
	c := startCompute(t, emulator.Options{})
	c.seed(t, img("base", "", ""))
	ctx := ctxT(t)
	op, err := c.disks.Insert(ctx, &computepb.InsertDiskRequest{Project: proj, Zone: zone,
		DiskResource: &computepb.Disk{Name: proto.String("data"), SizeGb: proto.Int64(10)}})
	if err != nil || op.Wait(ctx) != nil {
		t.Fatalf("insert disk: %v", err)
	}
	// The boot disk is made and data attached before the third disk, which
	// does not exist, refuses the whole insert.
	in := vm("half", "base", true)
	in.Disks = append(in.Disks,
		&computepb.AttachedDisk{Source: proto.String("zones/" + zone + "/disks/data")},
		&computepb.AttachedDisk{Source: proto.String("zones/" + zone + "/disks/ghost")})
	_, err = c.insertVM(t, in, "")
	wantAPIErr(t, err, http.StatusNotFound, "notFound")

	_, err = c.disks.Get(ctx, &computepb.GetDiskRequest{Project: proj, Zone: zone, Disk: "half"})
	wantAPIErr(t, err, http.StatusNotFound, "notFound")
	data, err := c.disks.Get(ctx, &computepb.GetDiskRequest{Project: proj, Zone: zone, Disk: "data"})
	if err != nil {
		t.Fatal(err)
	}
	if len(data.GetUsers()) != 0 || data.LastAttachTimestamp != nil {
		t.Errorf("disk data after the refused insert: users %v, last attached %q; want it as it was", data.GetUsers(), data.GetLastAttachTimestamp())
	}
	// The same disks, without the missing one, go through.
	in = vm("half", "base", true)
	in.Disks = append(in.Disks, &computepb.AttachedDisk{Source: proto.String("zones/" + zone + "/disks/data")})
	if _, err := c.insertVM(t, in, ""); err != nil {
		t.Fatalf("insert after the refused one: %v", err)
	}
}

// An instance without network tags reports them as Compute Engine does: a
// tags object holding only the empty set's fingerprint, 42WmSpB8rSM= (the
// one empty label sets have), and no labels but their empty fingerprint.
func TestAnInstanceWithoutTagsOrLabelsReportsTheEmptyFingerprints(t *testing.T) {
	c := startCompute(t, emulator.Options{})
	c.seed(t, img("web-v1", "web", ""))
	if _, err := c.insertVM(t, vm("vm", "global/images/web-v1", true), ""); err != nil {
		t.Fatal(err)
	}
	in, err := c.instances.Get(ctxT(t), &computepb.GetInstanceRequest{Project: proj, Zone: zone, Instance: "vm"})
	if err != nil {
		t.Fatal(err)
	}
	if in.Tags == nil || len(in.GetTags().GetItems()) != 0 || in.GetTags().GetFingerprint() != "42WmSpB8rSM=" {
		t.Errorf("tags %v, want {fingerprint: 42WmSpB8rSM=}", in.GetTags())
	}
	if len(in.GetLabels()) != 0 || in.GetLabelFingerprint() != "42WmSpB8rSM=" {
		t.Errorf("labels %v fingerprint %q, want none and 42WmSpB8rSM=", in.GetLabels(), in.GetLabelFingerprint())
	}
}
