package emulator

import (
	"net/http"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// aggregatePage applies a list request to the resources of every scope as
// one flattened list, so that filter, orderBy, maxResults and pageToken work
// across scopes as in Compute Engine, and groups the page by scope.
// returnPartialSuccess and includeAllScopes are accepted and ignored: every
// scope is always reachable here.
func aggregatePage[T proto.Message](r *http.Request, items []T, scopeOf func(T) string) (map[string][]T, string, error) {
	page, next, err := listPage(r, items)
	if err != nil {
		return nil, "", err
	}
	out := map[string][]T{}
	for _, it := range page {
		scope := scopeOf(it)
		out[scope] = append(out[scope], proto.Clone(it).(T))
	}
	return out, next, nil
}

func zoneScope(zoneURL string) string { return "zones/" + lastSegment(zoneURL) }

func zoneScopes() []string {
	out := make([]string, 0, len(allZones))
	for _, z := range allZones {
		out = append(out, "zones/"+z)
	}
	return out
}

func regionScopes() []string {
	out := make([]string, 0, len(allRegions))
	for _, rg := range allRegions {
		out = append(out, "regions/"+rg)
	}
	return out
}

func (s *Server) instanceAggregatedList(r *http.Request) (proto.Message, error) {
	project := r.PathValue("project")
	s.store.lock()
	defer s.store.unlock()
	p := s.store.readProjectLocked(project)
	groups, next, err := aggregatePage(r, zonal(p.instances, ""), func(in *computepb.Instance) string { return zoneScope(in.GetZone()) })
	if err != nil {
		return nil, err
	}
	items := map[string]*computepb.InstancesScopedList{}
	for _, scope := range zoneScopes() {
		if g := groups[scope]; len(g) > 0 {
			items[scope] = &computepb.InstancesScopedList{Instances: g}
		} else {
			items[scope] = &computepb.InstancesScopedList{Warning: noResultsWarning(scope)}
		}
	}
	return &computepb.InstanceAggregatedList{
		Kind:          proto.String("compute#instanceAggregatedList"),
		Id:            proto.String("projects/" + project + "/aggregated/instances"),
		Items:         items,
		NextPageToken: optString(next),
		SelfLink:      proto.String(selfLink(project, "aggregated/instances")),
	}, nil
}

func (s *Server) diskAggregatedList(r *http.Request) (proto.Message, error) {
	project := r.PathValue("project")
	s.store.lock()
	defer s.store.unlock()
	p := s.store.readProjectLocked(project)
	groups, next, err := aggregatePage(r, zonal(p.disks, ""), func(d *computepb.Disk) string { return zoneScope(d.GetZone()) })
	if err != nil {
		return nil, err
	}
	items := map[string]*computepb.DisksScopedList{}
	for _, scope := range append(zoneScopes(), regionScopes()...) {
		if g := groups[scope]; len(g) > 0 {
			items[scope] = &computepb.DisksScopedList{Disks: g}
		} else {
			items[scope] = &computepb.DisksScopedList{Warning: noResultsWarning(scope)}
		}
	}
	return &computepb.DiskAggregatedList{
		Kind:          proto.String("compute#diskAggregatedList"),
		Id:            proto.String("projects/" + project + "/aggregated/disks"),
		Items:         items,
		NextPageToken: optString(next),
		SelfLink:      proto.String(selfLink(project, "aggregated/disks")),
	}, nil
}

// templateAggregatedList lists global templates under "global" and regional
// ones under "regions/R", as instanceTemplates.aggregatedList does.
func (s *Server) templateAggregatedList(r *http.Request) (proto.Message, error) {
	project := r.PathValue("project")
	s.store.lock()
	defer s.store.unlock()
	p := s.store.readProjectLocked(project)
	all := append(zonal(p.templates, ""), zonal(p.regionalTemplates, "")...)
	groups, next, err := aggregatePage(r, all, func(t *computepb.InstanceTemplate) string {
		if t.GetRegion() == "" {
			return "global"
		}
		return "regions/" + lastSegment(t.GetRegion())
	})
	if err != nil {
		return nil, err
	}
	items := map[string]*computepb.InstanceTemplatesScopedList{}
	for _, scope := range append([]string{"global"}, regionScopes()...) {
		if g := groups[scope]; len(g) > 0 {
			items[scope] = &computepb.InstanceTemplatesScopedList{InstanceTemplates: g}
		} else {
			items[scope] = &computepb.InstanceTemplatesScopedList{Warning: noResultsWarning(scope)}
		}
	}
	return &computepb.InstanceTemplateAggregatedList{
		Kind:          proto.String("compute#instanceTemplateAggregatedList"),
		Id:            proto.String("projects/" + project + "/aggregated/instanceTemplates"),
		Items:         items,
		NextPageToken: optString(next),
		SelfLink:      proto.String(selfLink(project, "aggregated/instanceTemplates")),
	}, nil
}

// operationAggregatedList is globalOperations.aggregatedList, what
// `gcloud compute operations list` reads: every operation of the project
// under its scope ("global", "zones/Z", "regions/R").
func (s *Server) operationAggregatedList(r *http.Request) (proto.Message, error) {
	project := r.PathValue("project")
	s.store.lock()
	defer s.store.unlock()
	p := s.store.readProjectLocked(project)
	var all []*computepb.Operation
	for _, k := range p.opOrder {
		op, ok := p.operations[k]
		if !ok {
			continue
		}
		s.store.refreshOpLocked(p, op)
		all = append(all, op)
	}
	groups, next, err := aggregatePage(r, all, func(op *computepb.Operation) string {
		key := opKeyOf(op)
		return key[:strings.LastIndexByte(key, '/')]
	})
	if err != nil {
		return nil, err
	}
	items := map[string]*computepb.OperationsScopedList{}
	for _, scope := range append(append([]string{"global"}, regionScopes()...), zoneScopes()...) {
		if g := groups[scope]; len(g) > 0 {
			items[scope] = &computepb.OperationsScopedList{Operations: g}
		} else {
			items[scope] = &computepb.OperationsScopedList{Warning: noResultsWarning(scope)}
		}
	}
	return &computepb.OperationAggregatedList{
		Kind:          proto.String("compute#operationAggregatedList"),
		Id:            proto.String("projects/" + project + "/aggregated/operations"),
		Items:         items,
		NextPageToken: optString(next),
		SelfLink:      proto.String(selfLink(project, "aggregated/operations")),
	}, nil
}
