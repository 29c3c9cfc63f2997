package gce

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// This file is the one place where Compute Engine's messages and the
// domain's types meet.

// toImage converts an API image; project is the project it was read from,
// used when the selfLink does not name one.
func toImage(img *computepb.Image, project string) (lifecycle.Image, error) {
	out := lifecycle.Image{
		Name:             img.GetName(),
		ID:               img.GetId(),
		Project:          project,
		Family:           img.GetFamily(),
		Status:           img.GetStatus(),
		Labels:           maps.Clone(img.GetLabels()),
		SelfLink:         img.GetSelfLink(),
		LabelFingerprint: img.GetLabelFingerprint(),
		Architecture:     img.GetArchitecture(),
		DiskSizeGB:       img.GetDiskSizeGb(),
	}
	if ref, err := lifecycle.ParseImageRef(img.GetSelfLink()); err == nil && ref.Project != "" {
		out.Project = ref.Project
	}
	what := imagePath(out.Project, out.Name)
	var err error
	if out.CreatedAt, err = parseTime(img.GetCreationTimestamp()); err != nil {
		return out, fmt.Errorf("image %s: creationTimestamp: %w", what, err)
	}
	if d := img.GetDeprecated(); d != nil {
		out.Deprecation.State = lifecycle.State(d.GetState())
		out.Deprecation.Replacement = d.GetReplacement()
		for _, f := range []struct {
			name string
			in   string
			out  **time.Time
		}{
			{"deprecated.deprecated", d.GetDeprecated(), &out.Deprecation.Deprecated},
			{"deprecated.obsolete", d.GetObsolete(), &out.Deprecation.Obsolete},
			{"deprecated.deleted", d.GetDeleted(), &out.Deprecation.Deleted},
		} {
			if f.in == "" {
				continue
			}
			t, err := parseTime(f.in)
			if err != nil {
				return out, fmt.Errorf("image %s: %s: %w", what, f.name, err)
			}
			*f.out = &t
		}
	}
	return out, nil
}

func toImages(imgs []*computepb.Image, project string) ([]lifecycle.Image, error) {
	out := make([]lifecycle.Image, 0, len(imgs))
	for _, img := range imgs {
		li, err := toImage(img, project)
		if err != nil {
			return nil, err
		}
		out = append(out, li)
	}
	return out, nil
}

// parseTime reads Compute Engine's RFC 3339 timestamps (with or without
// fractional seconds); "" is the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	return t, nil
}

// formatTime writes a date for the deprecation status: RFC 3339 in UTC with
// milliseconds, as Compute Engine writes its own timestamps.
func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// toDeprecationStatus converts a deprecation for images.deprecate. An empty
// state is ACTIVE; the replacement is written as the canonical URL, with
// project (the deprecated image's) when the reference names none.
func toDeprecationStatus(d lifecycle.Deprecation, project string) (*computepb.DeprecationStatus, error) {
	out := &computepb.DeprecationStatus{State: proto.String(string(d.State.Normal()))}
	if d.Replacement != "" {
		ref, err := lifecycle.ParseImageRef(d.Replacement)
		if err != nil {
			return nil, fmt.Errorf("replacement: %w", err)
		}
		out.Replacement = proto.String(ref.WithDefaultProject(project).SelfLink())
	}
	for _, f := range []struct {
		in  *time.Time
		out **string
	}{{d.Deprecated, &out.Deprecated}, {d.Obsolete, &out.Obsolete}, {d.Deleted, &out.Deleted}} {
		if f.in != nil {
			*f.out = proto.String(formatTime(*f.in))
		}
	}
	return out, nil
}

// toImageResource builds the insert body for spec in project.
func toImageResource(spec ImageSpec, project string) (*computepb.Image, error) {
	src, err := lifecycle.ParseImageRef(spec.SourceImage)
	if err != nil {
		return nil, fmt.Errorf("source image: %w", err)
	}
	img := &computepb.Image{
		Name:             proto.String(spec.Name),
		SourceImage:      proto.String(src.WithDefaultProject(project).String()),
		Labels:           maps.Clone(spec.Labels),
		StorageLocations: spec.StorageLocations,
		Licenses:         spec.Licenses,
	}
	if spec.Family != "" {
		img.Family = proto.String(spec.Family)
	}
	if spec.Description != "" {
		img.Description = proto.String(spec.Description)
	}
	if spec.Architecture != "" {
		img.Architecture = proto.String(strings.ToUpper(spec.Architecture))
	}
	for _, f := range spec.GuestOsFeatures {
		img.GuestOsFeatures = append(img.GuestOsFeatures, &computepb.GuestOsFeature{Type: proto.String(f)})
	}
	return img, nil
}
