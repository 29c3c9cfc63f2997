package emulator

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// computeRoutes registers projects, zones, regions, machine types, instances,
// disks and instance templates: the resources the googlecompute builder and
// in-use detection touch. Each family lives in its own file.
func (s *Server) computeRoutes() {
	s.route("GET", "projects/{project}", "projects.get", s.projectGet)

	s.route("GET", "projects/{project}/zones", "zones.list", s.zoneList)
	s.route("GET", "projects/{project}/zones/{zone}", "zones.get", s.zoneGet)
	s.route("GET", "projects/{project}/regions", "regions.list", s.regionList)
	s.route("GET", "projects/{project}/regions/{region}", "regions.get", s.regionGet)
	s.route("GET", "projects/{project}/zones/{zone}/machineTypes", "machineTypes.list", s.machineTypeList)
	s.route("GET", "projects/{project}/zones/{zone}/machineTypes/{machineType}", "machineTypes.get", s.machineTypeGet)

	const inst = "projects/{project}/zones/{zone}/instances"
	s.route("POST", inst, "instances.insert", s.instanceInsert)
	s.route("GET", inst, "instances.list", s.instanceList)
	s.route("GET", inst+"/{instance}", "instances.get", s.instanceGet)
	s.route("DELETE", inst+"/{instance}", "instances.delete", s.instanceDelete)
	s.route("GET", inst+"/{instance}/serialPort", "instances.getSerialPortOutput", s.instanceSerialPort)
	s.route("POST", inst+"/{instance}/setMetadata", "instances.setMetadata", s.instanceSetMetadata)
	s.route("POST", inst+"/{instance}/stop", "instances.stop", s.instanceStop)
	s.route("POST", inst+"/{instance}/start", "instances.start", s.instanceStart)

	const disks = "projects/{project}/zones/{zone}/disks"
	s.route("POST", disks, "disks.insert", s.diskInsert)
	s.route("GET", disks, "disks.list", s.diskList)
	s.route("GET", disks+"/{disk}", "disks.get", s.diskGet)
	s.route("DELETE", disks+"/{disk}", "disks.delete", s.diskDelete)

	for _, t := range []struct{ prefix, name string }{
		{"projects/{project}/global/instanceTemplates", "instanceTemplates"},
		{"projects/{project}/regions/{region}/instanceTemplates", "regionInstanceTemplates"},
	} {
		s.route("POST", t.prefix, t.name+".insert", s.templateInsert(t.name))
		s.route("GET", t.prefix, t.name+".list", s.templateList)
		s.route("GET", t.prefix+"/{template}", t.name+".get", s.templateGet)
		s.route("DELETE", t.prefix+"/{template}", t.name+".delete", s.templateDelete(t.name))
	}

	s.route("GET", "projects/{project}/aggregated/instances", "instances.aggregatedList", s.instanceAggregatedList)
	s.route("GET", "projects/{project}/aggregated/disks", "disks.aggregatedList", s.diskAggregatedList)
	s.route("GET", "projects/{project}/aggregated/instanceTemplates", "instanceTemplates.aggregatedList", s.templateAggregatedList)
	s.route("GET", "projects/{project}/aggregated/operations", "globalOperations.aggregatedList", s.operationAggregatedList)
}

// projectGet returns the project as Compute Engine describes it. The
// googlecompute builder reads commonInstanceMetadata.items without a nil
// check, so the metadata object is always present, even when empty.
func (s *Server) projectGet(r *http.Request) (proto.Message, error) {
	s.store.lock()
	p := s.store.readProjectLocked(r.PathValue("project"))
	s.store.unlock()
	number := projectNumber(p.name)
	return &computepb.Project{
		Kind:                  proto.String("compute#project"),
		Id:                    proto.Uint64(number),
		Name:                  proto.String(p.name),
		CreationTimestamp:     proto.String("2024-01-15T08:00:00.000-08:00"),
		SelfLink:              proto.String("https://www.googleapis.com/compute/v1/projects/" + p.name),
		DefaultServiceAccount: proto.String(defaultServiceAccount(p.name)),
		CommonInstanceMetadata: &computepb.Metadata{
			Kind:        proto.String("compute#metadata"),
			Fingerprint: proto.String(metadataFingerprint(nil)),
		},
		XpnProjectStatus:   proto.String("UNSPECIFIED_XPN_PROJECT_STATUS"),
		DefaultNetworkTier: proto.String("PREMIUM"),
		VmDnsSetting:       proto.String("ZONAL_ONLY"),
	}, nil
}

// readProjectLocked returns the project for a read: the stored one, or an
// empty one that is not stored, so that reads (a gcloud list across the
// standard image projects, a 404) leave no empty projects in the state file.
func (st *Store) readProjectLocked(name string) *project {
	if p, ok := st.projects[name]; ok {
		return p
	}
	p := st.projectLocked(name)
	delete(st.projects, name)
	return p
}

// projectNumber is a stable, plausible 12-digit project number derived from
// the project id: Compute Engine reports it as the project's id and in the
// default service account's address.
func projectNumber(project string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(project))
	return 100_000_000_000 + h.Sum64()%900_000_000_000
}

func defaultServiceAccount(project string) string {
	return strconv.FormatUint(projectNumber(project), 10) + "-compute@developer.gserviceaccount.com"
}

