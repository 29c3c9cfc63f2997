package emulator

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Managed instance groups, zonal (instanceGroupManagers.*) and regional
// (regionInstanceGroupManagers.*): enough of them for the Terraform
// provider's google_compute_instance_group_manager and
// google_compute_region_instance_group_manager, and for the in-use scan to
// see the images a group's instances boot from.
//
// A group creates its instances from its versions' templates at once, in
// the same operation, as ordinary instances (instances.list and the
// aggregated list show them, with the metadata items created-by and
// instance-template Compute Engine writes). A boot disk made from a family
// follows the family head at the moment the instance is made. Changing the
// group's versions (patch or setInstanceTemplate) replaces the instances
// that run another template when the update policy is PROACTIVE, and only
// records the new target when it is OPPORTUNISTIC (the default here);
// resize adds instances of the target versions or removes the newest. An
// instance that cannot be made (the template's image is gone or OBSOLETE)
// is left out: the group reads creating > 0 and isStable false, as Compute
// Engine's does while it retries. Autoscalers, health checks, stateful
// policies and per-instance configs are stored as sent and do nothing.

// igmScope is what a request's path says about the group it names.
type igmScope struct {
	regional bool
	loc      string // the zone or the region
	method   string // instanceGroupManagers or regionInstanceGroupManagers
}

func igmScopeOf(r *http.Request) igmScope {
	if region := r.PathValue("region"); region != "" {
		return igmScope{regional: true, loc: region, method: "regionInstanceGroupManagers"}
	}
	return igmScope{loc: r.PathValue("zone"), method: "instanceGroupManagers"}
}

// scope is "zones/Z" or "regions/R".
func (sc igmScope) scope() string {
	if sc.regional {
		return "regions/" + sc.loc
	}
	return "zones/" + sc.loc
}

func (sc igmScope) kind() string {
	if sc.regional {
		return kindRegionIGM
	}
	return kindIGM
}

func (sc igmScope) table(p *project) map[string]*computepb.InstanceGroupManager {
	if sc.regional {
		return p.regionIGMs
	}
	return p.igms
}

func (sc igmScope) path(project, name string) string {
	return fmt.Sprintf("projects/%s/%s/instanceGroupManagers/%s", project, sc.scope(), name)
}

func (sc igmScope) check(project string) error {
	if sc.regional {
		return checkRegion(project, sc.loc)
	}
	return checkZone(project, sc.loc)
}

// zones are the zones the group's instances go to: the zone, or the
// distribution policy's zones of the region.
func (sc igmScope) zones(m *computepb.InstanceGroupManager) []string {
	if !sc.regional {
		return []string{sc.loc}
	}
	var out []string
	for _, z := range m.GetDistributionPolicy().GetZones() {
		out = append(out, lastSegment(z.GetZone()))
	}
	return out
}

func (s *Server) igmRoutes() {
	for _, g := range []struct{ prefix, name string }{
		{"projects/{project}/zones/{zone}/instanceGroupManagers", "instanceGroupManagers"},
		{"projects/{project}/regions/{region}/instanceGroupManagers", "regionInstanceGroupManagers"},
	} {
		s.route("POST", g.prefix, g.name+".insert", s.igmInsert(g.name))
		s.route("GET", g.prefix, g.name+".list", s.igmList)
		s.route("GET", g.prefix+"/{igm}", g.name+".get", s.igmGet)
		s.route("DELETE", g.prefix+"/{igm}", g.name+".delete", s.igmDelete(g.name))
		s.route("PATCH", g.prefix+"/{igm}", g.name+".patch", s.igmPatch(g.name))
		s.route("POST", g.prefix+"/{igm}/resize", g.name+".resize", s.igmResize(g.name))
		s.route("POST", g.prefix+"/{igm}/setInstanceTemplate", g.name+".setInstanceTemplate", s.igmSetInstanceTemplate(g.name))
		s.route("POST", g.prefix+"/{igm}/listManagedInstances", g.name+".listManagedInstances", s.igmListManagedInstances)
	}
	s.route("GET", "projects/{project}/aggregated/instanceGroupManagers", "instanceGroupManagers.aggregatedList", s.igmAggregatedList)
}

func (s *Server) igmInsert(method string) handler {
	return func(r *http.Request) (proto.Message, error) {
		req := &computepb.InstanceGroupManager{}
		if err := decodeBody(r, req); err != nil {
			return nil, err
		}
		sc := igmScopeOf(r)
		return s.mutation(r, method+".insert", "compute."+method+".insert", func(p *project) (opTarget, error) {
			if err := sc.check(p.name); err != nil {
				return opTarget{}, err
			}
			m := proto.Clone(req).(*computepb.InstanceGroupManager)
			if err := s.store.newIGMLocked(p, sc, m); err != nil {
				return opTarget{}, err
			}
			return opTarget{link: m.GetSelfLink(), id: m.GetId()}, nil
		})
	}
}

// maxBaseInstanceName is Compute Engine's limit: the random suffix makes
// the instance names up to 63 characters.
const maxBaseInstanceName = 58

func (st *Store) newIGMLocked(p *project, sc igmScope, m *computepb.InstanceGroupManager) error {
	if err := checkName("resource.name", m.GetName()); err != nil {
		return err
	}
	table := sc.table(p)
	if _, exists := table[sc.loc+"/"+m.GetName()]; exists {
		return errAlreadyExists(sc.path(p.name, m.GetName()))
	}
	if err := checkName("resource.baseInstanceName", m.GetBaseInstanceName()); err != nil {
		return err
	}
	if len(m.GetBaseInstanceName()) > maxBaseInstanceName {
		return errInvalid("Invalid value for field 'resource.baseInstanceName': '%s'. The base instance name can be at most %d characters long.", m.GetBaseInstanceName(), maxBaseInstanceName)
	}
	if m.GetTargetSize() < 0 {
		return errInvalid("Invalid value for field 'resource.targetSize': '%d'. Must be greater than or equal to 0.", m.GetTargetSize())
	}
	if err := st.normaliseVersionsLocked(p, sc, m, "resource"); err != nil {
		return err
	}
	if sc.regional {
		if err := normaliseDistribution(p.name, sc.loc, m); err != nil {
			return err
		}
	}
	for i, tp := range m.TargetPools {
		m.TargetPools[i] = canonicalURL(p.name, tp)
	}
	m.UpdatePolicy = defaultUpdatePolicy(m.GetUpdatePolicy(), len(sc.zones(m)), sc.regional)
	if m.GetListManagedInstancesResults() == "" {
		m.ListManagedInstancesResults = proto.String("PAGELESS")
	}
	pruneEmpty(m.ProtoReflect())
	m.Id, m.CreationTimestamp, m.CurrentActions, m.Status = nil, nil, nil, nil
	m.Zone, m.Region, m.SelfLink, m.InstanceGroup, m.Fingerprint = nil, nil, nil, nil, nil
	st.fillIGMLocked(p, m, sc.scope())
	put(st, p, sc.kind(), table, sc.loc+"/"+m.GetName(), m)
	st.reconcileIGMLocked(p, sc, m, true)
	return nil
}

// fillIGMLocked sets what the server sets on a group (for a fixture, what
// it left out). scope is "zones/Z" or "regions/R".
func (st *Store) fillIGMLocked(p *project, m *computepb.InstanceGroupManager, scope string) {
	m.Kind = proto.String("compute#instanceGroupManager")
	if m.Id == nil {
		m.Id = proto.Uint64(st.newIDLocked())
	}
	if m.CreationTimestamp == nil {
		m.CreationTimestamp = proto.String(formatTime(st.clock()))
	}
	if strings.HasPrefix(scope, "regions/") {
		m.Region = proto.String(selfLink(p.name, scope))
	} else {
		m.Zone = proto.String(selfLink(p.name, scope))
	}
	m.SelfLink = proto.String(selfLink(p.name, scope+"/instanceGroupManagers/"+m.GetName()))
	m.InstanceGroup = proto.String(selfLink(p.name, scope+"/instanceGroups/"+m.GetName()))
	if m.Fingerprint == nil {
		m.Fingerprint = proto.String(igmFingerprint(m))
	}
}

// igmFingerprint changes whenever what a client can set on the group
// changes.
func igmFingerprint(m *computepb.InstanceGroupManager) string {
	c := proto.Clone(m).(*computepb.InstanceGroupManager)
	c.Fingerprint, c.Status, c.CurrentActions = nil, nil, nil
	return fingerprintOf(c)
}

