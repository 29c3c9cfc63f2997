package promote

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/resolve"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// promotion is one promote build: resolve the source, check the
// destination, insert the copy. No VM and no disk are involved: images.insert
// with sourceImage copies the image inside Compute Engine.
type promotion struct {
	cfg    *Config
	client gce.Compute
	ui     packersdk.Ui
	now    time.Time
	// scans is the in-use scan of the destination project, read when an
	// existing image is to be replaced.
	scans *apply.Scans
	// sourceAt is when the source was read.
	sourceAt time.Time
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
	cp := lifecycle.CopySpec{
		Project:          dest.Project,
		Name:             name,
		Source:           src.Ref(),
		Family:           p.cfg.Family,
		Description:      p.cfg.Description,
		Labels:           labels,
		StorageLocations: p.cfg.StorageLocations,
		Architecture:     p.cfg.Architecture,
		GuestOsFeatures:  p.cfg.GuestOSFeatures,
		Licenses:         p.cfg.Licenses,
	}
	if cp.Description == "" {
		cp.Description = "Promoted from " + src.Ref().String()
	}
	if cp.Architecture == "" {
		cp.Architecture = src.Architecture
	}
	in, seeds, err := p.destination(ctx, dest)
	if err != nil {
		return lifecycle.Image{}, src, err
	}
	in.Source, in.Copy = src, cp
	seeds = append(seeds, apply.Seed{Snapshot: lifecycle.Snapshot{Project: src.Project, Family: src.Family, Images: []lifecycle.Image{src}}, At: p.sourceAt})
	phases, err := lifecycle.PlanPromote(in)
	var protected *lifecycle.ProtectedError
	switch {
	case errors.Is(err, lifecycle.ErrDestinationExists):
		return lifecycle.Image{}, src, fmt.Errorf("image %s already exists in project %s: run packer build -force to delete it and promote again, or choose another name", dest.Name, dest.Project)
	case errors.As(err, &protected):
		return lifecycle.Image{}, src, fmt.Errorf("refusing to replace image %s with packer build -force: %v; nothing was changed: choose another image_name, or release the promoted image under a new name", dest, err)
	case err != nil:
		return lifecycle.Image{}, src, err
	}
	// The families the promotion changes are leased while it does: the
	// destination's family (the copy goes into it) and the family of the
	// image it replaces.
	var leases []*apply.Lease
	for _, fam := range leasedFamilies(p.cfg.Family, in.Existing) {
		lease, err := apply.AcquireLease(ctx, p.client, dest.Project, fam, apply.LeaseOptions{
			Holder: lifecycle.LeaseHolder("promote", rand.Uint32()), Wait: apply.DefaultLeaseWait,
			OnWait: func(l lifecycle.Lease) {
				p.ui.Say(fmt.Sprintf("Family %s is leased to %s until %s: waiting...", fam, l.Holder, textfmt.Time(l.Expires)))
			}})
		if err != nil {
			return lifecycle.Image{}, src, fmt.Errorf("taking the lease of family %s: %w", fam, err)
		}
		defer lease.Release(ctx)
		leases = append(leases, lease)
	}
	if in.Existing != nil {
		p.ui.Say(fmt.Sprintf("Deleting existing image %s (-force): nothing protects it...", dest))
	}
	p.ui.Say(fmt.Sprintf("Creating image %s from %s...", dest, src.Ref()))
	// gce retries quota errors itself; a single copy gains nothing from the
	// applier sending it again.
	results := apply.Execute(ctx, p.client, phases, apply.Options{Parallelism: 1, QuotaRetries: -1, Scans: p.scans, Seeds: seeds, Leases: leases})
	var img lifecycle.Image
	for _, res := range results {
		failure := res.Failure()
		switch {
		case failure != nil && res.Action == lifecycle.ActionDelete:
			return lifecycle.Image{}, src, fmt.Errorf("deleting existing image %s (-force): %w; nothing was created", dest, failure)
		case failure != nil:
			return lifecycle.Image{}, src, fmt.Errorf("creating image %s from %s: %w", dest, src.Ref(), failure)
		case res.Made != nil:
			img = *res.Made
		}
	}
	p.ui.Say(fmt.Sprintf("Image %s is %s", dest, img.Status))
	return img, src, nil
}

// destination reads what the promotion would replace: the image under the
// destination name, if any, and where it lives (its family, with the head
// as getFromFamily answers it and what uses the family's images), as
// PlanPromote wants it.
func (p *promotion) destination(ctx context.Context, dest lifecycle.ImageRef) (lifecycle.PromoteInput, []apply.Seed, error) {
	pol := lifecycle.DefaultPolicy()
	in := lifecycle.PromoteInput{Force: p.cfg.PackerForce, Policy: pol, Now: p.now}
	old, err := p.client.GetImage(ctx, dest.Project, dest.Name)
	if errors.Is(err, gce.ErrNotFound) {
		return in, nil, nil
	}
	if err != nil {
		return in, nil, fmt.Errorf("checking whether image %s exists: %w", dest, err)
	}
	old.Project = dest.Project
	in.Existing = &old
	if !p.cfg.PackerForce {
		return in, nil, nil
	}
	p.scans = apply.NewScans(p.client, []string{dest.Project}, nil)
	at := time.Now()
	if old.Family == "" {
		s := lifecycle.Snapshot{Project: dest.Project, Images: []lifecycle.Image{old}}
		uses, _, err := p.scans.Get(ctx, -1)
		if err != nil {
			return in, nil, fmt.Errorf("finding what uses image %s before replacing it: %w", dest, err)
		}
		if err := uses.AddTo(&s); err != nil {
			return in, nil, err
		}
		in.ExistingIn = s
		return in, []apply.Seed{{Snapshot: s, At: at}}, nil
	}
	s, at, err := apply.Reader{C: p.client, Scans: p.scans}.Family(ctx, dest.Project, old.Family)
	if err != nil {
		return in, nil, fmt.Errorf("reading family %s of the image %s before replacing it: %w", old.Family, dest, err)
	}
	in.ExistingIn = s
	return in, []apply.Seed{{Snapshot: s, At: at}}, nil
}

// leasedFamilies are the families a promotion changes, each once.
func leasedFamilies(family string, existing *lifecycle.Image) []string {
	var out []string
	if family != "" {
		out = append(out, family)
	}
	if existing != nil && existing.Family != "" && existing.Family != family {
		out = append(out, existing.Family)
	}
	slices.Sort(out)
	return out
}

// source resolves the image to promote with one call and refuses what
// Compute Engine would refuse to copy.
func (p *promotion) source(ctx context.Context) (lifecycle.Image, error) {
	var (
		src lifecycle.Image
		err error
	)
	p.sourceAt = time.Now()
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
