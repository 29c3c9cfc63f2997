package emulator_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
)

// groups bundles the clients a managed instance group test uses.
type groups struct {
	*computeEnv
	zonal    *compute.InstanceGroupManagersClient
	regional *compute.RegionInstanceGroupManagersClient
}

func startGroups(t *testing.T, opts emulator.Options) *groups {
	t.Helper()
	c := startCompute(t, opts)
	ctx := context.Background()
	z, err := compute.NewInstanceGroupManagersRESTClient(ctx, c.env.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := compute.NewRegionInstanceGroupManagersRESTClient(ctx, c.env.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = z.Close(); _ = r.Close() })
	c.seed(t, img("web-v1", "web", ""), img("web-v2", "web", ""))
	g := &groups{computeEnv: c, zonal: z, regional: r}
	for _, tmpl := range []struct{ name, image string }{{"web-1", "web-v1"}, {"web-2", "web-v2"}} {
		op, err := c.templates.Insert(ctxT(t), &computepb.InsertInstanceTemplateRequest{Project: proj,
			InstanceTemplateResource: templateOf(tmpl.name, "global/images/"+tmpl.image)})
		if err != nil {
			t.Fatal(err)
		}
		if err := op.Wait(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func templateOf(name, image string) *computepb.InstanceTemplate {
	return &computepb.InstanceTemplate{Name: proto.String(name), Properties: &computepb.InstanceProperties{
		MachineType: proto.String("e2-small"),
		Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), AutoDelete: proto.Bool(true),
			InitializeParams: &computepb.AttachedDiskInitializeParams{SourceImage: proto.String(image)}}},
		NetworkInterfaces: []*computepb.NetworkInterface{{Network: proto.String("global/networks/default")}},
	}}
}

// bootImages maps each instance whose name starts with prefix to the image
// its boot disk was made from, which is what the in-use scan follows.
func (g *groups) bootImages(t *testing.T, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	it := g.instances.AggregatedList(ctxT(t), &computepb.AggregatedListInstancesRequest{Project: proj})
	for _, pair := range drain(t, it) {
		for _, in := range pair.Value.GetInstances() {
			if !strings.HasPrefix(in.GetName(), prefix) {
				continue
			}
			src := in.GetDisks()[0].GetSource()
			d, err := g.disks.Get(ctxT(t), &computepb.GetDiskRequest{Project: proj, Zone: lastPart(in.GetZone()), Disk: lastPart(src)})
			if err != nil {
				t.Fatalf("boot disk of %s: %v", in.GetName(), err)
			}
			out[in.GetName()] = lastPart(d.GetSourceImage())
		}
	}
	return out
}

func lastPart(s string) string { return s[strings.LastIndex(s, "/")+1:] }

func imagesOf(m map[string]string) string {
	var v []string
	for _, img := range m {
		v = append(v, img)
	}
	sort.Strings(v)
	return strings.Join(v, ",")
}

