// Package resolve finds the image a family points to now, or checks a pinned
// image of it, as data "imagefamily" and the promote builder's source_family
// both need: with one Compute Engine call, and the same refusals.
package resolve

import (
	"context"
	"errors"
	"fmt"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// Request names what to resolve: a family (globally or in a zone), or one
// pinned image of it.
type Request struct {
	Project string
	Family  string
	// Zone selects the zonal family view; empty resolves globally.
	Zone string
	// Image pins an image (any spelling lifecycle.ParseImageRef takes).
	Image string
}

// Image makes exactly one Compute Engine call: images.getFromFamily,
// imageFamilyViews.get, or images.get for a pin. It never lists the family:
// the family's head is what Compute Engine says it is, the same answer an
// instance created from the family gets.
func Image(ctx context.Context, c gce.Compute, r Request) (lifecycle.Image, error) {
	if r.Image != "" {
		return resolvePin(ctx, c, r)
	}
	var (
		img lifecycle.Image
		err error
	)
	where := ""
	if r.Zone != "" {
		img, err = c.GetFromFamilyZonal(ctx, r.Project, r.Zone, r.Family)
		where = " rolled out in zone " + r.Zone
	} else {
		img, err = c.GetFromFamily(ctx, r.Project, r.Family)
	}
	if errors.Is(err, gce.ErrNotFound) {
		return lifecycle.Image{}, fmt.Errorf("family %q in project %q has no usable image%s: it has no image, or every image is DEPRECATED, OBSOLETE or DELETED, or the project does not exist (%v); see `imagefamily status --project %s --family %s`",
			r.Family, r.Project, where, err, r.Project, r.Family)
	}
	if err != nil {
		return lifecycle.Image{}, fmt.Errorf("resolving family %q in project %q%s: %w", r.Family, r.Project, where, err)
	}
	return img, nil
}

func resolvePin(ctx context.Context, c gce.Compute, r Request) (lifecycle.Image, error) {
	ref, err := lifecycle.ParseImageRef(r.Image)
	if err != nil {
		return lifecycle.Image{}, fmt.Errorf("image %q: %w", r.Image, err)
	}
	ref = ref.WithDefaultProject(r.Project)
	img, err := c.GetImage(ctx, ref.Project, ref.Name)
	if errors.Is(err, gce.ErrNotFound) {
		return lifecycle.Image{}, fmt.Errorf("image %q was not found in project %q (%v); see `imagefamily status --project %s --family %s` for the family's images",
			ref.Name, ref.Project, err, ref.Project, r.Family)
	}
	if err != nil {
		return lifecycle.Image{}, fmt.Errorf("reading image %q in project %q: %w", ref.Name, ref.Project, err)
	}
	what := ref.String()
	if img.Family != r.Family {
		belongs := fmt.Sprintf("belongs to family %q", img.Family)
		if img.Family == "" {
			belongs = "belongs to no family"
		}
		return lifecycle.Image{}, fmt.Errorf("image %s %s, not to family %q: a pinned image must be one of the family's images", what, belongs, r.Family)
	}
	if !img.Ready() {
		return lifecycle.Image{}, fmt.Errorf("image %s is %s, not READY: it cannot be used yet (or ever, when FAILED)", what, img.Status)
	}
	if err := Usable(img); err != nil {
		return lifecycle.Image{}, err
	}
	return img, nil
}

// Usable refuses an image that Compute Engine refuses new uses of: OBSOLETE
// and DELETED. A DEPRECATED image is usable (Compute Engine only warns).
func Usable(img lifecycle.Image) error {
	switch st := img.State(); st {
	case lifecycle.StateObsolete, lifecycle.StateDeleted:
		msg := fmt.Sprintf("image %s is %s: Compute Engine refuses new uses of OBSOLETE and DELETED images", img.Ref(), st)
		if rep := img.Deprecation.Replacement; rep != "" {
			msg += fmt.Sprintf(" (its replacement is %s)", rep)
		}
		return errors.New(msg)
	}
	return nil
}
