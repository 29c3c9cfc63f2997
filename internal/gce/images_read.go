package gce

import (
	"context"
	"fmt"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// optional is nil for "", so an empty token or filter is not sent.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func imagePath(project, name string) string { return "projects/" + project + "/global/images/" + name }

// familyFilter selects a family's images. Family names are
// [a-z]([-a-z0-9]*[a-z0-9])?, so quoting needs no escaping.
func familyFilter(family string) string { return fmt.Sprintf(`family = "%s"`, family) }

// listImages returns every image of project matching filter ("" for all),
// one list call per 500 images: the list already carries every field we
// read, so there is no per-image GET.
func (c *client) listImages(ctx context.Context, project, filter string) ([]*computepb.Image, error) {
	var out []*computepb.Image
	err := c.pages(ctx, "images.list", "projects/"+project+"/global/images", func(ctx context.Context, token string) (string, error) {
		req := &computepb.ListImagesRequest{Project: project, MaxResults: proto.Uint32(pageSize), PageToken: optional(token)}
		if filter != "" {
			req.Filter = proto.String(filter)
		}
		page, next, err := onePage[*computepb.Image](c.images.List(ctx, req, noRetry))
		if err != nil {
			return "", err
		}
		out = append(out, page...)
		return next, nil
	})
	return out, err
}

func (c *client) getImage(ctx context.Context, project, name string) (*computepb.Image, error) {
	var img *computepb.Image
	err := c.call(ctx, "images.get", imagePath(project, name), func(ctx context.Context) (err error) {
		img, err = c.images.Get(ctx, &computepb.GetImageRequest{Project: project, Image: name}, noRetry)
		return err
	})
	return img, err
}

func (c *client) getFromFamily(ctx context.Context, project, family string) (*computepb.Image, error) {
	var img *computepb.Image
	err := c.call(ctx, "images.getFromFamily", imagePath(project, "family/"+family), func(ctx context.Context) (err error) {
		img, err = c.images.GetFromFamily(ctx, &computepb.GetFromFamilyImageRequest{Project: project, Family: family}, noRetry)
		return err
	})
	return img, err
}

func (c *client) getFromFamilyZonal(ctx context.Context, project, zone, family string) (*computepb.Image, error) {
	var img *computepb.Image
	res := "projects/" + project + "/zones/" + zone + "/imageFamilyViews/" + family
	err := c.call(ctx, "imageFamilyViews.get", res, func(ctx context.Context) error {
		view, err := c.families.Get(ctx, &computepb.GetImageFamilyViewRequest{Project: project, Zone: zone, Family: family}, noRetry)
		if err != nil {
			return err
		}
		img = view.GetImage()
		return nil
	})
	if err == nil && img == nil {
		err = &Error{Kind: ErrNotFound, Method: "imageFamilyViews.get", Resource: res, Attempts: 1,
			Message: fmt.Sprintf("family %q has no image rolled out in zone %s", family, zone)}
	}
	return img, err
}
