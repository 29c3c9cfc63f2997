package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// Gather reads one family into a lifecycle.Snapshot with a scan of its own
// (see Reader.Family); a run over several families shares one Reader.
func Gather(ctx context.Context, c gce.Compute, project, family string, inUseProjects []string, checkInUse bool) (lifecycle.Snapshot, error) {
	r := Reader{C: c}
	if checkInUse {
		r.Scans = NewScans(c, ScanProjects(project, inUseProjects), nil)
	}
	s, _, err := r.Family(ctx, project, family)
	return s, err
}

// Reader reads families for planning.
type Reader struct {
	C gce.Compute
	// Scans is the run's in-use scan; nil reads no uses.
	Scans *Scans
	// Clock is time.Now when nil.
	Clock func() time.Time
}

// Family reads a family and returns it with when the read started (what
// Options.Seeds wants): every image of the family (ListFamily), what
// getFromFamily answers (the head, never recomputed), the orphans of
// interrupted releases into it (images in no family labelled
// imagefamily-releasing-into = family), which replacements named by its
// images no longer exist (one images.get per distinct replacement outside
// the family, usually none), and, with Scans, what uses its images. The
// readings that do not depend on each other run at once.
//
// A failed scan is an error, never an empty result: an unread use could let
// the rotator retire an image still in use.
func (r Reader) Family(ctx context.Context, project, family string) (lifecycle.Snapshot, time.Time, error) {
	clock := r.Clock
	if clock == nil {
		clock = time.Now
	}
	at := clock()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		uses    gce.ImageUses
		scanErr error
		head    lifecycle.Image
		headErr error
		orphans []lifecycle.Image
		orphErr error
	)
	if r.Scans != nil {
		wg.Go(func() { uses, _, scanErr = r.Scans.Get(sctx, -1) })
	}
	wg.Go(func() { head, headErr = r.C.GetFromFamily(sctx, project, family) })
	wg.Go(func() {
		orphans, orphErr = r.C.ListImages(sctx, project, fmt.Sprintf(`labels.%s = "%s"`, lifecycle.LabelReleasingInto, family))
	})
	images, err := r.C.ListFamily(ctx, project, family)
	if err != nil {
		cancel()
		wg.Wait()
		return lifecycle.Snapshot{}, at, fmt.Errorf("reading family %s of project %s: %w", family, project, err)
	}
	wg.Wait()
	for i := range images {
		images[i] = withProject(images[i], project)
	}
	s := lifecycle.Snapshot{Project: project, Family: family, Images: images}
	switch {
	case headErr == nil:
		s.HeadRead, s.HeadName = true, head.Name
	case errors.Is(headErr, gce.ErrNotFound):
		s.HeadRead = true
	default:
		return lifecycle.Snapshot{}, at, fmt.Errorf("reading what family %s of project %s resolves to: %w", family, project, headErr)
	}
	if orphErr != nil {
		return lifecycle.Snapshot{}, at, fmt.Errorf("looking for orphans of interrupted releases into family %s of project %s: %w", family, project, orphErr)
	}
	for _, img := range orphans {
		// The filter is a hint (and a fake has none): the labels decide.
		if img.Family == "" && img.Labels[lifecycle.LabelReleasingInto] == family {
			s.Orphans = append(s.Orphans, withProject(img, project))
		}
	}
	gone, err := goneReplacements(ctx, r.C, s)
	if err != nil {
		return lifecycle.Snapshot{}, at, err
	}
	s.Gone = gone
	if r.Scans == nil {
		return s, at, nil
	}
	if scanErr != nil {
		return lifecycle.Snapshot{}, at, fmt.Errorf("finding what uses the images of family %s (projects %v): %w", family, r.Scans.Projects(), scanErr)
	}
	if err := uses.AddTo(&s); err != nil {
		return lifecycle.Snapshot{}, at, fmt.Errorf("recording what uses the images of family %s: %w", family, err)
	}
	return s, at, nil
}

// goneReplacements reads the replacements the family's images name that are
// not among its images, and returns those that do not exist.
func goneReplacements(ctx context.Context, c gce.Compute, s lifecycle.Snapshot) (map[lifecycle.ImageRef]bool, error) {
	listed := map[lifecycle.ImageRef]bool{}
	for _, img := range s.Images {
		listed[img.Ref()] = true
	}
	var refs []lifecycle.ImageRef
	for _, img := range s.Images {
		rep := img.Deprecation.Replacement
		if rep == "" || img.State() == lifecycle.StateActive {
			continue
		}
		ref, err := lifecycle.ParseImageRef(rep)
		if err != nil || ref.Family {
			continue // not ours to judge: Compute Engine accepted it
		}
		ref = ref.WithDefaultProject(s.Project)
		if !listed[ref] && !slices.Contains(refs, ref) {
			refs = append(refs, ref)
		}
	}
	var gone map[lifecycle.ImageRef]bool
	for _, ref := range refs {
		_, err := c.GetImage(ctx, ref.Project, ref.Name)
		switch {
		case errors.Is(err, gce.ErrNotFound):
			if gone == nil {
				gone = map[lifecycle.ImageRef]bool{}
			}
			gone[ref] = true
		case err != nil:
			return nil, fmt.Errorf("reading the replacement %s named in family %s: %w", ref, s.Family, err)
		}
	}
	return gone, nil
}

// ScanProjects is project followed by the other projects, empty names and
// repeats left out: the projects a run scans for uses.
func ScanProjects(project string, others []string) []string {
	out := []string{project}
	for _, p := range others {
		if p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
