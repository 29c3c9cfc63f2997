package emulator

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// The emulated locations: a fixed, realistic subset, the same in every
// project. Ids follow Compute Engine's numbering style (regions 1xxx, zones
// 2xxx); they only need to be stable.
type catalogZone struct {
	suffix string
	id     uint64
}

var regionCatalog = []struct {
	name  string
	id    uint64
	zones []catalogZone
}{
	{"asia-east1", 1220, []catalogZone{{"a", 2220}, {"b", 2221}, {"c", 2222}}},
	{"europe-west1", 1100, []catalogZone{{"b", 2101}, {"c", 2102}, {"d", 2103}}},
	{"europe-west4", 1300, []catalogZone{{"a", 2300}, {"b", 2301}, {"c", 2302}}},
	{"us-central1", 1000, []catalogZone{{"a", 2000}, {"b", 2001}, {"c", 2002}, {"f", 2004}}},
	{"us-east1", 1230, []catalogZone{{"b", 2231}, {"c", 2233}, {"d", 2234}}},
}

// zoneRegion maps every emulated zone to its region.
var zoneRegion = func() map[string]string {
	m := map[string]string{}
	for _, r := range regionCatalog {
		for _, z := range r.zones {
			m[r.name+"-"+z.suffix] = r.name
		}
	}
	return m
}()

// allZones and allRegions are the scopes of aggregated lists, in the order
// Compute Engine's keys sort.
var allZones, allRegions = func() ([]string, []string) {
	var zs, rs []string
	for _, r := range regionCatalog {
		rs = append(rs, r.name)
		for _, z := range r.zones {
			zs = append(zs, r.name+"-"+z.suffix)
		}
	}
	sort.Strings(zs)
	sort.Strings(rs)
	return zs, rs
}()

// Compute Engine reports this creation time for every zone and region.
const locationCreated = "1969-12-31T16:00:00.000-08:00"

var cpuPlatforms = []string{"Intel Broadwell", "Intel Cascade Lake", "Intel Ice Lake", "Intel Sapphire Rapids", "AMD Milan", "AMD Rome"}

func zoneMessage(project, zone string) *computepb.Zone {
	region := zoneRegion[zone]
	var id uint64
	for _, r := range regionCatalog {
		for _, z := range r.zones {
			if r.name+"-"+z.suffix == zone {
				id = z.id
			}
		}
	}
	return &computepb.Zone{
		Kind:                  proto.String("compute#zone"),
		Id:                    proto.Uint64(id),
		CreationTimestamp:     proto.String(locationCreated),
		Name:                  proto.String(zone),
		Description:           proto.String(zone),
		Status:                proto.String("UP"),
		Region:                proto.String(selfLink(project, "regions/"+region)),
		SelfLink:              proto.String(selfLink(project, "zones/"+zone)),
		AvailableCpuPlatforms: append([]string(nil), cpuPlatforms...),
		SupportsPzs:           proto.Bool(false),
	}
}

func regionMessage(project, region string) *computepb.Region {
	out := &computepb.Region{
		Kind:              proto.String("compute#region"),
		CreationTimestamp: proto.String(locationCreated),
		Name:              proto.String(region),
		Description:       proto.String(region),
		Status:            proto.String("UP"),
		SelfLink:          proto.String(selfLink(project, "regions/"+region)),
		SupportsPzs:       proto.Bool(false),
	}
	for _, r := range regionCatalog {
		if r.name != region {
			continue
		}
		out.Id = proto.Uint64(r.id)
		for _, z := range r.zones {
			out.Zones = append(out.Zones, selfLink(project, "zones/"+region+"-"+z.suffix))
		}
	}
	return out
}

// locationRoutes registers zones, regions and machine types: a fixed
// catalog, the same in every project.
func (s *Server) locationRoutes() {
	s.route("GET", "projects/{project}/zones", "zones.list", s.zoneList)
	s.route("GET", "projects/{project}/zones/{zone}", "zones.get", s.zoneGet)
	s.route("GET", "projects/{project}/regions", "regions.list", s.regionList)
	s.route("GET", "projects/{project}/regions/{region}", "regions.get", s.regionGet)
	s.route("GET", "projects/{project}/zones/{zone}/machineTypes", "machineTypes.list", s.machineTypeList)
	s.route("GET", "projects/{project}/zones/{zone}/machineTypes/{machineType}", "machineTypes.get", s.machineTypeGet)
}

// checkZone answers 404 for a zone outside the catalog, worded as Compute
// Engine words zones.get on an unknown zone.
func checkZone(project, zone string) error {
	if _, ok := zoneRegion[zone]; !ok {
		return errNotFound(fmt.Sprintf("projects/%s/zones/%s", project, zone))
	}
	return nil
}

func checkRegion(project, region string) error {
	for _, r := range allRegions {
		if r == region {
			return nil
		}
	}
	return errNotFound(fmt.Sprintf("projects/%s/regions/%s", project, region))
}

func (s *Server) zoneGet(r *http.Request) (proto.Message, error) {
	project, zone := r.PathValue("project"), r.PathValue("zone")
	if err := checkZone(project, zone); err != nil {
		return nil, err
	}
	return zoneMessage(project, zone), nil
}

func (s *Server) zoneList(r *http.Request) (proto.Message, error) {
	project := r.PathValue("project")
	items := make([]*computepb.Zone, 0, len(allZones))
	for _, z := range allZones {
		items = append(items, zoneMessage(project, z))
	}
	page, next, err := listPage(r, items)
	if err != nil {
		return nil, err
	}
	return &computepb.ZoneList{
		Kind:          proto.String("compute#zoneList"),
		Id:            proto.String("projects/" + project + "/zones"),
		Items:         page,
		NextPageToken: optString(next),
		SelfLink:      proto.String(selfLink(project, "zones")),
	}, nil
}

