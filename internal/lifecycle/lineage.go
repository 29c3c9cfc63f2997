package lifecycle

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Lineage label keys. imagefamily writes them; a user label with one of these
// keys is an error, never a silent override. Values are image, family and
// project names (valid label values as they are), sanitised text, or
// LabelTimestamp values.
const (
	LabelPrefix = "imagefamily-"

	// LabelParentImage names the image this one was built on; with
	// LabelParentFamily and LabelParentProject it lets `outdated` tell when
	// the parent family has moved on, and `revoke --descendants` follow
	// children.
	LabelParentImage   = "imagefamily-parent-image"
	LabelParentFamily  = "imagefamily-parent-family"
	LabelParentProject = "imagefamily-parent-project"
	// LabelReleasedAt is when the release moved the family to the image.
	LabelReleasedAt = "imagefamily-released-at"
	// LabelOS, LabelSoftware and LabelVersion are the naming convention's
	// parts, sanitised as label values (1.24.0 → 1-24-0).
	LabelOS       = "imagefamily-os"
	LabelSoftware = "imagefamily-software"
	LabelVersion  = "imagefamily-version"
	// LabelRollbackOf marks a copy made by rollback of an image that was no
	// longer ACTIVE; the value is that image's name.
	LabelRollbackOf = "imagefamily-rollback-of"
	// LabelPromotedFrom and LabelPromotedFromProject mark a copy made by the
	// promote builder.
	LabelPromotedFrom        = "imagefamily-promoted-from"
	LabelPromotedFromProject = "imagefamily-promoted-from-project"
	// LabelRevokedReason is written by revoke.
	LabelRevokedReason = "imagefamily-revoked-reason"
	// LabelRotatedAt is written by the rotator when it moves an image whose
	// next step is already due, so that a second run in the same second does
	// not move it again (one step per image per run).
	LabelRotatedAt = "imagefamily-rotated-at"
	// LabelReleasingInto is the first thing a release writes on the image
	// it releases (and on the built image of a copy): the family it is being
	// released into. The release takes it off once the image is in the
	// family, so an image in no family carrying it is the orphan of an
	// interrupted release: status shows it as ORPHANED and rotate deletes it
	// once older than the orphan grace.
	LabelReleasingInto = "imagefamily-releasing-into"
	// LabelLease is the per-family lease of a command of this project (see
	// Lease): held on the family's head while a command changes the family.
	LabelLease = "imagefamily-lease"

	// DefaultProtectLabel is the default rotation.protect_label: an image
	// carrying it with any value but "false" is never rotated. It is a user
	// label, not a lineage key.
	DefaultProtectLabel = "imagefamily-protect"
)

var lineageKeys = []string{
	LabelParentImage, LabelParentFamily, LabelParentProject, LabelReleasedAt,
	LabelOS, LabelSoftware, LabelVersion, LabelRollbackOf,
	LabelPromotedFrom, LabelPromotedFromProject, LabelRevokedReason, LabelRotatedAt,
	LabelReleasingInto, LabelLease, LabelContentDigest,
}

// LineageKeys lists the label keys imagefamily owns.
func LineageKeys() []string { return slices.Clone(lineageKeys) }

// IsLineageKey reports whether key is one imagefamily owns.
func IsLineageKey(key string) bool { return slices.Contains(lineageKeys, key) }

