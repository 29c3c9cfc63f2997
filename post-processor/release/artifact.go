package release

import (
	"fmt"
	"log"

	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/releaser"
)

// Artifact is the released image.
type Artifact struct {
	out *releaser.Outcome
	// zone is the build zone the builder reported, HCP Packer's region.
	zone string
}

// BuilderId is BuilderID.
func (a *Artifact) BuilderId() string { return BuilderID }

// Files is empty: an image is not files.
func (a *Artifact) Files() []string { return nil }

// Id is the released image's name; for a build that changed nothing
// (unchanged), the family's head, which holds the same content.
func (a *Artifact) Id() string { return a.image() }

func (a *Artifact) image() string {
	if a.out.Unchanged {
		return a.out.Head
	}
	return a.out.Image
}

func (a *Artifact) selfLink() string {
	if a.out.Unchanged {
		return lifecycle.ImageRef{Project: a.out.Project, Name: a.out.Head}.SelfLink()
	}
	return a.out.SelfLink
}

func (a *Artifact) String() string {
	o := a.out
	switch {
	case o.Unchanged && o.DryRun:
		return fmt.Sprintf("Dry run: image %s would not be released: unchanged, same content as HEAD %s of family %s of project %s (nothing was changed)", o.Image, o.Head, o.Family, o.Project)
	case o.Unchanged && o.BuiltDeleted:
		return fmt.Sprintf("Image %s not released: unchanged, same content as HEAD %s of family %s of project %s; %s deleted", o.Image, o.Head, o.Family, o.Project, o.Image)
	case o.Unchanged:
		return fmt.Sprintf("Image %s not released: unchanged, same content as HEAD %s of family %s of project %s; %s kept (see the warnings)", o.Image, o.Head, o.Family, o.Project, o.Image)
	case o.DryRun:
		return fmt.Sprintf("Dry run: image %s would be released into family %s of project %s (nothing was changed)", o.Image, o.Family, o.Project)
	case !o.Released:
		// Kept although the release failed: a family holds it (see
		// PostProcess).
		return fmt.Sprintf("Image %s NOT released into family %s of project %s (%s); kept: it is in family %s, where the builder put it", o.Image, o.Family, o.Project, o.Error, o.BuiltFamily)
	case o.Raced:
		return fmt.Sprintf("Image %s released into family %s of project %s; the family resolves to %s, which raced it in", o.Image, o.Family, o.Project, o.Head)
	}
	prev := o.PreviousHead
	if prev == "" {
		prev = "no image"
	}
	return fmt.Sprintf("Image %s released into family %s of project %s (the family pointed to %s before)", o.Image, o.Family, o.Project, prev)
}

// State answers the artifact's state keys:
//
//	ImageName, SelfLink, ProjectId, Family, PreviousHead, Head, Parent,
//	BuiltImage, Renamed, Released, DryRun, Raced, RotationFailed,
//	Unchanged, ContentDigest (ImageName and SelfLink are the head's when
//	Unchanged),
//	Plan (the summary, e.g. "head x: deprecate 1; 2 untouched"),
//	PlanActions (map action -> count), and par.artifact.metadata for HCP
//	Packer.
func (a *Artifact) State(name string) interface{} {
	o := a.out
	switch name {
	case registryimage.ArtifactStateURI:
		img, err := registryimage.FromArtifact(a,
			registryimage.WithProvider("gce"),
			registryimage.WithRegion(a.zone),
			registryimage.WithSourceID(o.Parent),
			registryimage.SetLabels(map[string]interface{}{
				"self_link":     a.selfLink(),
				"project_id":    o.Project,
				"family":        o.Family,
				"previous_head": o.PreviousHead,
				"parent_family": o.ParentFamily,
			}),
		)
		if err != nil {
			log.Printf("[WARN] imagefamily-release: HCP Packer metadata: %v", err)
			return nil
		}
		return img
	case "ImageName":
		return a.image()
	case "SelfLink":
		return a.selfLink()
	case "Unchanged":
		return o.Unchanged
	case "ContentDigest":
		return o.ContentDigest
	case "ProjectId":
		return o.Project
	case "Family":
		return o.Family
	case "PreviousHead":
		return o.PreviousHead
	case "Head":
		return o.Head
	case "Parent":
		return o.Parent
	case "BuiltImage":
		return o.BuiltImage
	case "Renamed":
		return o.Renamed
	case "Released":
		return o.Released
	case "DryRun":
		return o.DryRun
	case "Raced":
		return o.Raced
	case "RotationFailed":
		return o.RotationFailed
	case "Plan":
		if o.Plan == nil {
			return ""
		}
		return o.Plan.String()
	case "PlanActions":
		if o.Plan == nil {
			return map[string]int{}
		}
		return o.Plan.Actions
	}
	return nil
}

// Destroy does nothing: a released image is never deleted by Packer (a later
// post-processor that does not keep its input would otherwise delete it).
// Retire images with the rotation or `imagefamily revoke`.
func (a *Artifact) Destroy() error {
	log.Printf("[INFO] imagefamily-release: not destroying image %s: released images are retired by rotation, never deleted by Packer", a.image())
	return nil
}
