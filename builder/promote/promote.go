package promote

import (
	"context"
	"errors"
	"fmt"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/resolve"
)

// promotion is one promote build: resolve the source, check the
// destination, insert the copy. No VM and no disk are involved: images.insert
// with sourceImage copies the image inside Compute Engine.
type promotion struct {
	cfg    *Config
	client gce.Compute
	ui     packersdk.Ui
	now    time.Time
}

// run returns the image created and the source it was made from.
func (p *promotion) run(ctx context.Context) (created, source lifecycle.Image, err error) {
	src, err := p.source(ctx)
	if err != nil {
		return lifecycle.Image{}, lifecycle.Image{}, err
	}
	name, err := p.name()
	if err != nil {
		return lifecycle.Image{}, src, err
	}
	dest := lifecycle.ImageRef{Project: p.cfg.ProjectID, Name: name}
	if dest == src.Ref() {
		return lifecycle.Image{}, src, fmt.Errorf("the destination %s is the source image itself: choose another image_name or project_id", dest)
	}
	labels, err := promotedLabels(src, p.cfg.Naming, p.cfg.Labels)
	if err != nil {
		return lifecycle.Image{}, src, err
	}
	if err := p.clearDestination(ctx, dest); err != nil {
		return lifecycle.Image{}, src, err
	}

	spec := gce.ImageSpec{
		Name:             name,
		SourceImage:      src.Ref().String(),
		Family:           p.cfg.Family,
		Description:      p.cfg.Description,
		Labels:           labels,
		StorageLocations: p.cfg.StorageLocations,
		Architecture:     p.cfg.Architecture,
		GuestOsFeatures:  p.cfg.GuestOSFeatures,
		Licenses:         p.cfg.Licenses,
	}
	if spec.Description == "" {
		spec.Description = "Promoted from " + src.Ref().String()
	}
	if spec.Architecture == "" {
		spec.Architecture = src.Architecture
	}
	p.ui.Say(fmt.Sprintf("Creating image %s from %s...", dest, src.Ref()))
	img, err := p.client.InsertImageFromImage(ctx, p.cfg.ProjectID, spec)
	if err != nil {
		return lifecycle.Image{}, src, fmt.Errorf("creating image %s from %s: %w", dest, src.Ref(), err)
	}
	p.ui.Say(fmt.Sprintf("Image %s is %s", dest, img.Status))
	return img, src, nil
}

// source resolves the image to promote with one call and refuses what
// Compute Engine would refuse to copy.
func (p *promotion) source(ctx context.Context) (lifecycle.Image, error) {
	var (
		src lifecycle.Image
		err error
	)
	if p.cfg.SourceFamily != "" {
		src, err = resolve.Image(ctx, p.client, resolve.Request{Project: p.cfg.SourceProjectID, Family: p.cfg.SourceFamily})
		if err != nil {
			return lifecycle.Image{}, fmt.Errorf("source_family: %w", err)
		}
		p.ui.Say(fmt.Sprintf("Family %s of project %s points to %s", p.cfg.SourceFamily, p.cfg.SourceProjectID, src.Name))
	} else {
		ref := p.cfg.sourceRef()
		src, err = p.client.GetImage(ctx, ref.Project, ref.Name)
		if errors.Is(err, gce.ErrNotFound) {
			return lifecycle.Image{}, fmt.Errorf("source_image %s was not found (%v)", ref, err)
		}
		if err != nil {
			return lifecycle.Image{}, fmt.Errorf("reading source_image %s: %w", ref, err)
		}
	}
	if !src.Ready() {
		return lifecycle.Image{}, fmt.Errorf("source image %s is %s, not READY: it cannot be copied", src.Ref(), src.Status)
	}
	if err := resolve.Usable(src); err != nil {
		return lifecycle.Image{}, fmt.Errorf("refusing to promote: %w", err)
	}
	if src.State() == lifecycle.StateDeprecated {
		msg := fmt.Sprintf("Warning: source image %s is DEPRECATED", src.Ref())
		if r := src.Deprecation.Replacement; r != "" {
			msg += " (its replacement is " + r + ")"
		}
		p.ui.Error(msg + ": promoting it anyway, as Compute Engine only warns on new uses of a DEPRECATED image")
	}
	return src, nil
}

func (p *promotion) name() (string, error) {
	if p.cfg.Naming == nil {
		return p.cfg.ImageName, nil
	}
	n, err := p.cfg.Naming.Convention().Name(p.now)
	if err != nil {
		return "", fmt.Errorf("naming: %w", err)
	}
	return n.String(), nil
}

// clearDestination refuses an existing destination image, or deletes it
// under -force, as the googlecompute builder does.
func (p *promotion) clearDestination(ctx context.Context, dest lifecycle.ImageRef) error {
	_, err := p.client.GetImage(ctx, dest.Project, dest.Name)
	if errors.Is(err, gce.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking whether image %s exists: %w", dest, err)
	}
	if !p.cfg.PackerForce {
		return fmt.Errorf("image %s already exists in project %s: run packer build -force to delete it and promote again, or choose another name", dest.Name, dest.Project)
	}
	p.ui.Say(fmt.Sprintf("Deleting existing image %s (-force)...", dest))
	if err := p.client.DeleteImage(ctx, dest.Project, dest.Name); err != nil {
		return fmt.Errorf("deleting existing image %s (-force): %w", dest, err)
	}
	return nil
}

// promotedLabels are the copy's labels: the source's lineage that describes
// its content (what it was built on, its convention parts) carried over,
// imagefamily-promoted-from[-project] naming the source, and the user's
// labels. Labels about the source's own life in its family (released-at,
// rotated-at, rollback-of, revoked-reason) are not carried: the copy has not
// been released anywhere yet. A naming block's parts replace the carried
// ones.
func promotedLabels(src lifecycle.Image, naming *pluginconfig.Naming, user map[string]string) (map[string]string, error) {
	from := lifecycle.LineageOf(src.Labels)
	l := lifecycle.Lineage{
		ParentImage:         from.ParentImage,
		ParentFamily:        from.ParentFamily,
		ParentProject:       from.ParentProject,
		OS:                  from.OS,
		Software:            from.Software,
		Version:             from.Version,
		PromotedFrom:        src.Name,
		PromotedFromProject: src.Project,
	}
	// An empty parent project means "the image's own project": the copy
	// lives elsewhere, so it must say which project that was.
	if l.ParentImage != "" && l.ParentProject == "" {
		l.ParentProject = src.Project
	}
	if naming != nil {
		l.OS, l.Software, l.Version = naming.OS, naming.Software, naming.Version
	}
	lineage, err := lifecycle.LineageLabels(l)
	if err != nil {
		return nil, err
	}
	return lifecycle.MergeLabels(nil, lineage, user)
}