// normaliseVersionsLocked checks the group's templates and writes them as
// Compute Engine does: versions always, instanceTemplate too when there is
// one version; template references as v1 URLs.
func (st *Store) normaliseVersionsLocked(p *project, sc igmScope, m *computepb.InstanceGroupManager, field string) error {
	if len(m.Versions) == 0 {
		if m.GetInstanceTemplate() == "" {
			return &apiError{Code: http.StatusBadRequest, Reason: "required",
				Message: "Required field '" + field + ".instanceTemplate' not specified"}
		}
		m.Versions = []*computepb.InstanceGroupManagerVersion{{InstanceTemplate: m.InstanceTemplate}}
	}
	rest := 0
	for i, v := range m.Versions {
		f := fmt.Sprintf("%s.versions[%d].instanceTemplate", field, i)
		url, err := st.resolveTemplateRefLocked(p, sc, v.GetInstanceTemplate(), f)
		if err != nil {
			return err
		}
		v.InstanceTemplate = proto.String(url)
		if v.TargetSize == nil || (v.GetTargetSize().GetFixed() == 0 && v.GetTargetSize().GetPercent() == 0) {
			v.TargetSize = nil
			rest++
		}
	}
	if len(m.Versions) > 1 && rest != 1 {
		return errInvalid("Invalid value for field '%s.versions': ''. Exactly one version must leave targetSize unset; it takes the instances the others do not.", field)
	}
	m.InstanceTemplate = nil
	if len(m.Versions) == 1 {
		m.InstanceTemplate = proto.String(m.Versions[0].GetInstanceTemplate())
	}
	return nil
}

// resolveTemplateRefLocked finds the template a group version names (global,
// or regional in the group's region; by name or id) and returns its URL
// as the group reports it.
func (st *Store) resolveTemplateRefLocked(p *project, sc igmScope, ref, field string) (string, error) {
	if ref == "" {
		return "", &apiError{Code: http.StatusBadRequest, Reason: "required", Message: "Required field '" + field + "' not specified"}
	}
	if _, t, ok := st.templateOfRefLocked(p, ref); ok {
		if region := lastSegment(t.GetRegion()); region != "" {
			groupRegion := sc.loc
			if !sc.regional {
				groupRegion = zoneRegion[sc.loc]
			}
			if region != groupRegion {
				return "", errInvalid("Invalid value for field '%s': '%s'. A regional instance template must be in the group's region, %s.", field, ref, groupRegion)
			}
		}
		return t.GetSelfLink(), nil
	}
	return "", errInvalid("Invalid value for field '%s': '%s'. The referenced instance template resource cannot be found.", field, ref)
}

// templateOfRefLocked finds the template a reference names, now.
func (st *Store) templateOfRefLocked(p *project, ref string) (*project, *computepb.InstanceTemplate, bool) {
	r, err := parseRef(ref)
	if err != nil || r.collection != "instanceTemplates" {
		return nil, nil, false
	}
	r = r.withProject(p.name)
	owner := st.projects[r.project]
	if owner == nil {
		return nil, nil, false
	}
	_, t, ok := st.findTemplateLocked(owner, r.region(), r.name, false)
	return owner, t, ok
}

// normaliseDistribution gives a regional group its zones: the ones asked
// for, or the first three of the region, spread evenly.
func normaliseDistribution(project, region string, m *computepb.InstanceGroupManager) error {
	dp := m.GetDistributionPolicy()
	if dp == nil {
		dp = &computepb.DistributionPolicy{}
		m.DistributionPolicy = dp
	}
	if len(dp.Zones) == 0 {
		var zones []string
		for _, z := range allZones {
			if zoneRegion[z] == region {
				zones = append(zones, z)
			}
		}
		for _, z := range zones[:min(3, len(zones))] {
			dp.Zones = append(dp.Zones, &computepb.DistributionPolicyZoneConfiguration{Zone: proto.String(z)})
		}
	}
	for i, z := range dp.Zones {
		name := lastSegment(z.GetZone())
		if zoneRegion[name] != region {
			return errInvalid("Invalid value for field 'resource.distributionPolicy.zones[%d].zone': '%s'. The zone must be in region %s.", i, z.GetZone(), region)
		}
		z.Zone = proto.String(selfLink(project, "zones/"+name))
	}
	if dp.GetTargetShape() == "" {
		dp.TargetShape = proto.String("EVEN")
	}
	return nil
}

