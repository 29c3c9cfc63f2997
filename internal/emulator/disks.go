package emulator

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// diskRoutes registers disks.*.
func (s *Server) diskRoutes() {
	const disks = "projects/{project}/zones/{zone}/disks"
	s.route("POST", disks, "disks.insert", s.diskInsert)
	s.route("GET", disks, "disks.list", s.diskList)
	s.route("GET", disks+"/{disk}", "disks.get", s.diskGet)
	s.route("DELETE", disks+"/{disk}", "disks.delete", s.diskDelete)
	s.route("GET", "projects/{project}/aggregated/disks", "disks.aggregatedList", s.diskAggregatedList)
}

// Default disk sizes: a disk made from nothing, and one made from an
// image that does not say how large it is.
const (
	defaultBlankDiskGb = 500
	defaultImageDiskGb = 10
)

// resolveImageForUseLocked resolves an image reference the way Compute Engine
// does when a disk is made from it: any spelling (parseImageRef),
// a family reference follows the family head (the newest READY image whose
// deprecation state is absent or ACTIVE, as images.getFromFamily), and an
// image that is not READY, OBSOLETE or DELETED is refused. warning is set for
// a DEPRECATED image, which Compute Engine still accepts with a warning.
func (st *Store) resolveImageForUseLocked(defaultProject, ref string) (img *computepb.Image, warning *computepb.Warnings, err error) {
	p, img, err := st.resolveImageLocked(defaultProject, ref, "sourceImage")
	if err != nil {
		return nil, nil, err
	}
	path := imagePath(p.name, img.GetName())
	if img.GetStatus() != "READY" {
		return nil, nil, errResourceNotReady(fmt.Sprintf("The resource '%s' is not ready", path))
	}
	dep := img.GetDeprecated()
	switch state := dep.GetState(); state {
	case "OBSOLETE", "DELETED":
		return nil, nil, &apiError{Code: http.StatusBadRequest, Reason: "badRequest",
			Message: fmt.Sprintf("The resource '%s' is %s.  New uses are not allowed.  %s", path, strings.ToLower(state), replacementSentence(dep))}
	case "DEPRECATED":
		warning = &computepb.Warnings{
			Code:    proto.String("DEPRECATED_RESOURCE_USED"),
			Message: proto.String(fmt.Sprintf("The resource '%s' is deprecated. %s", path, replacementSentence(dep))),
			Data:    []*computepb.Data{{Key: proto.String("resource_name"), Value: proto.String(path)}},
		}
	}
	return img, warning, nil
}

func replacementSentence(dep *computepb.DeprecationStatus) string {
	if dep.GetReplacement() == "" {
		return "No replacement was specified."
	}
	repl := dep.GetReplacement()
	if ref, err := parseImageRef(repl, ""); err == nil && ref.project != "" {
		repl = ref.path()
	}
	return fmt.Sprintf("A suggested replacement is '%s'.", repl)
}