func (s *Server) regionGet(r *http.Request) (proto.Message, error) {
	project, region := r.PathValue("project"), r.PathValue("region")
	if err := checkRegion(project, region); err != nil {
		return nil, err
	}
	return regionMessage(project, region), nil
}

func (s *Server) regionList(r *http.Request) (proto.Message, error) {
	project := r.PathValue("project")
	items := make([]*computepb.Region, 0, len(allRegions))
	for _, rg := range allRegions {
		items = append(items, regionMessage(project, rg))
	}
	page, next, err := listPage(r, items)
	if err != nil {
		return nil, err
	}
	return &computepb.RegionList{
		Kind:          proto.String("compute#regionList"),
		Id:            proto.String("projects/" + project + "/regions"),
		Items:         page,
		NextPageToken: optString(next),
		SelfLink:      proto.String(selfLink(project, "regions")),
	}, nil
}

// machineTypeCatalog is a handful of predefined types; custom types
// (custom-CPUS-MEMORY_MB and FAMILY-custom-CPUS-MEMORY_MB) are made on demand
// as Compute Engine does.
var machineTypeCatalog = []struct {
	name   string
	id     uint64
	cpus   int32
	memMB  int32
	shared bool
}{
	{"e2-micro", 334001, 2, 1024, true},
	{"e2-small", 334002, 2, 2048, true},
	{"e2-medium", 334003, 2, 4096, true},
	{"e2-standard-2", 335002, 2, 8192, false},
	{"e2-standard-4", 335004, 4, 16384, false},
	{"n1-standard-1", 3001, 1, 3840, false},
	{"n1-standard-2", 3002, 2, 7680, false},
	{"n2-standard-2", 901002, 2, 8192, false},
}

var customMachineTypeRE = regexp.MustCompile(`^(?:(e2|n1|n2|n2d)-)?custom-([0-9]{1,3})-([0-9]{3,7})$`)

func machineTypeMessage(project, zone, name string) (*computepb.MachineType, bool) {
	mt := &computepb.MachineType{
		Kind:                         proto.String("compute#machineType"),
		CreationTimestamp:            proto.String(locationCreated),
		Name:                         proto.String(name),
		Zone:                         proto.String(zone),
		SelfLink:                     proto.String(selfLink(project, "zones/"+zone+"/machineTypes/"+name)),
		MaximumPersistentDisks:       proto.Int32(128),
		MaximumPersistentDisksSizeGb: proto.Int64(263168),
		ImageSpaceGb:                 proto.Int32(0),
		Architecture:                 proto.String("X86_64"),
	}
	for _, c := range machineTypeCatalog {
		if c.name != name {
			continue
		}
		mt.Id = proto.Uint64(c.id)
		mt.GuestCpus = proto.Int32(c.cpus)
		mt.MemoryMb = proto.Int32(c.memMB)
		mt.IsSharedCpu = proto.Bool(c.shared)
		mt.Description = proto.String(describeMachine(c.cpus, c.memMB, c.shared))
		return mt, true
	}
	m := customMachineTypeRE.FindStringSubmatch(name)
	if m == nil {
		return nil, false
	}
	cpus, _ := strconv.Atoi(m[2])
	mem, _ := strconv.Atoi(m[3])
	if cpus < 1 || mem < 256 || mem%256 != 0 {
		return nil, false
	}
	mt.Id = proto.Uint64(uint64(cpus)<<32 | uint64(mem))
	mt.GuestCpus = proto.Int32(int32(cpus))
	mt.MemoryMb = proto.Int32(int32(mem))
	mt.IsSharedCpu = proto.Bool(false)
	mt.Description = proto.String("Custom created machine type.")
	return mt, true
}

func describeMachine(cpus, memMB int32, shared bool) string {
	gb := strconv.FormatFloat(float64(memMB)/1024, 'f', -1, 64)
	if shared {
		return fmt.Sprintf("Efficient Instance, %d vCPU(s) (shared), %s GB RAM", cpus, gb)
	}
	if cpus == 1 {
		return fmt.Sprintf("1 vCPU, %s GB RAM", gb)
	}
	return fmt.Sprintf("%d vCPUs, %s GB RAM", cpus, gb)
}

func (s *Server) machineTypeGet(r *http.Request) (proto.Message, error) {
	project, zone, name := r.PathValue("project"), r.PathValue("zone"), r.PathValue("machineType")
	if err := checkZone(project, zone); err != nil {
		return nil, err
	}
	mt, ok := machineTypeMessage(project, zone, name)
	if !ok {
		return nil, errNotFound(fmt.Sprintf("projects/%s/zones/%s/machineTypes/%s", project, zone, name))
	}
	return mt, nil
}

func (s *Server) machineTypeList(r *http.Request) (proto.Message, error) {
	project, zone := r.PathValue("project"), r.PathValue("zone")
	if err := checkZone(project, zone); err != nil {
		return nil, err
	}
	items := make([]*computepb.MachineType, 0, len(machineTypeCatalog))
	for _, c := range machineTypeCatalog {
		mt, _ := machineTypeMessage(project, zone, c.name)
		items = append(items, mt)
	}
	page, next, err := listPage(r, items)
	if err != nil {
		return nil, err
	}
	return &computepb.MachineTypeList{
		Kind:          proto.String("compute#machineTypeList"),
		Id:            proto.String("projects/" + project + "/zones/" + zone + "/machineTypes"),
		Items:         page,
		NextPageToken: optString(next),
		SelfLink:      proto.String(selfLink(project, "zones/"+zone+"/machineTypes")),
	}, nil
}

// optString is nil for "", so that an empty nextPageToken is left out.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return proto.String(s)
}
