package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// State is the emulator's persistent form and its fixture format:
//
//	{
//	  "projects": {
//	    "acme-images": {
//	      "images":            [ <Compute Engine Image JSON>, ... ],
//	      "instanceTemplates": [ <InstanceTemplate JSON>, ... ],
//	      "regionInstanceTemplates": [ <InstanceTemplate JSON with "region">, ... ],
//	      "instances":         [ <Instance JSON with "zone">, ... ],
//	      "disks":             [ <Disk JSON with "zone">, ... ],
//	      "instanceGroupManagers":       [ <InstanceGroupManager JSON with "zone">, ... ],
//	      "regionInstanceGroupManagers": [ <InstanceGroupManager JSON with "region">, ... ]
//	    }
//	  }
//	}
//
// Every resource is written exactly as the API returns it, so a fixture can
// be captured with `gcloud ... --format=json` or written by hand. Fields the
// API fills in (id, selfLink, kind, creationTimestamp, labelFingerprint,
// status) may be left out of a fixture and are filled in on load, and
// references are normalised as an insert normalises them: an instance's
// disks[].source and machineType, a disk's sourceImage and users, in any
// spelling (/compute/beta/, /compute/alpha/, any host, project-relative),
// become https://www.googleapis.com/compute/v1/ URLs.
// Operations are not persisted: they are done by the time a state is saved.
// With a state file the emulator also keeps a journal beside it (journal.go).
type State struct {
	Projects map[string]ProjectState `json:"projects"`
}

// ProjectState holds one project's resources as raw API JSON.
type ProjectState struct {
	Images                  []json.RawMessage `json:"images,omitempty"`
	InstanceTemplates       []json.RawMessage `json:"instanceTemplates,omitempty"`
	RegionInstanceTemplates []json.RawMessage `json:"regionInstanceTemplates,omitempty"`
	Instances               []json.RawMessage `json:"instances,omitempty"`
	Disks                   []json.RawMessage `json:"disks,omitempty"`
	// InstanceGroupManagers are zonal managed instance groups; their
	// instances are listed under instances, as Compute Engine lists them.
	InstanceGroupManagers       []json.RawMessage `json:"instanceGroupManagers,omitempty"`
	RegionInstanceGroupManagers []json.RawMessage `json:"regionInstanceGroupManagers,omitempty"`
}

// LoadState replaces nothing: it adds the resources of st to the store,
// filling in server-set fields. Tests use it to lay fixtures.
func (s *Server) LoadState(st State) error {
	s.store.lock()
	defer s.store.unlock()
	if err := s.store.applyStateLocked(st); err != nil {
		s.store.discardLocked()
		return err
	}
	return s.store.commitFixtureLocked()
}

// SnapshotState returns the store's resources in the state format.
func (s *Server) SnapshotState() (State, error) {
	s.store.lock()
	defer s.store.unlock()
	return s.store.stateLocked()
}

// readStateFile reads a state file; a missing one is an empty state.
func readStateFile(path string) (State, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, fmt.Errorf("emulator state %s: %w", path, err)
	}
	var state State
	if err := json.Unmarshal(b, &state); err != nil {
		return State{}, false, fmt.Errorf("emulator state %s: %w", path, err)
	}
	return state, true, nil
}

var unmarshalState = protojson.UnmarshalOptions{DiscardUnknown: false}