// defaultUpdatePolicy fills in what Compute Engine fills in an update
// policy: OPPORTUNISTIC, minimal action REPLACE, replacement by SUBSTITUTE,
// and a surge and unavailability of one instance per zone, which Compute
// Engine reports with their calculated values.
func defaultUpdatePolicy(up *computepb.InstanceGroupManagerUpdatePolicy, zones int, regional bool) *computepb.InstanceGroupManagerUpdatePolicy {
	if up == nil {
		up = &computepb.InstanceGroupManagerUpdatePolicy{}
	}
	if up.GetType() == "" {
		up.Type = proto.String("OPPORTUNISTIC")
	}
	if up.GetMinimalAction() == "" {
		up.MinimalAction = proto.String("REPLACE")
	}
	if up.GetReplacementMethod() == "" {
		up.ReplacementMethod = proto.String("SUBSTITUTE")
	}
	if regional && up.GetInstanceRedistributionType() == "" {
		up.InstanceRedistributionType = proto.String("PROACTIVE")
	}
	fill := func(fp **computepb.FixedOrPercent) {
		if *fp == nil || ((*fp).GetFixed() == 0 && (*fp).GetPercent() == 0 && (*fp).Fixed == nil) {
			*fp = &computepb.FixedOrPercent{Fixed: proto.Int32(int32(zones))}
		}
		if (*fp).Percent != nil && (*fp).GetPercent() == 0 {
			(*fp).Percent = nil
		}
		(*fp).Calculated = proto.Int32((*fp).GetFixed())
	}
	fill(&up.MaxSurge)
	fill(&up.MaxUnavailable)
	return up
}

