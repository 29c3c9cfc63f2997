package promote

import (
	"context"
	"fmt"
	"log"
	"maps"
	"slices"
	"strconv"
	"strings"

	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// Artifact is the promoted image. Its State keys follow the googlecompute
// builder's (ImageName, ProjectId, generated_data...) so that post-processors
// written for that builder, the imagefamily-release post-processor among
// them, take it as they take a googlecompute image.
type Artifact struct {
	image   lifecycle.Image
	source  lifecycle.Image
	project string
	client  gce.Compute
}

func (*Artifact) BuilderId() string { return BuilderID }

func (*Artifact) Files() []string { return nil }

// Id is the image name, as for googlecompute.
func (a *Artifact) Id() string { return a.image.Name }

func (a *Artifact) String() string {
	return fmt.Sprintf("A disk image was promoted to the '%s' project: %s (from %s)", a.project, a.image.Name, a.source.Ref())
}

func (a *Artifact) generatedData() map[string]interface{} {
	return map[string]interface{}{
		"SourceImageName":      a.source.Name,
		"SourceImageProjectId": a.source.Project,
		"SourceImageSelfLink":  a.selfLink(a.source),
	}
}

func (a *Artifact) selfLink(img lifecycle.Image) string {
	if img.SelfLink != "" {
		return img.SelfLink
	}
	return img.Ref().SelfLink()
}

func (a *Artifact) State(name string) interface{} {
	switch name {
	case "ImageName":
		return a.image.Name
	case "ImageSizeGb":
		return a.image.DiskSizeGB
	case "ProjectId":
		return a.project
	case "ImageSelfLink":
		return a.selfLink(a.image)
	case "ImageLabels":
		return a.image.Labels
	case "SourceImage":
		return a.selfLink(a.source)
	case "generated_data":
		return a.generatedData()
	case registryimage.ArtifactStateURI:
		img, err := registryimage.FromArtifact(a,
			registryimage.WithID(a.image.Name),
			registryimage.WithProvider("gce"),
			registryimage.WithRegion("global"),
			registryimage.WithSourceID(a.source.Name),
		)
		if err != nil {
			log.Printf("[WARN] imagefamily-promote: HCP Packer metadata: %v", err)
			return nil
		}
		labels := map[string]string{
			"self_link":         a.selfLink(a.image),
			"project_id":        a.project,
			"disk_size_gb":      strconv.FormatInt(a.image.DiskSizeGB, 10),
			"source_image":      a.selfLink(a.source),
			"source_project_id": a.source.Project,
		}
		if a.image.Family != "" {
			labels["family"] = a.image.Family
		}
		var tags []string
		for _, k := range slices.Sorted(maps.Keys(a.image.Labels)) {
			tags = append(tags, k+":"+a.image.Labels[k])
		}
		if len(tags) > 0 {
			labels["tags"] = strings.Join(tags, ",")
		}
		img.Labels = labels
		return img
	}
	return nil
}

// Destroy deletes the promoted image: Packer calls it when a later step of
// the build fails, or when no post-processor keeps the image.
func (a *Artifact) Destroy() error {
	log.Printf("imagefamily-promote: deleting image %s", a.image.Ref())
	if err := a.client.DeleteImage(context.Background(), a.project, a.image.Name); err != nil {
		return fmt.Errorf("deleting promoted image %s: %w", lifecycle.ImageRef{Project: a.project, Name: a.image.Name}, err)
	}
	return nil
}
