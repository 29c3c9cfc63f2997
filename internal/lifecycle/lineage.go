package lifecycle

import (
	"cmp"
	"fmt"
	"slices"
)

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

// Relation is how a descendant came from its parent.
type Relation string

const (
	// RelationBuiltOn: imagefamily-parent-image (a build on top of it).
	RelationBuiltOn Relation = "built-on"
	// RelationPromotedFrom: imagefamily-promoted-from (a copy into another
	// project or family: the same bits).
	RelationPromotedFrom Relation = "promoted-from"
	// RelationRollbackOf: imagefamily-rollback-of (a re-released copy).
	RelationRollbackOf Relation = "rollback-of"
)

// Descendant is an image that comes from the root, directly or not.
type Descendant struct {
	Image      Image
	Parent     ImageRef // the image it comes from directly
	Relation   Relation
	Generation int // 1 for the root's children
}

type lineageLink struct {
	parent   ImageRef
	relation Relation
}

// links are the images an image comes from, by its lineage labels; a label
// without a project means the image's own project.
func links(img Image) []lineageLink {
	l := LineageOf(img.Labels)
	var out []lineageLink
	add := func(name, project string, rel Relation) {
		if name == "" {
			return
		}
		if project == "" {
			project = img.Project
		}
		out = append(out, lineageLink{ImageRef{Project: project, Name: name}, rel})
	}
	add(l.ParentImage, l.ParentProject, RelationBuiltOn)
	add(l.PromotedFrom, l.PromotedFromProject, RelationPromotedFrom)
	add(l.RollbackOf, "", RelationRollbackOf)
	return out
}

// Descendants finds every image that comes from root through any number of
// generations and families, by lineage labels: builds on it, promoted copies
// and rollback copies (copies carry the same bits, so revoking the root
// concerns them too). A root without a project stands for every image of
// that name, in any project. Images are given with their Project set. The result is
// ordered by generation, then project and name; the root itself is left out.
func Descendants(images []Image, root ImageRef) []Descendant {
	children := map[ImageRef][]int{}
	byName := map[string][]int{}
	for i, img := range images {
		for _, ln := range links(img) {
			children[ln.parent] = append(children[ln.parent], i)
			byName[ln.parent.Name] = append(byName[ln.parent.Name], i)
		}
	}
	root.Family = false
	visited := map[ImageRef]bool{root: true}
	for _, img := range images {
		if img.Ref() == root || (root.Project == "" && img.Name == root.Name) {
			visited[img.Ref()] = true
		}
	}
	var out []Descendant
	frontier := []ImageRef{root}
	for gen := 1; len(frontier) > 0; gen++ {
		var next []ImageRef
		var found []Descendant
		for _, parent := range frontier {
			cands := children[parent]
			if parent.Project == "" {
				cands = byName[parent.Name]
			}
			for _, i := range slices.Compact(slices.Sorted(slices.Values(cands))) {
				img := images[i]
				if visited[img.Ref()] {
					continue
				}
				for _, ln := range links(img) {
					if ln.parent == parent || (parent.Project == "" && ln.parent.Name == parent.Name) {
						visited[img.Ref()] = true
						found = append(found, Descendant{Image: img.Clone(), Parent: ln.parent, Relation: ln.relation, Generation: gen})
						next = append(next, img.Ref())
						break
					}
				}
			}
		}
		slices.SortFunc(found, func(a, b Descendant) int {
			return cmp.Or(cmp.Compare(a.Image.Project, b.Image.Project), cmp.Compare(a.Image.Name, b.Image.Name))
		})
		out = append(out, found...)
		frontier = next
	}
	return out
}