// newDiskLocked builds a disk in zone from an insert request (or from an
// instance's initializeParams) and stores it.
func (st *Store) newDiskLocked(p *project, zone string, d *computepb.Disk) (warning *computepb.Warnings, err error) {
	if err := checkName("resource.name", d.GetName()); err != nil {
		return nil, err
	}
	key := zone + "/" + d.GetName()
	if _, exists := p.disks[key]; exists {
		return nil, errAlreadyExists(fmt.Sprintf("projects/%s/zones/%s/disks/%s", p.name, zone, d.GetName()))
	}
	if err := checkLabels("resource.labels", d.GetLabels()); err != nil {
		return nil, err
	}
	if d.SizeGb != nil && d.GetSizeGb() <= 0 {
		return nil, errInvalid("Invalid value for field 'resource.sizeGb': '%d'. Disk size must be a positive number of GB.", d.GetSizeGb())
	}
	if src := d.GetSourceImage(); src != "" {
		img, warn, err := st.resolveImageForUseLocked(p.name, src)
		if err != nil {
			return nil, err
		}
		warning = warn
		imageGb := img.GetDiskSizeGb()
		if imageGb <= 0 {
			imageGb = defaultImageDiskGb
		}
		if d.SizeGb == nil {
			d.SizeGb = proto.Int64(imageGb)
		} else if d.GetSizeGb() < imageGb {
			return nil, errInvalid("Invalid value for field 'resource.sizeGb': '%d'. Requested disk size cannot be smaller than the image size (%d GB)", d.GetSizeGb(), imageGb)
		}
		d.SourceImage = proto.String(img.GetSelfLink())
		d.SourceImageId = proto.String(fmt.Sprint(img.GetId()))
		d.Licenses = append([]string(nil), img.GetLicenses()...)
		d.GuestOsFeatures = cloneSlice(img.GetGuestOsFeatures())
		if img.Architecture != nil {
			d.Architecture = proto.String(img.GetArchitecture())
		}
	} else if d.SizeGb == nil {
		d.SizeGb = proto.Int64(defaultBlankDiskGb)
	}
	diskType := "pd-standard"
	if d.GetType() != "" {
		diskType = lastSegment(d.GetType())
	}
	d.Type = proto.String(selfLink(p.name, "zones/"+zone+"/diskTypes/"+diskType))
	d.Id = nil
	d.CreationTimestamp = nil
	d.Status = proto.String("READY")
	d.Users = nil
	d.LabelFingerprint = proto.String(labelFingerprint(d.GetLabels()))
	d.PhysicalBlockSizeBytes = proto.Int64(4096)
	st.fillDiskLocked(p, d, zone)
	put(st, p, kindDisk, p.disks, key, d)
	return warning, nil
}

func cloneSlice[M proto.Message](in []M) []M {
	if in == nil {
		return nil
	}
	out := make([]M, len(in))
	for i, m := range in {
		out[i] = proto.Clone(m).(M)
	}
	return out
}

func (s *Server) diskInsert(r *http.Request) (proto.Message, error) {
	req := &computepb.Disk{}
	if err := decodeBody(r, req); err != nil {
		return nil, err
	}
	// disks.insert also takes the source image as a query parameter.
	if src := r.URL.Query().Get("sourceImage"); src != "" {
		req.SourceImage = proto.String(src)
	}
	zone := r.PathValue("zone")
	return s.mutation(r, "disks.insert", "insert", func(p *project) (opTarget, error) {
		if err := checkZone(p.name, zone); err != nil {
			return opTarget{}, err
		}
		d := proto.Clone(req).(*computepb.Disk)
		warning, err := s.store.newDiskLocked(p, zone, d)
		if err != nil {
			return opTarget{}, err
		}
		target := opTarget{link: d.GetSelfLink(), id: d.GetId()}
		if warning != nil {
			target.warnings = append(target.warnings, warning)
		}
		return target, nil
	})
}

func (s *Server) diskGet(r *http.Request) (proto.Message, error) {
	project, zone, name := r.PathValue("project"), r.PathValue("zone"), r.PathValue("disk")
	if err := checkZone(project, zone); err != nil {
		return nil, err
	}
	s.store.lock()
	defer s.store.unlock()
	p := s.store.readProjectLocked(project)
	d, ok := byNameOrID(p.disks, zone, name)
	if !ok {
		return nil, errNotFound(fmt.Sprintf("projects/%s/zones/%s/disks/%s", project, zone, name))
	}
	return proto.Clone(d), nil
}

func (s *Server) diskList(r *http.Request) (proto.Message, error) {
	page, next, err := zonalPage(s, r, func(p *project) map[string]*computepb.Disk { return p.disks })
	if err != nil {
		return nil, err
	}
	project, zone := r.PathValue("project"), r.PathValue("zone")
	return &computepb.DiskList{
		Kind:          proto.String("compute#diskList"),
		Id:            proto.String("projects/" + project + "/zones/" + zone + "/disks"),
		Items:         page,
		NextPageToken: optString(next),
		SelfLink:      proto.String(selfLink(project, "zones/"+zone+"/disks")),
	}, nil
}

