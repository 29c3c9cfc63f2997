package apply

import (
	"context"
	"fmt"
	"slices"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// Gather reads the family (gce.Compute.ListFamily) and, when checkInUse,
// what uses its images (ScanImageUses over project and inUseProjects), into a
// lifecycle.Snapshot. The two readings run at once: neither needs the other.
// A failed scan is an error, never an empty result: an unread use could let
// the rotator retire an image still in use.
func Gather(ctx context.Context, c gce.Compute, project, family string, inUseProjects []string, checkInUse bool) (lifecycle.Snapshot, error) {
	projects := ScanProjects(project, inUseProjects)
	var (
		uses    gce.ImageUses
		scanErr error
		scanned = make(chan struct{})
	)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if checkInUse {
		go func() {
			defer close(scanned)
			uses, scanErr = c.ScanImageUses(sctx, projects)
		}()
	} else {
		close(scanned)
	}
	images, err := c.ListFamily(ctx, project, family)
	if err != nil {
		cancel()
		<-scanned
		return lifecycle.Snapshot{}, fmt.Errorf("reading family %s of project %s: %w", family, project, err)
	}
	for i := range images {
		if images[i].Project == "" {
			images[i].Project = project
		}
	}
	s := lifecycle.Snapshot{Project: project, Family: family, Images: images}
	<-scanned
	if !checkInUse {
		return s, nil
	}
	if scanErr != nil {
		return lifecycle.Snapshot{}, fmt.Errorf("finding what uses the images of family %s (projects %v): %w", family, projects, scanErr)
	}
	if err := uses.AddTo(&s); err != nil {
		return lifecycle.Snapshot{}, fmt.Errorf("recording what uses the images of family %s: %w", family, err)
	}
	return s, nil
}

// ScanProjects is project followed by the other projects, empty names and
// repeats left out: the projects Gather scans for uses.
func ScanProjects(project string, others []string) []string {
	out := []string{project}
	for _, p := range others {
		if p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
