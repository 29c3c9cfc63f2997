package emulator

import (
	"net/http"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// defaultDiskSizeGb is what an image records when neither the request nor its
// source says otherwise (a raw disk or a snapshot, which are not emulated).
const defaultDiskSizeGb = 10

// imageInsert creates an image. The name, family, labels and source are
// checked synchronously (400/404/409 on the POST, as Compute Engine does);
// the image then reads PENDING until its operation is done.
func (s *Server) imageInsert(r *http.Request) (proto.Message, error) {
	body := &computepb.Image{}
	if err := decodeBody(r, body); err != nil {
		return nil, err
	}
	// forceCreate is accepted and has nothing to force: disks are never
	// "in use" by a running instance when an image is taken here.
	return s.mutateImages(r, "images.insert", func(p *project) (*imageMutation, error) {
		img, err := s.store.newImageLocked(p, body)
		if err != nil {
			return nil, err
		}
		return &imageMutation{opType: "insert", target: img, apply: func(op *computepb.Operation) {
			p.imageReadyAt[img.GetName()] = p.opDoneAt[opKeyOf(op)]
			s.store.replaceImageLocked(p, img)
		}}, nil
	})
}

// newImageLocked validates an insert request and builds the image it creates.
func (st *Store) newImageLocked(p *project, body *computepb.Image) (*computepb.Image, error) {
	img := proto.Clone(body).(*computepb.Image)
	if err := checkName("resource.name", img.GetName()); err != nil {
		return nil, err
	}
	if img.Family != nil && img.GetFamily() != "" {
		if err := checkName("resource.family", img.GetFamily()); err != nil {
			return nil, err
		}
	}
	if err := checkLabels("resource.labels", img.GetLabels()); err != nil {
		return nil, err
	}
	if img.Deprecated != nil {
		dep, err := st.checkDeprecationLocked(p, nil, img.Deprecated, "resource.deprecated")
		if err != nil {
			return nil, err
		}
		img.Deprecated = dep
	}
	var sources []string
	if img.GetRawDisk().GetSource() != "" {
		sources = append(sources, "rawDisk.source")
	}
	for field, v := range map[string]string{"sourceDisk": img.GetSourceDisk(), "sourceImage": img.GetSourceImage(), "sourceSnapshot": img.GetSourceSnapshot()} {
		if v != "" {
			sources = append(sources, field)
		}
	}
	if len(sources) != 1 {
		return nil, errInvalid("Invalid value for field 'resource': ''. Exactly one of rawDisk.source, sourceDisk, sourceImage or sourceSnapshot must be specified; got %d (%s).", len(sources), strings.Join(sortedCopy(sources), ", "))
	}
	if _, exists := p.images[img.GetName()]; exists {
		return nil, errAlreadyExists(imagePath(p.name, img.GetName()))
	}

	// Output-only fields are the server's to set, whatever the request says.
	for _, f := range []**string{&img.Kind, &img.SelfLink, &img.CreationTimestamp, &img.Status,
		&img.LabelFingerprint, &img.SourceDiskId, &img.SourceImageId, &img.SourceSnapshotId, &img.SourceType} {
		*f = nil
	}
	img.Id, img.ArchiveSizeBytes, img.SatisfiesPzi, img.SatisfiesPzs = nil, nil, nil, nil
	if len(img.Labels) == 0 {
		img.Labels = nil
	}

	switch sources[0] {
	case "sourceImage":
		if err := st.copyFromImageLocked(p, img); err != nil {
			return nil, err
		}
	case "sourceDisk":
		if err := st.copyFromDiskLocked(p, img); err != nil {
			return nil, err
		}
	case "sourceSnapshot":
		// Snapshots are not emulated: any reference is accepted as is, and
		// one spelled as a path is written back as a full URL.
		if ref, ok := globalRef(img.GetSourceSnapshot(), "snapshots", p.name); ok {
			img.SourceSnapshot = proto.String(ref.url())
		}
	}

	if img.DiskSizeGb == nil {
		img.DiskSizeGb = proto.Int64(defaultDiskSizeGb)
	}
	if sources[0] != "sourceDisk" {
		// A compressed archive is a fraction of the disk; the number only
		// has to be plausible and stable. Images made from a disk carry
		// none (recorded Compute Engine traffic).
		img.ArchiveSizeBytes = proto.Int64(img.GetDiskSizeGb() << 27)
	}
	if len(img.StorageLocations) == 0 {
		img.StorageLocations = []string{"us"}
	}
	st.fillImageLocked(p, img)
	return img, nil
}

// copyFromImageLocked resolves sourceImage in any emulated project and any
// spelling, and inherits what Compute Engine copies from a source image.
func (st *Store) copyFromImageLocked(p *project, img *computepb.Image) error {
	srcP, src, err := st.resolveImageLocked(p.name, img.GetSourceImage(), "resource.sourceImage")
	if err != nil {
		return err
	}
	path := imagePath(srcP.name, src.GetName())
	if src.GetStatus() != "READY" {
		return errResourceNotReady("The resource '" + path + "' is not ready")
	}
	switch state := src.GetDeprecated().GetState(); state {
	case "OBSOLETE", "DELETED":
		// DEPRECATED sources are accepted (Compute Engine only warns).
		return errInvalid("Invalid value for field 'resource.sourceImage': '%s'. The referenced image resource '%s' is %s and cannot be used.", img.GetSourceImage(), path, state)
	}
	img.SourceImage = proto.String(src.GetSelfLink())
	img.SourceImageId = proto.String(strconv.FormatUint(src.GetId(), 10))
	inherit(img, src.Architecture, src.DiskSizeGb, src.GuestOsFeatures, src.Licenses, src.LicenseCodes)
	return nil
}

// copyFromDiskLocked resolves sourceDisk (a URL, or a path without host as the
// googlecompute builder sends it) and inherits the disk's size and features.
func (st *Store) copyFromDiskLocked(p *project, img *computepb.Image) error {
	ref, ok := zonalRef(img.GetSourceDisk(), "disks", p.name)
	if !ok {
		return errInvalid("Invalid value for field 'resource.sourceDisk': '%s'. The URL is malformed.", img.GetSourceDisk())
	}
	var disk *computepb.Disk
	if dp := st.projects[ref.project]; dp != nil {
		disk = dp.disks[ref.zone()+"/"+ref.name]
	}
	if disk == nil {
		return errNotFound(ref.path())
	}
	img.SourceDisk = proto.String(ref.url())
	img.SourceDiskId = proto.String(strconv.FormatUint(disk.GetId(), 10))
	inherit(img, disk.Architecture, disk.SizeGb, disk.GuestOsFeatures, disk.Licenses, disk.LicenseCodes)
	return nil
}

// inherit gives a new image what Compute Engine copies from the image or
// disk it is made from, where the request left it unset: architecture, size,
// guest OS features, and licenses with their codes.
func inherit(img *computepb.Image, architecture *string, sizeGb *int64, features []*computepb.GuestOsFeature, licenses []string, licenseCodes []int64) {
	if img.Architecture == nil && architecture != nil {
		img.Architecture = proto.String(*architecture)
	}
	if img.DiskSizeGb == nil && sizeGb != nil {
		img.DiskSizeGb = proto.Int64(*sizeGb)
	}
	if len(img.GuestOsFeatures) == 0 {
		img.GuestOsFeatures = cloneSlice(features)
	}
	if len(img.Licenses) == 0 {
		img.Licenses = append([]string(nil), licenses...)
		img.LicenseCodes = append([]int64(nil), licenseCodes...)
	}
}

// resolveImageLocked finds the image a reference names, in any emulated
// project and any spelling (parseImageRef), following a family reference to
// its head. It returns the image as readers see it now.
func (st *Store) resolveImageLocked(defaultProject, ref, field string) (*project, *computepb.Image, error) {
	parsed, err := parseImageRef(ref, defaultProject)
	if err != nil {
		return nil, nil, errInvalid("Invalid value for field '%s': '%s'. The URL is malformed.", field, ref)
	}
	if parsed.family {
		p := st.projects[parsed.project]
		head := st.familyHeadLocked(p, parsed.name, false)
		if head == nil {
			return nil, nil, errNotFound(parsed.path())
		}
		return p, head, nil
	}
	p, img, err := st.imageLocked(parsed.project, parsed.name)
	if err != nil {
		return nil, nil, err
	}
	return p, st.imageViewLocked(p, img), nil
}

func sortedCopy(s []string) []string {
	m := make(map[string]struct{}, len(s))
	for _, v := range s {
		m[v] = struct{}{}
	}
	return sortedKeys(m)
}
