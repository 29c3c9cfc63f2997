package lifecycle

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"
)

// FamilyRef names a family of a project.
type FamilyRef struct {
	Project string
	Family  string
}

func (f FamilyRef) String() string { return f.Project + "/" + f.Family }

// RevokeRequest is one revoke: the image, its descendants or not, and the
// images of every project searched.
type RevokeRequest struct {
	Root Image
	// Descendants: also every image whose lineage labels lead back to Root
	// (builds on it, promoted and rollback copies), in any of the images.
	Descendants bool
	// Images are the images of the projects searched (each with its
	// Project set): where descendants are looked for, and what tells which
	// families a revoke would leave with no ACTIVE image. Without
	// Descendants, the members of Root's family are enough.
	Images []Image
	// Reason is the label value written (imagefamily-revoked-reason).
	Reason string
	Now    time.Time
}

// RevokeTarget is one image a revoke makes OBSOLETE (or, already OBSOLETE or
// DELETED, labels).
type RevokeTarget struct {
	Entry      Entry
	Generation int // 0 for the root
	Relation   Relation
	Parent     ImageRef
}

// RevokePlan is a revoke, decided.
type RevokePlan struct {
	Root    Image
	Reason  string
	Now     time.Time
	Targets []RevokeTarget
	// LeftWithoutHead are the families that resolve to an image now and
	// would resolve to none once the targets are revoked: refused unless
	// forced.
	LeftWithoutHead []FamilyRef
}

// PlanRevoke decides a revoke. Each target goes OBSOLETE now (dates already
// on it kept when earlier, a later obsolete date brought forward) and gets
// the reason label; a target already OBSOLETE or DELETED keeps its status
// and gets the label. Each action relies on its image as read (state, dates,
// the reason label), so that a change made meanwhile stops it rather than
// being written over.
func PlanRevoke(req RevokeRequest) RevokePlan {
	now := req.Now.UTC()
	p := RevokePlan{Root: req.Root.Clone(), Reason: req.Reason, Now: now}
	p.Targets = append(p.Targets, RevokeTarget{Entry: revokeEntry(req.Root, req.Reason, now)})
	seen := map[ImageRef]bool{req.Root.Ref(): true}
	if req.Descendants {
		for _, d := range Descendants(req.Images, req.Root.Ref()) {
			if seen[d.Image.Ref()] {
				continue
			}
			seen[d.Image.Ref()] = true
			p.Targets = append(p.Targets, RevokeTarget{Entry: revokeEntry(d.Image, req.Reason, now),
				Generation: d.Generation, Relation: d.Relation, Parent: d.Parent})
		}
	}
	p.LeftWithoutHead = leftWithoutHead(req.Images, req.Root, p.Targets)
	return p
}

func revokeEntry(img Image, reason string, now time.Time) Entry {
	d := img.Deprecation
	expect := ExpectImage(img, LabelRevokedReason)
	e := Entry{Image: img.Clone(), From: img.State(), Why: WhyDue, Reason: "revoked: " + reason,
		Labels: map[string]string{LabelRevokedReason: reason}, Expect: Preconditions{Images: []ImageExpect{expect}}}
	if img.State().Rank() >= StateObsolete.Rank() {
		e.Action, e.To = ActionLabel, img.State()
		return e
	}
	e.Action, e.To = ActionObsolete, StateObsolete
	e.Deprecation = Deprecation{State: StateObsolete, Replacement: d.Replacement,
		Deprecated: earliest(d.Deprecated, now), Obsolete: earliest(d.Obsolete, now), Deleted: clonePtr(d.Deleted)}
	return e
}

// earliest keeps a date already on the image when it is before t.
func earliest(have *time.Time, t time.Time) *time.Time {
	if have != nil && have.Before(t) {
		return ptr(*have)
	}
	return ptr(t)
}

// leftWithoutHead lists the families of ACTIVE targets that resolve to an
// image now and would resolve to none once the targets are OBSOLETE. The
// root's family is judged on the images given; so is every other family.
func leftWithoutHead(images []Image, root Image, targets []RevokeTarget) []FamilyRef {
	revoked := map[ImageRef]bool{}
	var families []FamilyRef
	for _, t := range targets {
		img := t.Entry.Image
		revoked[img.Ref()] = true
		f := FamilyRef{img.Project, img.Family}
		if img.Family != "" && img.State() == StateActive && !slices.Contains(families, f) {
			families = append(families, f)
		}
	}
	all := slices.Clone(images)
	if !slices.ContainsFunc(all, func(i Image) bool { return i.Ref() == root.Ref() }) {
		all = append(all, root)
	}
	var out []FamilyRef
	for _, f := range families {
		var before, after []Image
		for _, img := range all {
			if img.Project != f.Project || img.Family != f.Family {
				continue
			}
			before = append(before, img)
			if revoked[img.Ref()] {
				img = img.Clone()
				img.Deprecation.State = StateObsolete
			}
			after = append(after, img)
		}
		_, had := Head(before, f.Family)
		_, has := Head(after, f.Family)
		if had && !has {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b FamilyRef) int {
		return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Family, b.Family))
	})
	return out
}

// Families are the families the plan changes, sorted: the leases a revoke
// takes, in this order (two revokes taking them in the same order cannot
// wait on each other forever).
func (p RevokePlan) Families() []FamilyRef {
	set := map[FamilyRef]bool{}
	for _, t := range p.Targets {
		if img := t.Entry.Image; img.Family != "" {
			set[FamilyRef{img.Project, img.Family}] = true
		}
	}
	out := slices.Collect(maps.Keys(set))
	slices.SortFunc(out, func(a, b FamilyRef) int {
		return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Family, b.Family))
	})
	return out
}

// Phases is the plan as the applier carries it out: every target at once.
func (p RevokePlan) Phases() []Phase {
	ph := Phase{Name: fmt.Sprintf("revoke %s", p.Root.Name)}
	for _, t := range p.Targets {
		ph.Entries = append(ph.Entries, t.Entry)
	}
	return []Phase{ph}
}