// groupInstancesLocked returns the group's instances, by zone/name key,
// in name order.
func (st *Store) groupInstancesLocked(p *project, m *computepb.InstanceGroupManager) []*computepb.Instance {
	createdBy := createdByValue(m)
	var out []*computepb.Instance
	for _, in := range p.instances {
		if metadataValue(in, "created-by") == createdBy {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

// createdByValue is the created-by metadata item Compute Engine writes on a
// group's instances: the group's path with the project's number.
func createdByValue(m *computepb.InstanceGroupManager) string {
	rel := relativePath(m.GetSelfLink())
	p := projectOfURL(m.GetSelfLink())
	return strings.Replace(rel, "projects/"+p+"/", "projects/"+strconv.FormatUint(projectNumber(p), 10)+"/", 1)
}

// templateValue is the instance-template metadata item for a template URL.
func templateValue(url string) string {
	rel := relativePath(url)
	p := projectOfURL(url)
	return strings.Replace(rel, "projects/"+p+"/", "projects/"+strconv.FormatUint(projectNumber(p), 10)+"/", 1)
}

func metadataValue(in *computepb.Instance, key string) string {
	for _, it := range in.GetMetadata().GetItems() {
		if it.GetKey() == key {
			return it.GetValue()
		}
	}
	return ""
}

// versionTargets is how many instances each version should run.
func versionTargets(m *computepb.InstanceGroupManager) []int {
	total := int(m.GetTargetSize())
	out := make([]int, len(m.Versions))
	rest, assigned := -1, 0
	for i, v := range m.Versions {
		ts := v.GetTargetSize()
		switch {
		case ts == nil:
			rest = i
			continue
		case ts.GetPercent() > 0:
			out[i] = int(math.Ceil(float64(total) * float64(ts.GetPercent()) / 100))
		default:
			out[i] = int(ts.GetFixed())
		}
		out[i] = min(out[i], total-assigned)
		assigned += out[i]
		if ts != nil {
			ts.Calculated = proto.Int32(int32(out[i]))
		}
	}
	if rest >= 0 {
		out[rest] = total - assigned
	}
	return out
}

// reconcileIGMLocked brings the group's instances to its target size and,
// when replace is set, to their versions' templates (an insert, or a
// PROACTIVE update): instances of a template no version names, or too many
// of one version, are deleted and made again from the version that lacks
// them. Without replace, only the count moves: new instances come from the
// versions that lack instances, and the newest go first.
func (st *Store) reconcileIGMLocked(p *project, sc igmScope, m *computepb.InstanceGroupManager, replace bool) {
	targets := versionTargets(m)
	have := st.groupInstancesLocked(p, m)
	byVersion := make([][]*computepb.Instance, len(m.Versions))
	var strays []*computepb.Instance
	for _, in := range have {
		idx := -1
		for i, v := range m.Versions {
			if metadataValue(in, "instance-template") == templateValue(v.GetInstanceTemplate()) {
				idx = i
				break
			}
		}
		if idx < 0 {
			strays = append(strays, in)
			continue
		}
		byVersion[idx] = append(byVersion[idx], in)
	}
	remove := func(in *computepb.Instance) { st.deleteInstanceLocked(p, lastSegment(in.GetZone()), in) }
	if replace {
		for _, in := range strays {
			remove(in)
		}
		strays = nil
		for i := range byVersion {
			for len(byVersion[i]) > targets[i] {
				last := byVersion[i][len(byVersion[i])-1]
				byVersion[i] = byVersion[i][:len(byVersion[i])-1]
				remove(last)
			}
		}
	}
	count := len(strays)
	for _, ins := range byVersion {
		count += len(ins)
	}
	// Too many: the strays first, then the newest of the versions with
	// more than their share.
	for count > int(m.GetTargetSize()) {
		if n := len(strays); n > 0 {
			remove(strays[n-1])
			strays = strays[:n-1]
			count--
			continue
		}
		over := -1
		for i := range byVersion {
			if len(byVersion[i]) > targets[i] && (over < 0 || len(byVersion[i])-targets[i] > len(byVersion[over])-targets[over]) {
				over = i
			}
		}
		if over < 0 {
			break
		}
		last := byVersion[over][len(byVersion[over])-1]
		byVersion[over] = byVersion[over][:len(byVersion[over])-1]
		remove(last)
		count--
	}
	creating := 0
	for i := range byVersion {
		for len(byVersion[i]) < targets[i] && count < int(m.GetTargetSize()) {
			in, err := st.newGroupInstanceLocked(p, sc, m, m.Versions[i])
			if err != nil {
				creating++
				count++
				continue
			}
			byVersion[i] = append(byVersion[i], in)
			count++
		}
	}
	m.CurrentActions = &computepb.InstanceGroupManagerActionsSummary{
		None: proto.Int32(int32(count - creating)), Creating: proto.Int32(int32(creating)),
		CreatingWithoutRetries: proto.Int32(0), Verifying: proto.Int32(0), Recreating: proto.Int32(0),
		Deleting: proto.Int32(0), Abandoning: proto.Int32(0), Restarting: proto.Int32(0), Refreshing: proto.Int32(0),
		Suspending: proto.Int32(0), Resuming: proto.Int32(0), Stopping: proto.Int32(0), Starting: proto.Int32(0),
	}
	onTarget := len(strays) == 0
	for i := range byVersion {
		onTarget = onTarget && len(byVersion[i]) == targets[i]
	}
	m.Status = &computepb.InstanceGroupManagerStatus{
		IsStable:      proto.Bool(creating == 0),
		VersionTarget: &computepb.InstanceGroupManagerStatusVersionTarget{IsReached: proto.Bool(onTarget)},
		Stateful: &computepb.InstanceGroupManagerStatusStateful{
			HasStatefulConfig:  proto.Bool(false),
			PerInstanceConfigs: &computepb.InstanceGroupManagerStatusStatefulPerInstanceConfigs{AllEffective: proto.Bool(true)},
		},
	}
}

// newGroupInstanceLocked makes one instance of the group from a version's
// template, in the zone of the group's zones with the fewest of its
// instances.
func (st *Store) newGroupInstanceLocked(p *project, sc igmScope, m *computepb.InstanceGroupManager, v *computepb.InstanceGroupManagerVersion) (*computepb.Instance, error) {
	_, t, ok := st.templateOfRefLocked(p, v.GetInstanceTemplate())
	if !ok {
		return nil, errNotFound(relativePath(v.GetInstanceTemplate()))
	}
	zones := sc.zones(m)
	perZone := map[string]int{}
	for _, in := range st.groupInstancesLocked(p, m) {
		perZone[lastSegment(in.GetZone())]++
	}
	zone := zones[0]
	for _, z := range zones[1:] {
		if perZone[z] < perZone[zone] {
			zone = z
		}
	}
	var name string
	for {
		name = m.GetBaseInstanceName() + "-" + st.randomSuffixLocked(4)
		if _, taken := p.instances[zone+"/"+name]; !taken {
			break
		}
	}
	props := proto.Clone(t.GetProperties()).(*computepb.InstanceProperties)
	in := &computepb.Instance{
		Name:              proto.String(name),
		Description:       props.Description,
		MachineType:       proto.String("zones/" + zone + "/machineTypes/" + lastSegment(props.GetMachineType())),
		Labels:            props.Labels,
		Tags:              props.Tags,
		CanIpForward:      props.CanIpForward,
		NetworkInterfaces: props.NetworkInterfaces,
		ServiceAccounts:   props.ServiceAccounts,
		Scheduling:        props.Scheduling,
		MinCpuPlatform:    props.MinCpuPlatform,
	}
	for _, ni := range in.NetworkInterfaces {
		ni.NetworkIP, ni.Fingerprint, ni.Name = nil, nil, nil
	}
	for _, ad := range props.GetDisks() {
		ad.Index, ad.Kind = nil, nil
		if ip := ad.GetInitializeParams(); ip != nil && ad.GetBoot() {
			ip.DiskName = proto.String(name)
		}
		in.Disks = append(in.Disks, ad)
	}
	items := append([]*computepb.Items(nil), props.GetMetadata().GetItems()...)
	items = append(items,
		&computepb.Items{Key: proto.String("instance-template"), Value: proto.String(templateValue(v.GetInstanceTemplate()))},
		&computepb.Items{Key: proto.String("created-by"), Value: proto.String(createdByValue(m))})
	in.Metadata = &computepb.Metadata{Items: items}
	if _, err := st.newInstanceLocked(p, zone, in); err != nil {
		return nil, err
	}
	return in, nil
}

const suffixAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// randomSuffixLocked is the random part of a group instance's name.
func (st *Store) randomSuffixLocked(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = suffixAlphabet[st.rng.Intn(len(suffixAlphabet))]
	}
	return string(b)
}

// lookupIGMLocked finds the group a request names, by name or id.
func (s *Server) lookupIGMLocked(r *http.Request, p *project) (igmScope, *computepb.InstanceGroupManager, error) {
	sc := igmScopeOf(r)
	if err := sc.check(p.name); err != nil {
		return sc, nil, err
	}
	m, ok := byNameOrID(sc.table(p), sc.loc, r.PathValue("igm"))
	if !ok {
		return sc, nil, errNotFound(sc.path(p.name, r.PathValue("igm")))
	}
	return sc, m, nil
}

func (s *Server) igmGet(r *http.Request) (proto.Message, error) {
	s.store.lock()
	defer s.store.unlock()
	_, m, err := s.lookupIGMLocked(r, s.store.readProjectLocked(r.PathValue("project")))
	if err != nil {
		return nil, err
	}
	return proto.Clone(m), nil
}

func (s *Server) igmList(r *http.Request) (proto.Message, error) {
	sc := igmScopeOf(r)
	project := r.PathValue("project")
	if err := sc.check(project); err != nil {
		return nil, err
	}
	s.store.lock()
	defer s.store.unlock()
	page, next, err := listPage(r, zonal(sc.table(s.store.readProjectLocked(project)), sc.loc))
	if err != nil {
		return nil, err
	}
	return &computepb.InstanceGroupManagerList{
		Kind:          proto.String("compute#instanceGroupManagerList"),
		Id:            proto.String("projects/" + project + "/" + sc.scope() + "/instanceGroupManagers"),
		Items:         cloneSlice(page),
		NextPageToken: optString(next),
		SelfLink:      proto.String(selfLink(project, sc.scope()+"/instanceGroupManagers")),
	}, nil
}

// igmAggregatedList lists zonal groups under zones/Z and regional ones under
// regions/R, as instanceGroupManagers.aggregatedList does.
func (s *Server) igmAggregatedList(r *http.Request) (proto.Message, error) {
	project := r.PathValue("project")
	s.store.lock()
	defer s.store.unlock()
	p := s.store.readProjectLocked(project)
	items, next, err := scopedPage(r, append(regionScopes(), zoneScopes()...), func(scope string) []*computepb.InstanceGroupManager {
		if z, ok := strings.CutPrefix(scope, "zones/"); ok {
			return zonal(p.igms, z)
		}
		return zonal(p.regionIGMs, strings.TrimPrefix(scope, "regions/"))
	}, func(ms []*computepb.InstanceGroupManager, w *computepb.Warning) *computepb.InstanceGroupManagersScopedList {
		return &computepb.InstanceGroupManagersScopedList{InstanceGroupManagers: ms, Warning: w}
	})
	if err != nil {
		return nil, err
	}
	return &computepb.InstanceGroupManagerAggregatedList{
		Kind:          proto.String("compute#instanceGroupManagerAggregatedList"),
		Id:            proto.String("projects/" + project + "/aggregated/instanceGroupManagers"),
		Items:         items,
		NextPageToken: optString(next),
		SelfLink:      proto.String(selfLink(project, "aggregated/instanceGroupManagers")),
	}, nil
}

// igmMutation is the part every group mutation shares: find the group,
// change it, reconcile its instances, refresh its fingerprint.
func (s *Server) igmMutation(r *http.Request, method, verb string, change func(p *project, sc igmScope, m *computepb.InstanceGroupManager) (replace bool, err error)) (proto.Message, error) {
	return s.mutation(r, method+"."+verb, "compute."+method+"."+verb, func(p *project) (opTarget, error) {
		sc, m, err := s.lookupIGMLocked(r, p)
		if err != nil {
			return opTarget{}, err
		}
		touched(s.store, p, sc.kind(), sc.table(p), sc.loc+"/"+m.GetName())
		replace, err := change(p, sc, m)
		if err != nil {
			return opTarget{}, err
		}
		s.store.reconcileIGMLocked(p, sc, m, replace)
		m.Fingerprint = proto.String(igmFingerprint(m))
		return opTarget{link: m.GetSelfLink(), id: m.GetId()}, nil
	})
}

// proactive reports whether a change of versions replaces the instances at
// once.
func proactive(m *computepb.InstanceGroupManager) bool {
	return m.GetUpdatePolicy().GetType() == "PROACTIVE"
}

func (s *Server) igmDelete(method string) handler {
	return func(r *http.Request) (proto.Message, error) {
		return s.mutation(r, method+".delete", "compute."+method+".delete", func(p *project) (opTarget, error) {
			sc, m, err := s.lookupIGMLocked(r, p)
			if err != nil {
				return opTarget{}, err
			}
			for _, in := range s.store.groupInstancesLocked(p, m) {
				s.store.deleteInstanceLocked(p, lastSegment(in.GetZone()), in)
			}
			drop(s.store, p, sc.kind(), sc.table(p), sc.loc+"/"+m.GetName())
			return opTarget{link: m.GetSelfLink(), id: m.GetId()}, nil
		})
	}
}

func (s *Server) igmResize(method string) handler {
	return func(r *http.Request) (proto.Message, error) {
		v := r.URL.Query().Get("size")
		size, err := strconv.Atoi(v)
		if v == "" {
			return nil, &apiError{Code: http.StatusBadRequest, Reason: "required", Message: "Required field 'size' not specified"}
		}
		if err != nil || size < 0 {
			return nil, errInvalid("Invalid value for field 'size': '%s'. Must be greater than or equal to 0.", v)
		}
		return s.igmMutation(r, method, "resize", func(_ *project, _ igmScope, m *computepb.InstanceGroupManager) (bool, error) {
			m.TargetSize = proto.Int32(int32(size))
			return false, nil
		})
	}
}

func (s *Server) igmSetInstanceTemplate(method string) handler {
	return func(r *http.Request) (proto.Message, error) {
		body := &computepb.InstanceGroupManagersSetInstanceTemplateRequest{}
		if err := decodeBody(r, body); err != nil {
			return nil, err
		}
		return s.igmMutation(r, method, "setInstanceTemplate", func(p *project, sc igmScope, m *computepb.InstanceGroupManager) (bool, error) {
			changed := proto.Clone(m).(*computepb.InstanceGroupManager)
			changed.Versions, changed.InstanceTemplate = nil, body.InstanceTemplate
			if err := s.store.normaliseVersionsLocked(p, sc, changed, "resource"); err != nil {
				return false, err
			}
			m.Versions, m.InstanceTemplate = changed.Versions, changed.InstanceTemplate
			return proactive(m), nil
		})
	}
}

// igmServerFields are what a patch cannot change.
var igmServerFields = []string{"kind", "id", "name", "creationTimestamp", "selfLink", "zone", "region",
	"instanceGroup", "currentActions", "status", "fingerprint"}

// igmPatch applies a JSON merge patch (RFC 7396, as Compute Engine's PATCH
// methods take it) to the group. A fingerprint in the body must match the
// group's. A change of versions replaces instances under a PROACTIVE
// update policy.
func (s *Server) igmPatch(method string) handler {
	return func(r *http.Request) (proto.Message, error) {
		body := &computepb.InstanceGroupManager{}
		keys, err := decodeBodyKeys(r, body)
		if err != nil {
			return nil, err
		}
		return s.igmMutation(r, method, "patch", func(p *project, sc igmScope, m *computepb.InstanceGroupManager) (bool, error) {
			if fp := body.GetFingerprint(); fp != "" && !sameFingerprint(fp, m.GetFingerprint()) {
				return false, errConditionNotMet("Supplied fingerprint does not match current fingerprint.")
			}
			patch := map[string]json.RawMessage{}
			for k, v := range keys {
				patch[k] = v
			}
			for _, f := range igmServerFields {
				delete(patch, f)
			}
			merged, err := mergePatch(m, patch)
			if err != nil {
				return false, err
			}
			changed := &computepb.InstanceGroupManager{}
			if err := unmarshalState.Unmarshal(merged, changed); err != nil {
				return false, errInvalid("Invalid JSON payload received. %s", protojsonReason(err))
			}
			if err := s.store.normaliseVersionsLocked(p, sc, changed, "resource"); err != nil {
				return false, err
			}
			if changed.GetTargetSize() < 0 {
				return false, errInvalid("Invalid value for field 'resource.targetSize': '%d'. Must be greater than or equal to 0.", changed.GetTargetSize())
			}
			pruneEmpty(changed.ProtoReflect())
			changed.UpdatePolicy = defaultUpdatePolicy(changed.GetUpdatePolicy(), len(sc.zones(changed)), sc.regional)
			versionsChanged := !proto.Equal(&computepb.InstanceGroupManager{Versions: m.Versions}, &computepb.InstanceGroupManager{Versions: changed.Versions})
			proto.Reset(m)
			proto.Merge(m, changed)
			return versionsChanged && proactive(m), nil
		})
	}
}

// pruneEmpty clears what Compute Engine does not echo: empty strings and
// objects with nothing in them. Clients send both freely (the Terraform
// provider sends "resourcePolicies": {"workloadPolicy": null} for a group
// without one) and read an object that is present as a block that is set.
// It reports whether anything is left in m.
func pruneEmpty(m protoreflect.Message) bool {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				pruneEmpty(l.Get(i).Message())
			}
		case fd.IsMap():
		case fd.Message() != nil:
			if !pruneEmpty(v.Message()) {
				m.Clear(fd)
			}
		case fd.Kind() == protoreflect.StringKind && v.String() == "":
			m.Clear(fd)
		}
		return true
	})
	empty := true
	m.Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool { empty = false; return false })
	return !empty
}

