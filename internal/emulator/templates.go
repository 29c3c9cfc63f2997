package emulator

import (
	"fmt"
	"net/http"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// Instance templates, global (instanceTemplates.*) and regional
// (regionInstanceTemplates.*). A template keeps
// properties.disks[].initializeParams.sourceImage exactly as given, an image
// or a .../family/F URL: in-use detection reads it back, and a family
// reference follows whatever heads the family when an instance is made.

// templateRoutes registers instanceTemplates.* and regionInstanceTemplates.*.
func (s *Server) templateRoutes() {
	for _, t := range []struct{ prefix, name string }{
		{"projects/{project}/global/instanceTemplates", "instanceTemplates"},
		{"projects/{project}/regions/{region}/instanceTemplates", "regionInstanceTemplates"},
	} {
		s.route("POST", t.prefix, t.name+".insert", s.templateInsert(t.name))
		s.route("GET", t.prefix, t.name+".list", s.templateList)
		s.route("GET", t.prefix+"/{template}", t.name+".get", s.templateGet)
		s.route("DELETE", t.prefix+"/{template}", t.name+".delete", s.templateDelete(t.name))
	}
	s.route("GET", "projects/{project}/aggregated/instanceTemplates", "instanceTemplates.aggregatedList", s.templateAggregatedList)
}

func templatePath(project, region, name string) string {
	if region == "" {
		return fmt.Sprintf("projects/%s/global/instanceTemplates/%s", project, name)
	}
	return fmt.Sprintf("projects/%s/regions/%s/instanceTemplates/%s", project, region, name)
}

// templateKind is the kind of the templates of a request: regional ones
// when it names a region.
func templateKind(region string) string {
	if region == "" {
		return kindTemplate
	}
	return kindRegionTemplate
}

// templateMap returns the map and key a template of this request lives under.
func templateMap(p *project, region, name string) (map[string]*computepb.InstanceTemplate, string) {
	if region == "" {
		return p.templates, name
	}
	return p.regionalTemplates, region + "/" + name
}

func (s *Server) templateInsert(method string) handler {
	return func(r *http.Request) (proto.Message, error) {
		req := &computepb.InstanceTemplate{}
		if err := decodeBody(r, req); err != nil {
			return nil, err
		}
		region := r.PathValue("region")
		return s.mutation(r, method+".insert", "compute."+method+".insert", func(p *project) (opTarget, error) {
			t := proto.Clone(req).(*computepb.InstanceTemplate)
			if err := s.store.newTemplateLocked(p, region, t); err != nil {
				return opTarget{}, err
			}
			return opTarget{link: t.GetSelfLink(), id: t.GetId()}, nil
		})
	}
}

func (st *Store) newTemplateLocked(p *project, region string, t *computepb.InstanceTemplate) error {
	if region != "" {
		if err := checkRegion(p.name, region); err != nil {
			return err
		}
	}
	if err := checkName("resource.name", t.GetName()); err != nil {
		return err
	}
	m, key := templateMap(p, region, t.GetName())
	if _, exists := m[key]; exists {
		return errAlreadyExists(templatePath(p.name, region, t.GetName()))
	}
	if src := t.GetSourceInstance(); src != "" {
		props, err := st.propertiesFromInstanceLocked(p, src)
		if err != nil {
			return err
		}
		if t.Properties == nil {
			t.Properties = props
		}
	}
	props := t.GetProperties()
	if props == nil {
		return &apiError{Code: http.StatusBadRequest, Reason: "required", Message: "Required field 'resource.properties' not specified"}
	}
	if props.GetMachineType() == "" {
		return &apiError{Code: http.StatusBadRequest, Reason: "required", Message: "Required field 'resource.properties.machineType' not specified"}
	}
	if _, ok := machineTypeMessage(p.name, "us-central1-a", lastSegment(props.GetMachineType())); !ok {
		return errInvalid("Invalid value for field 'resource.properties.machineType': '%s'. Machine type with name '%s' does not exist.", props.GetMachineType(), lastSegment(props.GetMachineType()))
	}
	for i, ad := range props.GetDisks() {
		ad.Kind = proto.String("compute#attachedDisk")
		if ad.GetType() == "" {
			ad.Type = proto.String("PERSISTENT")
		}
		if ad.GetMode() == "" {
			ad.Mode = proto.String("READ_WRITE")
		}
		ad.Index = proto.Int32(int32(i))
		src := ad.GetInitializeParams().GetSourceImage()
		if src == "" {
			continue
		}
		// Compute Engine checks the image exists when the template is made;
		// later deletions are not prevented.
		if _, _, err := st.resolveImageForUseLocked(p.name, src); err != nil {
			if ae, ok := err.(*apiError); ok && ae.Code == http.StatusNotFound {
				return errInvalid("Invalid value for field 'resource.properties.disks[%d].initializeParams.sourceImage': '%s'. The referenced image resource cannot be found.", i, src)
			}
			return err
		}
	}
	if props.Metadata != nil {
		props.Metadata = normalMetadata(props.Metadata)
	}
	for _, ni := range props.GetNetworkInterfaces() {
		ni.Kind = proto.String("compute#networkInterface")
		if ni.GetNetwork() == "" {
			ni.Network = proto.String(canonicalURL(p.name, "global/networks/default"))
		}
		for j, ac := range ni.AccessConfigs {
			if ac == nil {
				ac = &computepb.AccessConfig{}
				ni.AccessConfigs[j] = ac
			}
			ac.Kind = proto.String("compute#accessConfig")
		}
	}
	t.Id, t.CreationTimestamp, t.SelfLink, t.Region = nil, nil, nil, nil
	st.fillTemplateLocked(p, t, region)
	put(st, p, templateKind(region), m, key, t)
	return nil
}

// propertiesFromInstanceLocked builds template properties from an instance,
// for insert with sourceInstance: the boot disk keeps the image its disk was
// made from.
func (st *Store) propertiesFromInstanceLocked(p *project, src string) (*computepb.InstanceProperties, error) {
	url := canonicalURL(p.name, src)
	zone := zoneOfURL(url)
	in, ok := st.readProjectLocked(projectOfURL(url)).instances[zone+"/"+lastSegment(url)]
	if !ok {
		return nil, errInvalid("Invalid value for field 'resource.sourceInstance': '%s'. The referenced instance resource cannot be found.", src)
	}
	props := &computepb.InstanceProperties{
		MachineType:     proto.String(lastSegment(in.GetMachineType())),
		Description:     in.Description,
		Labels:          in.GetLabels(),
		Tags:            &computepb.Tags{Items: in.GetTags().GetItems()},
		Scheduling:      proto.Clone(in.GetScheduling()).(*computepb.Scheduling),
		ServiceAccounts: cloneSlice(in.GetServiceAccounts()),
	}
	if md := in.GetMetadata(); md != nil {
		props.Metadata = &computepb.Metadata{Items: cloneSlice(md.GetItems())}
	}
	owner := st.readProjectLocked(projectOfURL(url))
	for _, ad := range in.GetDisks() {
		d := owner.disks[zoneOfURL(ad.GetSource())+"/"+lastSegment(ad.GetSource())]
		td := &computepb.AttachedDisk{
			Boot:       ad.Boot,
			AutoDelete: ad.AutoDelete,
			DeviceName: ad.DeviceName,
			Mode:       ad.Mode,
			Type:       ad.Type,
			Interface:  ad.Interface,
		}
		if d != nil {
			td.InitializeParams = &computepb.AttachedDiskInitializeParams{
				SourceImage: d.SourceImage,
				DiskSizeGb:  d.SizeGb,
				DiskType:    proto.String(lastSegment(d.GetType())),
			}
		}
		props.Disks = append(props.Disks, td)
	}
	for _, ni := range in.GetNetworkInterfaces() {
		tni := &computepb.NetworkInterface{Network: ni.Network, Subnetwork: ni.Subnetwork}
		for _, ac := range ni.GetAccessConfigs() {
			tni.AccessConfigs = append(tni.AccessConfigs, &computepb.AccessConfig{Name: ac.Name, Type: ac.Type, NetworkTier: ac.NetworkTier})
		}
		props.NetworkInterfaces = append(props.NetworkInterfaces, tni)
	}
	return props, nil
}

func (s *Server) templateGet(r *http.Request) (proto.Message, error) {
	project, region, name := r.PathValue("project"), r.PathValue("region"), r.PathValue("template")
	if region != "" {
		if err := checkRegion(project, region); err != nil {
			return nil, err
		}
	}
	s.store.lock()
	defer s.store.unlock()
	_, t, ok := s.store.findTemplateLocked(s.store.readProjectLocked(project), region, name, true)
	if !ok {
		return nil, errNotFound(templatePath(project, region, name))
	}
	return proto.Clone(t), nil
}

// templateUserLocked names a managed instance group whose versions use the
// template, or is "": Compute Engine refuses to delete a template in use.
func (st *Store) templateUserLocked(url string) string {
	for _, p := range st.projects {
		for _, table := range []map[string]*computepb.InstanceGroupManager{p.igms, p.regionIGMs} {
			for _, m := range table {
				for _, v := range m.GetVersions() {
					if v.GetInstanceTemplate() == url {
						return relativePath(m.GetSelfLink())
					}
				}
			}
		}
	}
	return ""
}

// findTemplateLocked finds a template by name or, as Compute Engine allows
// (the Terraform provider reads global templates back by id), by numeric
// id; as it is now, or with forRead as readers see it (read lag). It
// returns the template's key in its map.
func (st *Store) findTemplateLocked(p *project, region, nameOrID string, forRead bool) (string, *computepb.InstanceTemplate, bool) {
	m, key := templateMap(p, region, nameOrID)
	kind := templateKind(region)
	if forRead {
		m = visibleKeyed(st, p.name, kind, m)
	}
	if t, ok := m[key]; ok {
		return key, t, true
	}
	if id, ok := numericID(nameOrID); ok {
		prefix := ""
		if region != "" {
			prefix = region + "/"
		}
		for k, t := range m {
			if t.GetId() == id && strings.HasPrefix(k, prefix) {
				return k, t, true
			}
		}
	}
	return "", nil, false
}

func (s *Server) templateList(r *http.Request) (proto.Message, error) {
	project, region := r.PathValue("project"), r.PathValue("region")
	scope := "global"
	if region != "" {
		if err := checkRegion(project, region); err != nil {
			return nil, err
		}
		scope = "regions/" + region
	}
	s.store.lock()
	defer s.store.unlock()
	p := s.store.readProjectLocked(project)
	var items []*computepb.InstanceTemplate
	if region == "" {
		items = zonal(visibleKeyed(s.store, project, kindTemplate, p.templates), "")
	} else {
		items = zonal(visibleKeyed(s.store, project, kindRegionTemplate, p.regionalTemplates), region)
	}
	page, next, err := listPage(r, items)
	if err != nil {
		return nil, err
	}
	return &computepb.InstanceTemplateList{
		Kind:          proto.String("compute#instanceTemplateList"),
		Id:            proto.String("projects/" + project + "/" + scope + "/instanceTemplates"),
		Items:         cloneSlice(page),
		NextPageToken: optString(next),
		SelfLink:      proto.String(selfLink(project, scope+"/instanceTemplates")),
	}, nil
}

func (s *Server) templateDelete(method string) handler {
	return func(r *http.Request) (proto.Message, error) {
		region, name := r.PathValue("region"), r.PathValue("template")
		return s.mutation(r, method+".delete", "compute."+method+".delete", func(p *project) (opTarget, error) {
			if region != "" {
				if err := checkRegion(p.name, region); err != nil {
					return opTarget{}, err
				}
			}
			key, t, ok := s.store.findTemplateLocked(p, region, name, false)
			if !ok {
				return opTarget{}, errNotFound(templatePath(p.name, region, name))
			}
			if user := s.store.templateUserLocked(t.GetSelfLink()); user != "" {
				return opTarget{}, &apiError{Code: http.StatusBadRequest, Reason: "resourceInUseByAnotherResource",
					Message: fmt.Sprintf("The instance_template resource '%s' is already being used by '%s'", relativePath(t.GetSelfLink()), user)}
			}
			m, _ := templateMap(p, region, name)
			drop(s.store, p, templateKind(region), m, key)
			return opTarget{link: t.GetSelfLink(), id: t.GetId()}, nil
		})
	}
}

// templateAggregatedList lists global templates under "global" and regional
// ones under "regions/R", as instanceTemplates.aggregatedList does.
func (s *Server) templateAggregatedList(r *http.Request) (proto.Message, error) {
	project := r.PathValue("project")
	s.store.lock()
	defer s.store.unlock()
	p := s.store.readProjectLocked(project)
	scopes := append([]string{"global"}, regionScopes()...)
	global := visibleKeyed(s.store, project, kindTemplate, p.templates)
	regional := visibleKeyed(s.store, project, kindRegionTemplate, p.regionalTemplates)
	items, next, err := scopedPage(r, scopes, func(scope string) []*computepb.InstanceTemplate {
		if scope == "global" {
			return zonal(global, "")
		}
		return zonal(regional, strings.TrimPrefix(scope, "regions/"))
	}, func(t []*computepb.InstanceTemplate, w *computepb.Warning) *computepb.InstanceTemplatesScopedList {
		return &computepb.InstanceTemplatesScopedList{InstanceTemplates: t, Warning: w}
	})
	if err != nil {
		return nil, err
	}
	return &computepb.InstanceTemplateAggregatedList{
		Kind:          proto.String("compute#instanceTemplateAggregatedList"),
		Id:            proto.String("projects/" + project + "/aggregated/instanceTemplates"),
		Items:         items,
		NextPageToken: optString(next),
		SelfLink:      proto.String(selfLink(project, "aggregated/instanceTemplates")),
	}, nil
}