func (st *Store) applyStateLocked(state State) error {
	names := make([]string, 0, len(state.Projects))
	for name := range state.Projects {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ps := state.Projects[name]
		p := st.projectLocked(name)
		for i, raw := range ps.Images {
			img := &computepb.Image{}
			if err := unmarshalState.Unmarshal(raw, img); err != nil {
				return fmt.Errorf("projects.%s.images[%d]: %w", name, i, err)
			}
			if img.GetName() == "" {
				return fmt.Errorf("projects.%s.images[%d]: name is required", name, i)
			}
			st.fillImageLocked(p, img)
			st.replaceImageLocked(p, img)
		}
		for i, raw := range ps.InstanceTemplates {
			t := &computepb.InstanceTemplate{}
			if err := unmarshalState.Unmarshal(raw, t); err != nil {
				return fmt.Errorf("projects.%s.instanceTemplates[%d]: %w", name, i, err)
			}
			st.fillTemplateLocked(p, t, "")
			put(st, p, kindTemplate, p.templates, t.GetName(), t)
		}
		for i, raw := range ps.RegionInstanceTemplates {
			t := &computepb.InstanceTemplate{}
			if err := unmarshalState.Unmarshal(raw, t); err != nil {
				return fmt.Errorf("projects.%s.regionInstanceTemplates[%d]: %w", name, i, err)
			}
			region := lastSegment(t.GetRegion())
			if region == "" {
				return fmt.Errorf("projects.%s.regionInstanceTemplates[%d]: region is required", name, i)
			}
			st.fillTemplateLocked(p, t, region)
			put(st, p, kindRegionTemplate, p.regionalTemplates, region+"/"+t.GetName(), t)
		}
		for i, raw := range ps.Disks {
			d := &computepb.Disk{}
			if err := unmarshalState.Unmarshal(raw, d); err != nil {
				return fmt.Errorf("projects.%s.disks[%d]: %w", name, i, err)
			}
			zone := lastSegment(d.GetZone())
			if zone == "" {
				return fmt.Errorf("projects.%s.disks[%d]: zone is required", name, i)
			}
			st.fillDiskLocked(p, d, zone)
			normaliseDiskRefs(p.name, d)
			put(st, p, kindDisk, p.disks, zone+"/"+d.GetName(), d)
		}
		for i, raw := range ps.Instances {
			in := &computepb.Instance{}
			if err := unmarshalState.Unmarshal(raw, in); err != nil {
				return fmt.Errorf("projects.%s.instances[%d]: %w", name, i, err)
			}
			zone := lastSegment(in.GetZone())
			if zone == "" {
				return fmt.Errorf("projects.%s.instances[%d]: zone is required", name, i)
			}
			st.fillInstanceLocked(p, in, zone)
			normaliseInstanceRefs(p.name, zone, in)
			put(st, p, kindInstance, p.instances, zone+"/"+in.GetName(), in)
		}
		for i, raw := range ps.InstanceGroupManagers {
			m := &computepb.InstanceGroupManager{}
			if err := unmarshalState.Unmarshal(raw, m); err != nil {
				return fmt.Errorf("projects.%s.instanceGroupManagers[%d]: %w", name, i, err)
			}
			zone := lastSegment(m.GetZone())
			if zone == "" {
				return fmt.Errorf("projects.%s.instanceGroupManagers[%d]: zone is required", name, i)
			}
			st.fillIGMLocked(p, m, "zones/"+zone)
			put(st, p, kindIGM, p.igms, zone+"/"+m.GetName(), m)
		}
		for i, raw := range ps.RegionInstanceGroupManagers {
			m := &computepb.InstanceGroupManager{}
			if err := unmarshalState.Unmarshal(raw, m); err != nil {
				return fmt.Errorf("projects.%s.regionInstanceGroupManagers[%d]: %w", name, i, err)
			}
			region := lastSegment(m.GetRegion())
			if region == "" {
				return fmt.Errorf("projects.%s.regionInstanceGroupManagers[%d]: region is required", name, i)
			}
			st.fillIGMLocked(p, m, "regions/"+region)
			put(st, p, kindRegionIGM, p.regionIGMs, region+"/"+m.GetName(), m)
		}
	}
	return nil
}

// normaliseInstanceRefs rewrites a fixture instance's references the way
// instances.insert writes them: disks[].source as the disk's v1 URL (the
// in-use scan joins instances to disks by it, so a /compute/beta/ spelling
// from `gcloud beta ... describe` must not hide an image's use), and the
// machine type as its URL.
func normaliseInstanceRefs(project, zone string, in *computepb.Instance) {
	for _, ad := range in.GetDisks() {
		if src := ad.GetSource(); src != "" {
			if ref, ok := zonalRef(src, "disks", project); ok {
				ad.Source = proto.String(ref.url())
			}
		}
	}
	if mt := in.GetMachineType(); mt != "" {
		if !strings.Contains(mt, "/") {
			mt = "zones/" + zone + "/machineTypes/" + mt
		}
		in.MachineType = proto.String(canonicalURL(project, mt))
	}
}

// normaliseDiskRefs rewrites a fixture disk's sourceImage and users as
// disks.insert and instances.insert write them.
func normaliseDiskRefs(project string, d *computepb.Disk) {
	if src := d.GetSourceImage(); src != "" {
		if ref, err := parseImageRef(src, project); err == nil {
			d.SourceImage = proto.String(ref.url())
		}
	}
	for i, u := range d.Users {
		if ref, ok := zonalRef(u, "instances", project); ok {
			d.Users[i] = ref.url()
		}
	}
}

