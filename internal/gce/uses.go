package gce

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// ImageUses maps each referenced image to the resources that use it. Keys
// have their project filled in; a key with Family set is a template that
// follows a family (it uses whatever image heads it). A key may name an
// image by numeric id: lifecycle.Snapshot.UsesOf matches those too.
type ImageUses map[lifecycle.ImageRef][]lifecycle.Use

// AddTo records the uses in a family snapshot through Snapshot.AddUse:
// references to the snapshot's family become FamilyUses, to other families
// are dropped, to images are kept whatever their family (a use of an image
// outside the family is harmless there).
func (u ImageUses) AddTo(s *lifecycle.Snapshot) error {
	keys := slices.SortedFunc(maps.Keys(u), func(a, b lifecycle.ImageRef) int { return cmp.Compare(a.String(), b.String()) })
	for _, ref := range keys {
		for _, use := range u[ref] {
			if err := s.AddUse(ref.String(), use); err != nil {
				return err
			}
		}
	}
	return nil
}

func (u ImageUses) add(source, project string, use lifecycle.Use) error {
	ref, err := lifecycle.ParseImageRef(source)
	if err != nil {
		// Failing beats guessing: an unread use could let the rotator
		// delete an image still in use.
		return fmt.Errorf("%s: %w", use, err)
	}
	ref = ref.WithDefaultProject(project)
	u[ref] = append(u[ref], use)
	return nil
}

// ScanImageUses reads, in each project, the instance templates (global and
// regional, through the aggregated list) and the instances, whose boot disks
// lead to the image through disk.sourceImage: instances do not keep the
// image themselves. Three aggregated listings per project, one call per 500
// resources each. The listings do not depend on each other, so they all run
// at once (each one page after the other): the scan costs the longest
// listing, not their sum. The result is merged in a fixed order, whatever
// order the pages arrived in.
func (c *client) ScanImageUses(ctx context.Context, projects []string) (ImageUses, error) {
	type scan struct {
		templates ImageUses
		disks     map[string]string // disk resource path -> sourceImage
		boots     []bootDisk
		errs      [3]error
	}
	// The first failure stops the other listings: the scan has failed.
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	scans := make([]scan, len(projects))
	var wg sync.WaitGroup
	for i, p := range projects {
		s := &scans[i]
		s.templates, s.disks = ImageUses{}, map[string]string{}
		stopOnError := func(err error) error {
			if err != nil {
				cancel(err)
			}
			return err
		}
		wg.Go(func() { s.errs[0] = stopOnError(c.scanTemplates(sctx, p, s.templates)) })
		wg.Go(func() { s.errs[1] = stopOnError(c.scanDisks(sctx, p, s.disks)) })
		wg.Go(func() {
			var err error
			s.boots, err = c.scanInstances(sctx, p)
			s.errs[2] = stopOnError(err)
		})
	}
	wg.Wait()
	if err := context.Cause(sctx); err != nil {
		if ctx.Err() != nil {
			// The caller's context ended: report a listing's error, which
			// says which call it stopped.
			for i := range scans {
				for _, e := range scans[i].errs {
					if e != nil {
						return nil, e
					}
				}
			}
		}
		return nil, err
	}
	uses := ImageUses{}
	for i, p := range projects {
		s := &scans[i]
		for ref, us := range s.templates {
			uses[ref] = append(uses[ref], us...)
		}
		for _, b := range s.boots {
			src, ok := s.disks[b.disk]
			if !ok {
				continue
			}
			if err := uses.add(src, p, b.use); err != nil {
				return nil, err
			}
		}
	}
	return uses, nil
}

// bootDisk is an instance's boot disk, resolved to its image once the disks
// are read.
type bootDisk struct {
	use  lifecycle.Use
	disk string // resource path
}

func (c *client) scanTemplates(ctx context.Context, project string, uses ImageUses) error {
	var scanErr error
	err := c.pages(ctx, "instanceTemplates.aggregatedList", "projects/"+project+"/aggregated/instanceTemplates", func(ctx context.Context, token string) (string, error) {
		it := c.templates.AggregatedList(ctx, &computepb.AggregatedListInstanceTemplatesRequest{Project: project,
			MaxResults: proto.Uint32(pageSize), PageToken: optional(token)}, noRetry)
		page, next, err := onePage[compute.InstanceTemplatesScopedListPair](it)
		if err != nil {
			return "", err
		}
		for _, pair := range page {
			for _, t := range pair.Value.GetInstanceTemplates() {
				use := lifecycle.Use{Kind: lifecycle.UseInstanceTemplate, Project: project, Name: t.GetName()}
				if t.GetRegion() != "" || strings.HasPrefix(pair.Key, "regions/") {
					use.Kind = lifecycle.UseRegionInstanceTemplate
					use.Region = lastSegment(cmp.Or(t.GetRegion(), pair.Key))
				}
				for _, d := range t.GetProperties().GetDisks() {
					if src := d.GetInitializeParams().GetSourceImage(); src != "" && scanErr == nil {
						scanErr = uses.add(src, project, use)
					}
				}
			}
		}
		return next, nil
	})
	if err != nil {
		return err
	}
	return scanErr
}

// scanDisks records each disk's source image: an instance's boot disk names
// only the disk.
func (c *client) scanDisks(ctx context.Context, project string, diskImage map[string]string) error {
	return c.pages(ctx, "disks.aggregatedList", "projects/"+project+"/aggregated/disks", func(ctx context.Context, token string) (string, error) {
		it := c.disks.AggregatedList(ctx, &computepb.AggregatedListDisksRequest{Project: project,
			MaxResults: proto.Uint32(pageSize), PageToken: optional(token)}, noRetry)
		page, next, err := onePage[compute.DisksScopedListPair](it)
		if err != nil {
			return "", err
		}
		for _, pair := range page {
			for _, d := range pair.Value.GetDisks() {
				if d.GetSourceImage() != "" {
					diskImage[resourcePath(d.GetSelfLink())] = d.GetSourceImage()
				}
			}
		}
		return next, nil
	})
}

// scanInstances lists the instances' boot disks.
func (c *client) scanInstances(ctx context.Context, project string) ([]bootDisk, error) {
	var boots []bootDisk
	err := c.pages(ctx, "instances.aggregatedList", "projects/"+project+"/aggregated/instances", func(ctx context.Context, token string) (string, error) {
		it := c.instances.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{Project: project,
			MaxResults: proto.Uint32(pageSize), PageToken: optional(token)}, noRetry)
		page, next, err := onePage[compute.InstancesScopedListPair](it)
		if err != nil {
			return "", err
		}
		for _, pair := range page {
			for _, in := range pair.Value.GetInstances() {
				for _, d := range in.GetDisks() {
					if d.GetBoot() {
						boots = append(boots, bootDisk{
							use:  lifecycle.Use{Kind: lifecycle.UseInstance, Project: project, Name: in.GetName(), Zone: lastSegment(in.GetZone())},
							disk: resourcePath(d.GetSource()),
						})
					}
				}
			}
		}
		return next, nil
	})
	return boots, err
}

// resourcePath reduces a resource URL in any spelling to
// projects/P/zones/Z/disks/D (lifecycle.ResourcePath), so that an instance's
// disk URL and the disk's selfLink compare equal whatever host or API
// version (v1, beta, alpha) wrote them.
func resourcePath(s string) string { return lifecycle.ResourcePath(s) }

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }
