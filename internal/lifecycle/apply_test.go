package lifecycle

import (
	"fmt"
	"maps"
)

// The planners' effects, modelled for tests: nothing outside the tests
// applies a plan to a Snapshot (internal/apply and the CLI carry plans out
// against Compute Engine).

// Apply returns the snapshot as it is after the plan's actions: what
// rotation.Apply would leave behind, so that tests can plan again on it.
func Apply(s Snapshot, p RotationPlan) Snapshot {
	out := s.Clone()
	acts := map[ImageRef]Entry{}
	for _, e := range p.Entries {
		if e.Action != ActionNone {
			acts[s.refOf(e.Image)] = e
		}
	}
	kept := out.Images[:0]
	for _, img := range out.Images {
		e, ok := acts[s.refOf(img)]
		switch {
		case !ok:
		case e.Action == ActionPurge:
			continue
		default:
			img.Deprecation = e.Deprecation.clone()
			if e.Labels != nil {
				img.Labels = maps.Clone(img.Labels)
				if img.Labels == nil {
					img.Labels = map[string]string{}
				}
				maps.Copy(img.Labels, e.Labels)
			}
		}
		kept = append(kept, img)
	}
	out.Images = kept
	out.HeadRead, out.HeadName = false, "" // the head as it is now is computed
	return out
}

// ApplyRollback returns the snapshot as it is after the rollback plan: the
// copy (created at the plan's now) added, the steps written; what the
// rollback command would leave behind, so that tests can check the new head.
func ApplyRollback(s Snapshot, p RollbackPlan) (Snapshot, error) {
	out := s.Clone()
	if p.Rerelease != nil && !p.Rerelease.Existing {
		if p.Rerelease.Name == "" {
			return Snapshot{}, fmt.Errorf("rollback: the copy of %s has no name yet: call Named first", p.Target.Name)
		}
		src := p.Rerelease.Source
		ref := ImageRef{Project: p.copyProject(), Name: p.Rerelease.Name}
		out.Images = append(out.Images, Image{
			Name: ref.Name, Project: ref.Project, Family: s.Family, CreatedAt: p.Now, Status: StatusReady,
			Labels: maps.Clone(p.Rerelease.Labels), SelfLink: ref.SelfLink(),
			Architecture: src.Architecture, DiskSizeGB: src.DiskSizeGB,
		})
	}
	steps := map[ImageRef]RollbackStep{}
	for _, st := range p.Steps {
		steps[s.refOf(st.Image)] = st
	}
	for i, img := range out.Images {
		if st, ok := steps[s.refOf(img)]; ok {
			out.Images[i].Deprecation = st.Deprecation.clone()
		}
	}
	return out, nil
}