// injectedFailure is the error a mutation's operation carries when
// --faults asks for a failed operation: what a transient backend failure
// looks like on a real operation.
func injectedFailure(method string) *apiError {
	return &apiError{Code: http.StatusServiceUnavailable, Reason: "internalError",
		Message: fmt.Sprintf("Internal error for %s, the operation failed (injected by emulator --faults)", method)}
}

// opTarget is what a mutation's operation reports: the resource it changed
// and any warnings (a deprecated image was used).
type opTarget struct {
	link     string
	id       uint64
	warnings []*computepb.Warnings
}

// mutation runs the shared part of every operation-producing method: the
// requestId replay, the injected operation failure and persistence. apply
// validates and applies the change under the store lock and returns the
// operation's target; a returned error is synchronous and nothing is changed.
func (s *Server) mutation(r *http.Request, method, opType string, apply func(p *project) (opTarget, error)) (proto.Message, error) {
	reqID, err := requestIDOf(r)
	if err != nil {
		return nil, err
	}
	// Drawn before taking the store lock: drawFault takes it itself.
	fail := s.shouldFailOperation(method)
	s.store.lock()
	defer s.store.unlock()
	p := s.store.projectLocked(r.PathValue("project"))
	if op, ok := s.store.replayLocked(p.name, reqID); ok {
		return op, nil
	}
	if fail {
		// Validate first: an invalid request is refused synchronously
		// whatever the fault plan says; a valid one fails in its operation
		// without being applied.
		target, err := s.dryRun(p, apply)
		if err != nil {
			return nil, err
		}
		op := s.store.startOperationLocked(p, opScope(r), opType, target.link, target.id, reqID)
		return s.store.failOperationLocked(p, op, injectedFailure(method)), nil
	}
	target, err := apply(p)
	if err != nil {
		return nil, err
	}
	op := s.store.startOperationLocked(p, opScope(r), opType, target.link, target.id, reqID)
	if len(target.warnings) > 0 {
		// On the stored operation too: Operation.Wait and gcloud read the
		// warnings from the operation they poll.
		stored := p.operations[opKeyOf(op)]
		stored.Warnings = append(stored.Warnings, target.warnings...)
		op.Warnings = cloneSlice(stored.Warnings)
	}
	if err := s.store.persistLocked(); err != nil {
		return nil, fmt.Errorf("the change is applied but the emulator state file could not be written: %w", err)
	}
	return op, nil
}

// dryRun applies a mutation to a copy of the project's compute resources and
// throws the copy away, so that an injected failure changes nothing while
// validation errors still come back synchronously.
func (s *Server) dryRun(p *project, apply func(p *project) (opTarget, error)) (opTarget, error) {
	saved := struct {
		disks     map[string]*computepb.Disk
		instances map[string]*computepb.Instance
		templates map[string]*computepb.InstanceTemplate
		regional  map[string]*computepb.InstanceTemplate
	}{p.disks, p.instances, p.templates, p.regionalTemplates}
	p.disks = cloneMap(p.disks)
	p.instances = cloneMap(p.instances)
	p.templates = cloneMap(p.templates)
	p.regionalTemplates = cloneMap(p.regionalTemplates)
	defer func() {
		p.disks, p.instances, p.templates, p.regionalTemplates = saved.disks, saved.instances, saved.templates, saved.regional
	}()
	// Ids drawn by the dry run are not reused: ids only need to be unique.
	return apply(p)
}

func cloneMap[M proto.Message](m map[string]M) map[string]M {
	out := make(map[string]M, len(m))
	for k, v := range m {
		out[k] = proto.Clone(v).(M)
	}
	return out
}

// canonicalURL turns any spelling of a Compute Engine resource reference
// (full URL on any host, /compute/v1/ path, projects/P/..., or a
// project-relative zones/Z/..., regions/R/..., global/...) into the
// https://www.googleapis.com/compute/v1/projects/P/... form the API writes.
func canonicalURL(defaultProject, ref string) string {
	s := trimAPIPath(ref)
	if !strings.HasPrefix(s, "projects/") {
		s = "projects/" + defaultProject + "/" + s
	}
	return "https://www.googleapis.com/compute/v1/" + s
}

// relativePath is a canonical URL without its host prefix:
// projects/P/zones/Z/disks/D.
func relativePath(url string) string {
	return strings.TrimPrefix(url, "https://www.googleapis.com/compute/v1/")
}

// fingerprintOf is an opaque fingerprint that changes whenever msg changes,
// like the metadata and tags fingerprints Compute Engine hands out.
func fingerprintOf(msg proto.Message) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:8])
}

// metadataFingerprint is the fingerprint of a metadata item list.
func metadataFingerprint(items []*computepb.Items) string {
	return fingerprintOf(&computepb.Metadata{Items: items})
}

// noResultsWarning is the per-scope warning aggregated lists carry for a
// scope with nothing in it.
func noResultsWarning(scope string) *computepb.Warning {
	return &computepb.Warning{
		Code:    proto.String("NO_RESULTS_ON_PAGE"),
		Message: proto.String(fmt.Sprintf("There are no results for scope '%s' on this page.", scope)),
		Data:    []*computepb.Data{{Key: proto.String("scope"), Value: proto.String(scope)}},
	}
}