// mergePatch applies an RFC 7396 merge patch to m's JSON form.
func mergePatch(m proto.Message, patch map[string]json.RawMessage) ([]byte, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	for k, raw := range patch {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, errInvalid("Invalid JSON payload received. %v", err)
		}
		doc[k] = mergeValue(doc[k], v)
		if doc[k] == nil {
			delete(doc, k)
		}
	}
	return json.Marshal(doc)
}

func mergeValue(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch // null deletes; scalars and arrays replace
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergeValue(t[k], v)
	}
	return t
}

// igmListManagedInstances lists the group's instances with the version each
// runs. Every instance is RUNNING with nothing to do.
func (s *Server) igmListManagedInstances(r *http.Request) (proto.Message, error) {
	s.store.lock()
	defer s.store.unlock()
	p := s.store.readProjectLocked(r.PathValue("project"))
	_, m, err := s.lookupIGMLocked(r, p)
	if err != nil {
		return nil, err
	}
	var out []*computepb.ManagedInstance
	for _, in := range s.store.groupInstancesLocked(p, m) {
		mi := &computepb.ManagedInstance{
			Instance:       in.SelfLink,
			Id:             in.Id,
			Name:           in.Name,
			InstanceStatus: in.Status,
			CurrentAction:  proto.String("NONE"),
		}
		for _, v := range m.Versions {
			if metadataValue(in, "instance-template") == templateValue(v.GetInstanceTemplate()) {
				mi.Version = &computepb.ManagedInstanceVersion{InstanceTemplate: v.InstanceTemplate, Name: v.Name}
			}
		}
		if mi.Version == nil {
			mi.Version = &computepb.ManagedInstanceVersion{InstanceTemplate: proto.String(s.store.templateURLOfValueLocked(metadataValue(in, "instance-template")))}
		}
		out = append(out, mi)
	}
	return &computepb.InstanceGroupManagersListManagedInstancesResponse{ManagedInstances: out}, nil
}

// templateURLOfValueLocked turns an instance-template metadata value, which
// names the project by number, back into a template URL.
func (st *Store) templateURLOfValueLocked(v string) string {
	parts := strings.SplitN(v, "/", 3)
	if len(parts) == 3 && parts[0] == "projects" {
		for name := range st.projects {
			if strconv.FormatUint(projectNumber(name), 10) == parts[1] {
				return apiRoot + "projects/" + name + "/" + parts[2]
			}
		}
	}
	return apiRoot + v
}
