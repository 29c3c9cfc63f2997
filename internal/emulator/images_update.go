package emulator

import (
	"net/http"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

var deprecationStates = map[string]bool{"": true, "ACTIVE": true, "DEPRECATED": true, "OBSOLETE": true, "DELETED": true}

// checkDeprecationLocked validates a requested deprecation status for img (nil
// for an image being inserted) and returns what to store: nil when the image
// becomes plainly ACTIVE. field prefixes error messages ("resource" for
// images.deprecate, "resource.deprecated" for images.patch).
//
// An ACTIVE state keeps any dates and replacement it carries: the
// googlecompute builder schedules deprecate_at/obsolete_at/delete_at exactly
// that way, and the rotator must later see those dates.
func (st *Store) checkDeprecationLocked(p *project, img *computepb.Image, req *computepb.DeprecationStatus, field string) (*computepb.DeprecationStatus, error) {
	state := req.GetState()
	if !deprecationStates[state] {
		return nil, errInvalid("Invalid value for field '%s.state': '%s'. Must be one of ACTIVE, DEPRECATED, OBSOLETE or DELETED.", field, state)
	}
	for name, v := range map[string]*string{"deprecated": req.Deprecated, "obsolete": req.Obsolete, "deleted": req.Deleted} {
		if v == nil || *v == "" {
			continue
		}
		if !validDeprecationDate(*v) {
			return nil, errInvalid("Invalid value for field '%s.%s': '%s'. Must be an RFC 3339 timestamp, e.g. 2026-11-26T06:47:30Z.", field, name, *v)
		}
	}
	out := proto.Clone(req).(*computepb.DeprecationStatus)
	if r := req.GetReplacement(); r != "" {
		ref, err := parseImageRef(r, p.name)
		if err != nil {
			return nil, errInvalid("Invalid value for field '%s.replacement': '%s'. The URL is malformed.", field, r)
		}
		if _, _, err := st.resolveImageLocked(p.name, r, field+".replacement"); err != nil {
			return nil, errInvalid("Invalid value for field '%s.replacement': '%s'. The referenced image resource %s cannot be found.", field, r, ref.path())
		}
		out.Replacement = proto.String(ref.url())
	}
	toActive := state == "" || state == "ACTIVE"
	if img != nil && toActive && !isActive(img) && st.undeprec != UndeprecateAllow {
		return nil, errInvalid("Invalid value for field '%s.state': '%s'. Image '%s' is %s and deprecation cannot be reverted to ACTIVE (Compute Engine documents deprecation as irreversible; the emulator allows it with --undeprecate=allow).",
			field, state, imagePath(p.name, img.GetName()), img.GetDeprecated().GetState())
	}
	if toActive {
		if out.GetDeprecated() == "" && out.GetObsolete() == "" && out.GetDeleted() == "" && out.GetReplacement() == "" {
			return nil, nil
		}
		out.State = proto.String("ACTIVE")
	}
	return out, nil
}

// validDeprecationDate accepts RFC 3339, and the same without a UTC offset:
// gcloud's --obsolete-in/--delete-in send local-less times such as
// 2026-11-27T08:32:28, which Compute Engine accepts. Dates are stored as sent.
func validDeprecationDate(s string) bool {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

// imageDeprecate sets an image's deprecation status. An empty body clears it:
// on an ACTIVE image that changes nothing and must succeed in every
// --undeprecate mode, because the googlecompute builder sends exactly that
// after every image it creates and panics when it fails.
func (s *Server) imageDeprecate(r *http.Request) (proto.Message, error) {
	body := &computepb.DeprecationStatus{}
	if err := decodeBody(r, body); err != nil {
		return nil, err
	}
	return s.mutateImages(r, "images.deprecate", func(p *project) (*imageMutation, error) {
		_, img, err := s.store.imageLocked(p.name, r.PathValue("image"))
		if err != nil {
			return nil, err
		}
		dep, err := s.store.checkDeprecationLocked(p, img, body, "resource")
		if err != nil {
			return nil, err
		}
		updated := proto.Clone(img).(*computepb.Image)
		updated.Deprecated = dep
		return &imageMutation{opType: "deprecate", target: img, apply: func(*computepb.Operation) { s.store.replaceImageLocked(p, updated) }}, nil
	})
}

// imageSetLabels replaces the whole label map, guarded by the fingerprint of
// the labels the caller read: two writers that read the same labels cannot
// both win.
func (s *Server) imageSetLabels(r *http.Request) (proto.Message, error) {
	body := &computepb.GlobalSetLabelsRequest{}
	if err := decodeBody(r, body); err != nil {
		return nil, err
	}
	return s.mutateImages(r, "images.setLabels", func(p *project) (*imageMutation, error) {
		_, img, err := s.store.imageLocked(p.name, r.PathValue("image"))
		if err != nil {
			return nil, err
		}
		if err := checkLabels("labels", body.GetLabels()); err != nil {
			return nil, err
		}
		if !sameFingerprint(body.GetLabelFingerprint(), img.GetLabelFingerprint()) {
			return nil, errConditionNotMet("Labels fingerprint either invalid or resource labels have changed")
		}
		updated := proto.Clone(img).(*computepb.Image)
		updated.Labels = nil
		if len(body.GetLabels()) > 0 {
			updated.Labels = body.GetLabels()
		}
		updated.LabelFingerprint = proto.String(labelFingerprint(updated.Labels))
		return &imageMutation{opType: "setLabels", target: img, apply: func(*computepb.Operation) { s.store.replaceImageLocked(p, updated) }}, nil
	})
}

// imagePatch changes family, description and deprecation status, the only
// fields images.patch may change. The body's raw keys tell which of them
// were sent: a field absent from the body is left alone, one sent as null or
// empty is cleared. Every other field in the body is ignored, as Compute
// Engine ignores it (recorded traffic: a body carrying labels, diskSizeGb,
// name and sourceDisk beside the family got 200 and a patch operation, and
// the labels did not change: labels change only through setLabels).
func (s *Server) imagePatch(r *http.Request) (proto.Message, error) {
	body := &computepb.Image{}
	keys, err := decodeBodyKeys(r, body)
	if err != nil {
		return nil, err
	}
	return s.mutateImages(r, "images.patch", func(p *project) (*imageMutation, error) {
		_, img, err := s.store.imageLocked(p.name, r.PathValue("image"))
		if err != nil {
			return nil, err
		}
		updated := proto.Clone(img).(*computepb.Image)
		if _, ok := keys["family"]; ok {
			updated.Family = nil
			if f := body.GetFamily(); f != "" {
				if err := checkName("resource.family", f); err != nil {
					return nil, err
				}
				updated.Family = proto.String(f)
			}
		}
		if _, ok := keys["description"]; ok {
			updated.Description = nil
			if d := body.GetDescription(); d != "" {
				updated.Description = proto.String(d)
			}
		}
		if _, ok := keys["deprecated"]; ok {
			req := body.GetDeprecated()
			if req == nil {
				req = &computepb.DeprecationStatus{}
			}
			dep, err := s.store.checkDeprecationLocked(p, img, req, "resource.deprecated")
			if err != nil {
				return nil, err
			}
			updated.Deprecated = dep
		}
		return &imageMutation{opType: "patch", target: img, apply: func(*computepb.Operation) { s.store.replaceImageLocked(p, updated) }}, nil
	})
}