// MergeLabels computes the complete label map to write with setLabels (which
// replaces the whole map and needs the fingerprint read with existing):
// existing labels are kept, lineage labels are written (imagefamily owns them,
// so they replace earlier values of the same keys), and user labels are
// written over existing values of their keys. A user label with a lineage
// key is an error, as is a lineage map holding a key imagefamily does not
// own, and a result that breaks Compute Engine's label rules. On a 412
// (fingerprint changed) read the labels again and merge again.
func MergeLabels(existing, lineage, user map[string]string) (map[string]string, error) {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(user)) {
		if IsLineageKey(k) {
			errs = append(errs, fmt.Errorf("labels: user label %q collides with a lineage key: imagefamily writes the %s* lineage labels itself; choose another key", k, LabelPrefix))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(lineage)) {
		if !IsLineageKey(k) {
			errs = append(errs, fmt.Errorf("labels: %q is not a lineage key: lineage keys are %v", k, lineageKeys))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out := make(map[string]string, len(existing)+len(lineage)+len(user))
	maps.Copy(out, existing)
	maps.Copy(out, lineage)
	maps.Copy(out, user)
	if err := ValidateLabels(out); err != nil {
		return nil, err
	}
	return out, nil
}

// Lineage is what an image records about where it came from. Image fields
// take any reference spelling (a name, a path, a URL); a reference that names
// a project fills the matching project field.
type Lineage struct {
	ParentImage   string
	ParentFamily  string
	ParentProject string
	ReleasedAt    time.Time // zero: not written
	OS            string    // sanitised with SanitizeLabelValue
	Software      string
	Version       string
	RollbackOf    string
	PromotedFrom  string
	// PromotedFromProject is the project PromotedFrom lives in.
	PromotedFromProject string
	RevokedReason       string // sanitised with SanitizeLabelValue
	// ContentDigest is ContentDigest of the build's content manifest.
	ContentDigest string
}

// LineageLabels turns a Lineage into labels; empty fields are left out.
func LineageLabels(l Lineage) (map[string]string, error) {
	out := map[string]string{}
	var errs []error
	ref := func(field, key, projectKey, spelled, project string) {
		if spelled == "" {
			if project != "" && projectKey != "" {
				out[projectKey] = project
			}
			return
		}
		r, err := ParseImageRef(spelled)
		if err != nil {
			errs = append(errs, fmt.Errorf("labels: %s: %w", field, err))
			return
		}
		if r.Family {
			errs = append(errs, fmt.Errorf("labels: %s %q follows a family: lineage records one pinned image (use the resolved image's name or self link)", field, spelled))
			return
		}
		out[key] = r.Name
		switch {
		case projectKey == "":
		case project != "" && r.Project != "" && project != r.Project:
			errs = append(errs, fmt.Errorf("labels: %s %q is in project %q but its project is given as %q", field, spelled, r.Project, project))
		case project != "":
			out[projectKey] = project
		case r.Project != "":
			out[projectKey] = r.Project
		}
	}
	ref("parent image", LabelParentImage, LabelParentProject, l.ParentImage, l.ParentProject)
	ref("rollback of", LabelRollbackOf, "", l.RollbackOf, "")
	ref("promoted from", LabelPromotedFrom, LabelPromotedFromProject, l.PromotedFrom, l.PromotedFromProject)
	if l.ParentFamily != "" {
		out[LabelParentFamily] = l.ParentFamily
	}
	if !l.ReleasedAt.IsZero() {
		out[LabelReleasedAt] = LabelTimestamp(l.ReleasedAt)
	}
	if l.ContentDigest != "" {
		out[LabelContentDigest] = l.ContentDigest
	}
	for key, v := range map[string]string{LabelOS: l.OS, LabelSoftware: l.Software, LabelVersion: l.Version, LabelRevokedReason: l.RevokedReason} {
		if s := SanitizeLabelValue(v); s != "" {
			out[key] = s
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := ValidateLabels(out); err != nil {
		return nil, err
	}
	return out, nil
}

// LineageOf reads the lineage labels of an image. Projects are as written:
// an empty parent project means the image's own project.
func LineageOf(labels map[string]string) Lineage {
	l := Lineage{
		ParentImage:         labels[LabelParentImage],
		ParentFamily:        labels[LabelParentFamily],
		ParentProject:       labels[LabelParentProject],
		OS:                  labels[LabelOS],
		Software:            labels[LabelSoftware],
		Version:             labels[LabelVersion],
		RollbackOf:          labels[LabelRollbackOf],
		PromotedFrom:        labels[LabelPromotedFrom],
		PromotedFromProject: labels[LabelPromotedFromProject],
		RevokedReason:       labels[LabelRevokedReason],
		ContentDigest:       labels[LabelContentDigest],
	}
	if t, err := ParseLabelTimestamp(labels[LabelReleasedAt]); err == nil {
		l.ReleasedAt = t
	}
	return l
}