func wait(t *testing.T, op *compute.Operation, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestAZonalGroupMakesItsInstancesFromItsTemplateAndRollsToANewOne(t *testing.T) {
	g := startGroups(t, emulator.Options{Seed: 3})
	const base = "https://www.googleapis.com/compute/v1/projects/" + proj
	op, err := g.zonal.Insert(ctxT(t), &computepb.InsertInstanceGroupManagerRequest{Project: proj, Zone: zone,
		InstanceGroupManagerResource: &computepb.InstanceGroupManager{Name: proto.String("web"), BaseInstanceName: proto.String("web"),
			TargetSize: proto.Int32(3), Versions: []*computepb.InstanceGroupManagerVersion{{InstanceTemplate: proto.String("global/instanceTemplates/web-1")}},
			UpdatePolicy: &computepb.InstanceGroupManagerUpdatePolicy{Type: proto.String("PROACTIVE")}}})
	wait(t, op, err)
	if got := op.Proto().GetOperationType(); got != "compute.instanceGroupManagers.insert" {
		t.Errorf("operationType %q", got)
	}
	m, err := g.zonal.Get(ctxT(t), &computepb.GetInstanceGroupManagerRequest{Project: proj, Zone: zone, InstanceGroupManager: "web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ field, got, want string }{
		{"kind", m.GetKind(), "compute#instanceGroupManager"},
		{"instanceTemplate", m.GetInstanceTemplate(), base + "/global/instanceTemplates/web-1"},
		{"versions[0].instanceTemplate", m.GetVersions()[0].GetInstanceTemplate(), base + "/global/instanceTemplates/web-1"},
		{"instanceGroup", m.GetInstanceGroup(), base + "/zones/" + zone + "/instanceGroups/web"},
		{"zone", m.GetZone(), base + "/zones/" + zone},
		{"updatePolicy.minimalAction", m.GetUpdatePolicy().GetMinimalAction(), "REPLACE"},
	} {
		if f.got != f.want {
			t.Errorf("%s = %q, want %q", f.field, f.got, f.want)
		}
	}
	if !m.GetStatus().GetIsStable() || m.GetCurrentActions().GetNone() != 3 {
		t.Errorf("status %v actions %v, want stable with 3 instances doing nothing", m.GetStatus(), m.GetCurrentActions())
	}
	booted := g.bootImages(t, "web-")
	if len(booted) != 3 || imagesOf(booted) != "web-v1,web-v1,web-v1" {
		t.Fatalf("instances %v, want three booted from web-v1", booted)
	}
	for name := range booted {
		in, err := g.instances.Get(ctxT(t), &computepb.GetInstanceRequest{Project: proj, Zone: zone, Instance: name})
		if err != nil {
			t.Fatal(err)
		}
		md := map[string]string{}
		for _, it := range in.GetMetadata().GetItems() {
			md[it.GetKey()] = it.GetValue()
		}
		if !strings.HasSuffix(md["created-by"], "/zones/"+zone+"/instanceGroupManagers/web") || !strings.HasSuffix(md["instance-template"], "/global/instanceTemplates/web-1") {
			t.Errorf("%s metadata %v, want created-by and instance-template", name, md)
		}
	}

	// A rolling update to the second template replaces every instance.
	op2, err := g.zonal.SetInstanceTemplate(ctxT(t), &computepb.SetInstanceTemplateInstanceGroupManagerRequest{Project: proj, Zone: zone,
		InstanceGroupManager: "web", InstanceGroupManagersSetInstanceTemplateRequestResource: &computepb.InstanceGroupManagersSetInstanceTemplateRequest{
			InstanceTemplate: proto.String(base + "/global/instanceTemplates/web-2")}})
	wait(t, op2, err)
	if got := op2.Proto().GetOperationType(); got != "compute.instanceGroupManagers.setInstanceTemplate" {
		t.Errorf("operationType %q", got)
	}
	after := g.bootImages(t, "web-")
	if imagesOf(after) != "web-v2,web-v2,web-v2" {
		t.Errorf("after setInstanceTemplate: %v, want three booted from web-v2", after)
	}
	for name := range booted {
		if _, ok := after[name]; ok {
			t.Errorf("instance %s survived the replacement (SUBSTITUTE makes new names)", name)
		}
	}
	mis := drain(t, g.zonal.ListManagedInstances(ctxT(t), &computepb.ListManagedInstancesInstanceGroupManagersRequest{Project: proj, Zone: zone, InstanceGroupManager: "web"}))
	if len(mis) != 3 || !strings.HasSuffix(mis[0].GetVersion().GetInstanceTemplate(), "/web-2") || mis[0].GetInstanceStatus() != "RUNNING" {
		t.Errorf("listManagedInstances: %v", mis)
	}

	// Resize down, then up: from the target version.
	op3, err := g.zonal.Resize(ctxT(t), &computepb.ResizeInstanceGroupManagerRequest{Project: proj, Zone: zone, InstanceGroupManager: "web", Size: 1})
	wait(t, op3, err)
	if n := len(g.bootImages(t, "web-")); n != 1 {
		t.Errorf("%d instances after resize to 1", n)
	}
	op4, err := g.zonal.Resize(ctxT(t), &computepb.ResizeInstanceGroupManagerRequest{Project: proj, Zone: zone, InstanceGroupManager: "web", Size: 2})
	wait(t, op4, err)
	if got := g.bootImages(t, "web-"); imagesOf(got) != "web-v2,web-v2" {
		t.Errorf("after resize to 2: %v", got)
	}

	// Deleting the group deletes its instances and their disks.
	op5, err := g.zonal.Delete(ctxT(t), &computepb.DeleteInstanceGroupManagerRequest{Project: proj, Zone: zone, InstanceGroupManager: "web"})
	wait(t, op5, err)
	if got := g.bootImages(t, "web-"); len(got) != 0 {
		t.Errorf("instances left after the group's delete: %v", got)
	}
	if disks := drain(t, g.disks.List(ctxT(t), &computepb.ListDisksRequest{Project: proj, Zone: zone})); len(disks) != 0 {
		t.Errorf("%d disks left after the group's delete", len(disks))
	}
}

// Under the OPPORTUNISTIC policy (the default) a new version changes only
// the instances made from then on.
func TestAnOpportunisticGroupKeepsItsInstancesOnANewVersion(t *testing.T) {
	g := startGroups(t, emulator.Options{})
	op, err := g.zonal.Insert(ctxT(t), &computepb.InsertInstanceGroupManagerRequest{Project: proj, Zone: zone,
		InstanceGroupManagerResource: &computepb.InstanceGroupManager{Name: proto.String("web"), BaseInstanceName: proto.String("web"),
			TargetSize: proto.Int32(2), InstanceTemplate: proto.String("global/instanceTemplates/web-1")}})
	wait(t, op, err)
	m, err := g.zonal.Get(ctxT(t), &computepb.GetInstanceGroupManagerRequest{Project: proj, Zone: zone, InstanceGroupManager: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.GetUpdatePolicy().GetType(); got != "OPPORTUNISTIC" {
		t.Errorf("default update policy type %q", got)
	}
	op2, err := g.zonal.Patch(ctxT(t), &computepb.PatchInstanceGroupManagerRequest{Project: proj, Zone: zone, InstanceGroupManager: "web",
		InstanceGroupManagerResource: &computepb.InstanceGroupManager{Fingerprint: m.Fingerprint,
			Versions: []*computepb.InstanceGroupManagerVersion{{InstanceTemplate: proto.String("global/instanceTemplates/web-2")}}}})
	wait(t, op2, err)
	if got := g.bootImages(t, "web-"); imagesOf(got) != "web-v1,web-v1" {
		t.Errorf("after an opportunistic patch: %v, want the instances kept", got)
	}
	op3, err := g.zonal.Resize(ctxT(t), &computepb.ResizeInstanceGroupManagerRequest{Project: proj, Zone: zone, InstanceGroupManager: "web", Size: 3})
	wait(t, op3, err)
	if got := g.bootImages(t, "web-"); imagesOf(got) != "web-v1,web-v1,web-v2" {
		t.Errorf("after resize: %v, want the new one from web-v2", got)
	}
	// A stale fingerprint is refused.
	_, err = g.zonal.Patch(ctxT(t), &computepb.PatchInstanceGroupManagerRequest{Project: proj, Zone: zone, InstanceGroupManager: "web",
		InstanceGroupManagerResource: &computepb.InstanceGroupManager{Fingerprint: m.Fingerprint, Description: proto.String("x")}})
	wantAPIErr(t, err, 412, "conditionNotMet")
}

func TestARegionalGroupSpreadsOverThreeZonesAndAggregates(t *testing.T) {
	g := startGroups(t, emulator.Options{Seed: 5})
	op, err := g.rtemplates.Insert(ctxT(t), &computepb.InsertRegionInstanceTemplateRequest{Project: proj, Region: "us-central1",
		InstanceTemplateResource: templateOf("web-r", "global/images/family/web")})
	wait(t, op, err)
	op2, err := g.regional.Insert(ctxT(t), &computepb.InsertRegionInstanceGroupManagerRequest{Project: proj, Region: "us-central1",
		InstanceGroupManagerResource: &computepb.InstanceGroupManager{Name: proto.String("webr"), BaseInstanceName: proto.String("webr"),
			TargetSize: proto.Int32(6), Versions: []*computepb.InstanceGroupManagerVersion{{InstanceTemplate: proto.String("regions/us-central1/instanceTemplates/web-r")}}}})
	wait(t, op2, err)
	if got := op2.Proto().GetOperationType(); got != "compute.regionInstanceGroupManagers.insert" {
		t.Errorf("operationType %q", got)
	}
	zones := map[string]int{}
	for name := range g.bootImages(t, "webr-") {
		in := findInstance(t, g, name)
		zones[lastPart(in.GetZone())]++
	}
	if len(zones) != 3 || zones["us-central1-a"] != 2 || zones["us-central1-b"] != 2 || zones["us-central1-c"] != 2 {
		t.Errorf("instances by zone %v, want two in each of us-central1-a, b, c", zones)
	}
	// The family's head when the instances were made.
	if got := imagesOf(g.bootImages(t, "webr-")); got != strings.TrimSuffix(strings.Repeat("web-v2,", 6), ",") {
		t.Errorf("regional group booted from %s, want the family head web-v2", got)
	}
	pairs := drain(t, g.zonal.AggregatedList(ctxT(t), &computepb.AggregatedListInstanceGroupManagersRequest{Project: proj}))
	found := map[string]string{}
	for _, p := range pairs {
		for _, m := range p.Value.GetInstanceGroupManagers() {
			found[m.GetName()] = p.Key
		}
	}
	if found["webr"] != "regions/us-central1" {
		t.Errorf("aggregated list %v, want webr under regions/us-central1", found)
	}
	list := drain(t, g.regional.List(ctxT(t), &computepb.ListRegionInstanceGroupManagersRequest{Project: proj, Region: "us-central1"}))
	if len(list) != 1 || len(list[0].GetDistributionPolicy().GetZones()) != 3 {
		t.Errorf("regional list %v", list)
	}
}

func findInstance(t *testing.T, g *groups, name string) *computepb.Instance {
	t.Helper()
	for _, p := range drain(t, g.instances.AggregatedList(ctxT(t), &computepb.AggregatedListInstancesRequest{Project: proj})) {
		for _, in := range p.Value.GetInstances() {
			if in.GetName() == name {
				return in
			}
		}
	}
	t.Fatalf("no instance %s", name)
	return nil
}

func TestGroupMutationsReportTheirOperationTypes(t *testing.T) {
	env := emulatortest.Start(t, emulator.Options{})
	const p = "/compute/v1/projects/" + proj
	steps := []mutationStep{
		{"POST", p + "/global/images", `{"name":"base-v1","rawDisk":{"source":"gs://b/o.tar.gz"}}`, "insert"},
		{"POST", p + "/global/instanceTemplates", sprintf(templateBody, "t1"), "compute.instanceTemplates.insert"},
		{"POST", p + "/global/instanceTemplates", sprintf(templateBody, "t2"), "compute.instanceTemplates.insert"},
	}
	for _, g := range []struct{ path, method string }{
		{p + "/zones/us-central1-a/instanceGroupManagers", "instanceGroupManagers"},
		{p + "/regions/us-central1/instanceGroupManagers", "regionInstanceGroupManagers"},
	} {
		steps = append(steps,
			mutationStep{"POST", g.path, `{"name":"g","baseInstanceName":"g","targetSize":1,"instanceTemplate":"global/instanceTemplates/t1"}`, "compute." + g.method + ".insert"},
			mutationStep{"POST", g.path + "/g/resize?size=2", "", "compute." + g.method + ".resize"},
			mutationStep{"POST", g.path + "/g/setInstanceTemplate", `{"instanceTemplate":"global/instanceTemplates/t2"}`, "compute." + g.method + ".setInstanceTemplate"},
			mutationStep{"PATCH", g.path + "/g", `{"description":"d"}`, "compute." + g.method + ".patch"},
			mutationStep{"DELETE", g.path + "/g", "", "compute." + g.method + ".delete"},
		)
	}
	runMutationSteps(t, env, steps)
}
