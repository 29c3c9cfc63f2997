package gce

import (
	"context"
	"fmt"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// Compute is everything the project asks of Compute Engine. Errors are
// *Error values: test them with errors.Is against ErrNotFound and the other
// kinds; their text is Google's message with the method and resource.
// Every call is retried under one bounded policy (see Backoff) and every
// mutation waits for its operation.
type Compute interface {
	// ListFamily returns every image of family, in any state, with one list
	// call per 500 images.
	ListFamily(ctx context.Context, project, family string) ([]lifecycle.Image, error)
	// ListImages returns the images matching a Compute Engine list filter
	// ("" for all), e.g. `labels.team = "web"`.
	ListImages(ctx context.Context, project, filter string) ([]lifecycle.Image, error)
	GetImage(ctx context.Context, project, name string) (lifecycle.Image, error)
	// GetFromFamily is what the family points to now (images.getFromFamily).
	GetFromFamily(ctx context.Context, project, family string) (lifecycle.Image, error)
	// GetFromFamilyZonal is the family's head as rolled out in zone.
	GetFromFamilyZonal(ctx context.Context, project, zone, family string) (lifecycle.Image, error)
	// InsertImageFromImage creates an image from another and returns it
	// once its operation is done.
	InsertImageFromImage(ctx context.Context, project string, spec ImageSpec) (lifecycle.Image, error)
	// SetFamily moves an image into family (images.patch with family only).
	SetFamily(ctx context.Context, project, image, family string) error
	// SetLabelsFrom replaces the labels with merge(current), using the
	// label fingerprint; when another writer gets in between, it reads and
	// merges again, so merge must be a pure function of current. It starts
	// from the image as the caller read it (img.Labels and
	// img.LabelFingerprint, as ListFamily returns them): when nobody has
	// changed the labels since, it writes without reading the image again;
	// without a fingerprint it reads first. img.Project names the project.
	SetLabelsFrom(ctx context.Context, img lifecycle.Image, merge func(current map[string]string) (map[string]string, error)) error
	// Deprecate sets state, replacement and the three dates.
	Deprecate(ctx context.Context, project, image string, d lifecycle.Deprecation) error
	DeleteImage(ctx context.Context, project, image string) error
	// ScanImageUses finds what refers to images in projects: global and
	// regional instance templates, and instances through their boot disks.
	ScanImageUses(ctx context.Context, projects []string) (ImageUses, error)
	Close() error
}

// ImageSpec describes an image to create from another image.
type ImageSpec struct {
	Name string
	// SourceImage is any spelling lifecycle.ParseImageRef accepts; without
	// a project it means the target project.
	SourceImage      string
	Family           string
	Description      string
	Labels           map[string]string
	StorageLocations []string
	// Architecture is X86_64 or ARM64; empty leaves it to Compute Engine.
	Architecture    string
	GuestOsFeatures []string
	Licenses        []string
}

func (c *client) ListFamily(ctx context.Context, project, family string) ([]lifecycle.Image, error) {
	imgs, err := c.listImages(ctx, project, familyFilter(family))
	if err != nil {
		return nil, err
	}
	return toImages(imgs, project)
}

func (c *client) ListImages(ctx context.Context, project, filter string) ([]lifecycle.Image, error) {
	imgs, err := c.listImages(ctx, project, filter)
	if err != nil {
		return nil, err
	}
	return toImages(imgs, project)
}

func (c *client) GetImage(ctx context.Context, project, name string) (lifecycle.Image, error) {
	img, err := c.getImage(ctx, project, name)
	if err != nil {
		return lifecycle.Image{}, err
	}
	return toImage(img, project)
}

func (c *client) GetFromFamily(ctx context.Context, project, family string) (lifecycle.Image, error) {
	img, err := c.getFromFamily(ctx, project, family)
	if err != nil {
		return lifecycle.Image{}, err
	}
	return toImage(img, project)
}

func (c *client) GetFromFamilyZonal(ctx context.Context, project, zone, family string) (lifecycle.Image, error) {
	img, err := c.getFromFamilyZonal(ctx, project, zone, family)
	if err != nil {
		return lifecycle.Image{}, err
	}
	return toImage(img, project)
}

func (c *client) InsertImageFromImage(ctx context.Context, project string, spec ImageSpec) (lifecycle.Image, error) {
	body, err := toImageResource(spec, project)
	if err != nil {
		return lifecycle.Image{}, fmt.Errorf("images.insert %s: %w", imagePath(project, spec.Name), err)
	}
	img, err := c.insertImage(ctx, project, body)
	if err != nil {
		return lifecycle.Image{}, err
	}
	return toImage(img, project)
}

func (c *client) SetFamily(ctx context.Context, project, image, family string) error {
	return c.setFamily(ctx, project, image, family)
}

func (c *client) SetLabelsFrom(ctx context.Context, img lifecycle.Image, merge func(map[string]string) (map[string]string, error)) error {
	var read *computepb.Image
	if img.LabelFingerprint != "" {
		read = &computepb.Image{Labels: img.Labels, LabelFingerprint: proto.String(img.LabelFingerprint)}
	}
	return c.setLabels(ctx, img.Project, img.Name, read, merge)
}

func (c *client) Deprecate(ctx context.Context, project, image string, d lifecycle.Deprecation) error {
	status, err := toDeprecationStatus(d, project)
	if err != nil {
		return fmt.Errorf("images.deprecate %s: %w", imagePath(project, image), err)
	}
	return c.deprecate(ctx, project, image, status)
}

func (c *client) DeleteImage(ctx context.Context, project, image string) error {
	return c.deleteImage(ctx, project, image)
}
