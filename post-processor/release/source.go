package release

import (
	"fmt"
	"strings"

	"github.com/mitchellh/mapstructure"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// Builder ids of the artifacts the post-processor accepts.
const (
	// GooglecomputeBuilderID is the official googlecompute builder's.
	GooglecomputeBuilderID = "packer.googlecompute"
	// PromoteBuilderID is source "imagefamily-promote"'s.
	PromoteBuilderID = pluginconfig.PromoteBuilderID
)

// built is what the post-processor learns from the artifact it is given.
type built struct {
	BuilderID string
	Image     string
	// Project is the project the image was created in; "" when the artifact
	// does not say.
	Project string
	// Parent is the image the build started from, as a reference; "" when
	// the artifact does not say or its project is not known.
	Parent string
	// ParentNote says why Parent is empty, for people.
	ParentNote string
	// Zone is the build zone, when the artifact says.
	Zone string
}

// generatedData is googlecompute's generated_data.
type generatedData struct {
	SourceImageName string `mapstructure:"SourceImageName"`
}

// decodeState decodes an artifact state value with mapstructure: across the
// plugin RPC boundary maps arrive as map[interface{}]interface{} and numbers
// as int64, so nothing is type-asserted.
func decodeState(v interface{}, out interface{}) error {
	if v == nil {
		return nil
	}
	d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{WeaklyTypedInput: true, Result: out})
	if err != nil {
		return err
	}
	return d.Decode(v)
}

func stateString(a packersdk.Artifact, key string) string {
	var s string
	if err := decodeState(a.State(key), &s); err != nil {
		return ""
	}
	return s
}

// sourceOf reads the artifact of a supported builder.
func sourceOf(a packersdk.Artifact) (built, error) {
	if a == nil {
		return built{}, fmt.Errorf("no artifact to release: the build produced none")
	}
	b := built{BuilderID: a.BuilderId(), Image: a.Id()}
	switch b.BuilderID {
	case GooglecomputeBuilderID:
		return googlecomputeSource(a, b)
	case PromoteBuilderID:
		return promoteSource(a, b)
	}
	return built{}, fmt.Errorf("imagefamily-release cannot release an artifact of builder %q: it releases the images of the googlecompute builder (%s) and of source \"imagefamily-promote\" (%s)", b.BuilderID, GooglecomputeBuilderID, PromoteBuilderID)
}

func googlecomputeSource(a packersdk.Artifact, b built) (built, error) {
	if name := stateString(a, "ImageName"); name != "" {
		b.Image = name
	}
	// The HCP metadata arrives through the plugin RPC boundary as a msgpack
	// map (map[interface{}]interface{}), never the struct: decoded into it.
	var meta registryimage.Image
	if err := decodeState(a.State(registryimage.ArtifactStateURI), &meta); err != nil {
		return b, fmt.Errorf("reading the googlecompute artifact's %s: %w", registryimage.ArtifactStateURI, err)
	}
	// project_id in the metadata labels is the image's own project
	// (image_project_id); the ProjectId state key is the build project.
	b.Project = meta.Labels["project_id"]
	b.Zone = meta.ProviderRegion
	var gen generatedData
	if err := decodeState(a.State("generated_data"), &gen); err != nil {
		return b, fmt.Errorf("reading the googlecompute artifact's generated_data: %w", err)
	}
	src := gen.SourceImageName
	if src == "" {
		src = meta.SourceImageID
	}
	var projects []string
	for _, p := range strings.Split(meta.Labels["source_image_project_ids"], ",") {
		if p = strings.TrimSpace(p); p != "" {
			projects = append(projects, p)
		}
	}
	switch {
	case src == "":
		b.ParentNote = "the googlecompute artifact does not name its source image (set parent)"
	case len(projects) == 1:
		b.Parent = lifecycle.ImageRef{Project: projects[0], Name: src}.String()
	case len(projects) == 0:
		b.ParentNote = fmt.Sprintf("the source image %s was looked up without source_image_project_id, so its project is not known (set parent)", src)
	default:
		b.ParentNote = fmt.Sprintf("the source image %s was looked up in several projects (%s), so its project is not known (set parent)", src, strings.Join(projects, ", "))
	}
	if b.Image == "" {
		return b, fmt.Errorf("the googlecompute artifact names no image")
	}
	return b, nil
}

// promoteSource reads the artifact of source "imagefamily-promote": the
// copy it made, in its project, and the image it copied.
func promoteSource(a packersdk.Artifact, b built) (built, error) {
	if name := stateString(a, "ImageName"); name != "" {
		b.Image = name
	}
	b.Project = stateString(a, "ProjectId")
	if b.Image == "" {
		return b, fmt.Errorf("the imagefamily-promote artifact names no image")
	}
	// A promoted image is a copy: its parent is the copy's source's parent,
	// which its lineage labels already carry. Nothing to add here.
	b.ParentNote = "a promoted image keeps those of the image it copies"
	return b, nil
}
