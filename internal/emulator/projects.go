package emulator

import (
	"hash/fnv"
	"net/http"
	"strconv"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

func (s *Server) projectRoutes() {
	s.route("GET", "projects/{project}", "projects.get", s.projectGet)
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
