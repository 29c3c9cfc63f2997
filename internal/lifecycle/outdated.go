package lifecycle

import "fmt"

// Verdict is what CheckLineage concludes about a family head.
type Verdict string

const (
	// VerdictCurrent: the head's parent is still its family's head.
	VerdictCurrent Verdict = "current"
	// VerdictOutdated: the parent family has moved on (or has no head).
	VerdictOutdated Verdict = "outdated"
	// VerdictUnknown: the parent's family is not among the snapshots given.
	VerdictUnknown Verdict = "unknown"
	// VerdictNoLineage: the head carries no imagefamily-parent-image label.
	VerdictNoLineage Verdict = "no-lineage"
	// VerdictNoHead: the family resolves to nothing.
	VerdictNoHead Verdict = "no-head"
)

// HeadLineage is one family head checked against its parent family.
type HeadLineage struct {
	Project string
	Family  string
	Head    Image // zero for VerdictNoHead
	// Parent is the image the head was built on, from its labels, with the
	// project filled in (the head's own when the label is absent).
	Parent       ImageRef
	ParentFamily string
	Verdict      Verdict
	// RebuildOn is the parent family's head now, for an outdated head whose
	// parent family still has one.
	RebuildOn *Image
	// ParentOutdated: the parent family's head is itself outdated, so
	// rebuilding on RebuildOn will need doing again once that one is rebuilt.
	ParentOutdated bool
	Reason         string
}

type familyKey struct{ project, family string }

// CheckLineage checks every family's head against its parent family, read
// from the head's lineage labels (imagefamily-parent-image, -family,
// -project). A head without imagefamily-parent-family takes the parent
// image's family when that image is among the snapshots. Results follow the
// order of families.
func CheckLineage(families []Snapshot) []HeadLineage {
	byFamily := map[familyKey]Snapshot{}
	byImage := map[ImageRef]Image{}
	for _, s := range families {
		byFamily[familyKey{s.Project, s.Family}] = s
		for _, img := range s.Images {
			byImage[s.refOf(img)] = img
		}
	}
	out := make([]HeadLineage, 0, len(families))
	for _, s := range families {
		out = append(out, checkHead(s, byFamily, byImage))
	}
	verdicts := map[familyKey]Verdict{}
	for _, h := range out {
		verdicts[familyKey{h.Project, h.Family}] = h.Verdict
	}
	for i, h := range out {
		if h.ParentFamily != "" && verdicts[familyKey{h.Parent.Project, h.ParentFamily}] == VerdictOutdated {
			out[i].ParentOutdated = true
			out[i].Reason += fmt.Sprintf("; family %s is itself outdated: rebuild it first", h.ParentFamily)
		}
	}
	return out
}

func checkHead(s Snapshot, byFamily map[familyKey]Snapshot, byImage map[ImageRef]Image) HeadLineage {
	h := HeadLineage{Project: s.Project, Family: s.Family}
	head, ok := s.Head()
	if !ok {
		h.Verdict, h.Reason = VerdictNoHead, fmt.Sprintf("family %s resolves to no image", s.Family)
		return h
	}
	h.Head = head.Clone()
	l := LineageOf(head.Labels)
	if l.ParentImage == "" {
		h.Verdict, h.Reason = VerdictNoLineage, fmt.Sprintf("head %s has no %s label", head.Name, LabelParentImage)
		return h
	}
	project := l.ParentProject
	if project == "" {
		project = s.refOf(head).Project
	}
	h.Parent = ImageRef{Project: project, Name: l.ParentImage}
	h.ParentFamily = l.ParentFamily
	if h.ParentFamily == "" {
		if p, ok := byImage[h.Parent]; ok {
			h.ParentFamily = p.Family
		}
	}
	if h.ParentFamily == "" {
		h.Verdict, h.Reason = VerdictUnknown, fmt.Sprintf("head %s was built on %s, whose family is unknown (no %s label, and the image is not among the families read)", head.Name, h.Parent, LabelParentFamily)
		return h
	}
	ps, ok := byFamily[familyKey{project, h.ParentFamily}]
	if !ok {
		h.Verdict, h.Reason = VerdictUnknown, fmt.Sprintf("head %s was built on %s of family %s, which is not among the families read", head.Name, h.Parent, h.ParentFamily)
		return h
	}
	ph, ok := ps.Head()
	switch {
	case !ok:
		h.Verdict, h.Reason = VerdictOutdated, fmt.Sprintf("head %s was built on %s, but family %s now resolves to no image: nothing to rebuild on", head.Name, l.ParentImage, h.ParentFamily)
	case ps.refOf(ph) == h.Parent:
		h.Verdict, h.Reason = VerdictCurrent, fmt.Sprintf("head %s was built on %s, still the head of family %s", head.Name, l.ParentImage, h.ParentFamily)
	default:
		c := ph.Clone()
		h.Verdict, h.RebuildOn = VerdictOutdated, &c
		h.Reason = fmt.Sprintf("head %s was built on %s, but family %s now resolves to %s: rebuild on it", head.Name, l.ParentImage, h.ParentFamily, ph.Name)
	}
	return h
}