// fillImageLocked sets the fields Compute Engine sets on an image that a
// fixture may leave out, and keeps creation times strictly increasing.
func (st *Store) fillImageLocked(p *project, img *computepb.Image) {
	if img.Kind == nil {
		img.Kind = proto.String("compute#image")
	}
	if img.Id == nil {
		img.Id = proto.Uint64(st.newIDLocked())
	}
	img.SelfLink = proto.String(selfLink(p.name, "global/images/"+img.GetName()))
	if img.CreationTimestamp == nil {
		img.CreationTimestamp = proto.String(formatTime(p.creationTimeLocked(st.clock())))
	} else if t, err := time.Parse(time.RFC3339Nano, img.GetCreationTimestamp()); err == nil && t.After(p.lastCreated) {
		p.lastCreated = t.UTC()
	}
	if img.Status == nil {
		img.Status = proto.String("READY")
	}
	if img.LabelFingerprint == nil {
		img.LabelFingerprint = proto.String(labelFingerprint(img.GetLabels()))
	}
	if img.SourceType == nil {
		img.SourceType = proto.String("RAW")
	}
}

func (st *Store) fillTemplateLocked(p *project, t *computepb.InstanceTemplate, region string) {
	t.Kind = proto.String("compute#instanceTemplate")
	if t.Id == nil {
		t.Id = proto.Uint64(st.newIDLocked())
	}
	if t.CreationTimestamp == nil {
		t.CreationTimestamp = proto.String(formatTime(st.clock()))
	}
	if region == "" {
		t.SelfLink = proto.String(selfLink(p.name, "global/instanceTemplates/"+t.GetName()))
	} else {
		t.Region = proto.String(selfLink(p.name, "regions/"+region))
		t.SelfLink = proto.String(selfLink(p.name, "regions/"+region+"/instanceTemplates/"+t.GetName()))
	}
}

func (st *Store) fillDiskLocked(p *project, d *computepb.Disk, zone string) {
	d.Kind = proto.String("compute#disk")
	if d.Id == nil {
		d.Id = proto.Uint64(st.newIDLocked())
	}
	if d.CreationTimestamp == nil {
		d.CreationTimestamp = proto.String(formatTime(st.clock()))
	}
	if d.Status == nil {
		d.Status = proto.String("READY")
	}
	d.Zone = proto.String(selfLink(p.name, "zones/"+zone))
	d.SelfLink = proto.String(selfLink(p.name, "zones/"+zone+"/disks/"+d.GetName()))
}

func (st *Store) fillInstanceLocked(p *project, in *computepb.Instance, zone string) {
	in.Kind = proto.String("compute#instance")
	if in.Id == nil {
		in.Id = proto.Uint64(st.newIDLocked())
	}
	if in.CreationTimestamp == nil {
		in.CreationTimestamp = proto.String(formatTime(st.clock()))
	}
	if in.Status == nil {
		in.Status = proto.String("RUNNING")
	}
	in.Zone = proto.String(selfLink(p.name, "zones/"+zone))
	in.SelfLink = proto.String(selfLink(p.name, "zones/"+zone+"/instances/"+in.GetName()))
}

func (st *Store) stateLocked() (State, error) {
	out := State{Projects: map[string]ProjectState{}}
	for name, p := range st.projects {
		var ps ProjectState
		var err error
		if ps.Images, err = rawSorted(p.images); err != nil {
			return State{}, err
		}
		if ps.InstanceTemplates, err = rawSorted(p.templates); err != nil {
			return State{}, err
		}
		if ps.RegionInstanceTemplates, err = rawSorted(p.regionalTemplates); err != nil {
			return State{}, err
		}
		if ps.Instances, err = rawSorted(p.instances); err != nil {
			return State{}, err
		}
		if ps.Disks, err = rawSorted(p.disks); err != nil {
			return State{}, err
		}
		if ps.InstanceGroupManagers, err = rawSorted(p.igms); err != nil {
			return State{}, err
		}
		if ps.RegionInstanceGroupManagers, err = rawSorted(p.regionIGMs); err != nil {
			return State{}, err
		}
		out.Projects[name] = ps
	}
	return out, nil
}

func rawSorted[M proto.Message](m map[string]M) ([]json.RawMessage, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]json.RawMessage, 0, len(keys))
	for _, k := range keys {
		b, err := protojson.Marshal(m[k])
		if err != nil {
			return nil, err
		}
		// Re-encode through encoding/json: protojson's output has
		// deliberately unstable whitespace, and a state file should diff well.
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		if b, err = json.Marshal(v); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
