package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/atomicfile"
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
//	      "disks":             [ <Disk JSON with "zone">, ... ]
//	    }
//	  }
//	}
//
// Every resource is written exactly as the API returns it, so a fixture can
// be captured with `gcloud ... --format=json` or written by hand. Fields the
// API fills in (id, selfLink, kind, creationTimestamp, labelFingerprint,
// status) may be left out of a fixture and are filled in on load.
// Operations are not persisted: they are done by the time a state is saved.
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
}

// LoadState replaces nothing: it adds the resources of st to the store,
// filling in server-set fields. Tests use it to lay fixtures.
func (s *Server) LoadState(st State) error {
	s.store.lock()
	defer s.store.unlock()
	return s.store.applyStateLocked(st)
}

// SnapshotState returns the store's resources in the state format.
func (s *Server) SnapshotState() (State, error) {
	s.store.lock()
	defer s.store.unlock()
	return s.store.stateLocked()
}

func (st *Store) loadFile(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("emulator state %s: %w", path, err)
	}
	var state State
	if err := json.Unmarshal(b, &state); err != nil {
		return fmt.Errorf("emulator state %s: %w", path, err)
	}
	st.lock()
	defer st.unlock()
	if err := st.applyStateLocked(state); err != nil {
		return fmt.Errorf("emulator state %s: %w", path, err)
	}
	return nil
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
			replaceImageLocked(p, img)
		}
		for i, raw := range ps.InstanceTemplates {
			t := &computepb.InstanceTemplate{}
			if err := unmarshalState.Unmarshal(raw, t); err != nil {
				return fmt.Errorf("projects.%s.instanceTemplates[%d]: %w", name, i, err)
			}
			st.fillTemplateLocked(p, t, "")
			p.templates[t.GetName()] = t
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
			p.regionalTemplates[region+"/"+t.GetName()] = t
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
			p.disks[zone+"/"+d.GetName()] = d
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
			p.instances[zone+"/"+in.GetName()] = in
		}
	}
	return nil
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

// persistLocked writes the state file atomically (temp file + rename) after a
// mutation, so a demo can restart the emulator without losing an image.
func (st *Store) persistLocked() error {
	if st.stateFile == "" {
		return nil
	}
	state, err := st.stateLocked()
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return err
	}
	// 0600, as the state file always was: it can hold whatever a test or a
	// user put in metadata.
	return atomicfile.WriteFile(st.stateFile, append(b, '\n'), 0o600)
}