// byNameOrID finds a zonal or regional resource (keys "scope/name") in
// scope by name or, as Compute Engine allows, by its numeric id.
func byNameOrID[M interface {
	proto.Message
	GetId() uint64
}](m map[string]M, scope, nameOrID string) (M, bool) {
	if v, ok := m[scope+"/"+nameOrID]; ok {
		return v, true
	}
	var zero M
	id, ok := numericID(nameOrID)
	if !ok {
		return zero, false
	}
	for k, v := range m {
		if v.GetId() == id && strings.HasPrefix(k, scope+"/") {
			return v, true
		}
	}
	return zero, false
}

// zonalPage is the page a zonal list (disks.list, instances.list) serves: the
// resources of the request's zone in the map that pick chooses, paged by
// listPage and cloned while the store is locked.
func zonalPage[M proto.Message](s *Server, r *http.Request, pick func(*project) map[string]M) ([]M, string, error) {
	project, zone := r.PathValue("project"), r.PathValue("zone")
	if err := checkZone(project, zone); err != nil {
		return nil, "", err
	}
	s.store.lock()
	defer s.store.unlock()
	page, next, err := listPage(r, zonal(pick(s.store.readProjectLocked(project)), zone))
	if err != nil {
		return nil, "", err
	}
	return cloneSlice(page), next, nil
}

// zonal returns the resources of one zone (keys "zone/name") in name order;
// an empty zone returns every zone's, ordered by zone then name.
func zonal[M proto.Message](m map[string]M, zone string) []M {
	keys := make([]string, 0, len(m))
	for k := range m {
		if zone == "" || strings.HasPrefix(k, zone+"/") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]M, 0, len(keys))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}

func (s *Server) diskDelete(r *http.Request) (proto.Message, error) {
	zone, name := r.PathValue("zone"), r.PathValue("disk")
	return s.mutation(r, "disks.delete", "delete", func(p *project) (opTarget, error) {
		if err := checkZone(p.name, zone); err != nil {
			return opTarget{}, err
		}
		d, ok := byNameOrID(p.disks, zone, name)
		if !ok {
			return opTarget{}, errNotFound(fmt.Sprintf("projects/%s/zones/%s/disks/%s", p.name, zone, name))
		}
		if users := d.GetUsers(); len(users) > 0 {
			return opTarget{}, &apiError{Code: http.StatusBadRequest, Reason: "resourceInUseByAnotherResource",
				Message: fmt.Sprintf("The disk resource '%s' is already being used by '%s'", relativePath(d.GetSelfLink()), relativePath(users[0]))}
		}
		drop(s.store, p, kindDisk, p.disks, zone+"/"+d.GetName())
		return opTarget{link: d.GetSelfLink(), id: d.GetId()}, nil
	})
}

func (s *Server) diskAggregatedList(r *http.Request) (proto.Message, error) {
	project := r.PathValue("project")
	s.store.lock()
	defer s.store.unlock()
	p := s.store.readProjectLocked(project)
	items, next, err := scopedPage(r, append(zoneScopes(), regionScopes()...), func(scope string) []*computepb.Disk {
		if !strings.HasPrefix(scope, "zones/") {
			return nil // no regional disks here
		}
		return zonal(p.disks, strings.TrimPrefix(scope, "zones/"))
	}, func(d []*computepb.Disk, w *computepb.Warning) *computepb.DisksScopedList {
		return &computepb.DisksScopedList{Disks: d, Warning: w}
	})
	if err != nil {
		return nil, err
	}
	return &computepb.DiskAggregatedList{
		Kind:          proto.String("compute#diskAggregatedList"),
		Id:            proto.String("projects/" + project + "/aggregated/disks"),
		Items:         items,
		NextPageToken: optString(next),
		SelfLink:      proto.String(selfLink(project, "aggregated/disks")),
	}, nil
}
