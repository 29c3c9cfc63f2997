package lifecycle

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// RollbackStep deprecates (or, with block, obsoletes) one ACTIVE image newer
// than the rollback target.
type RollbackStep struct {
	Image  Image
	Action Action // ActionDeprecate, or ActionObsolete with block
	// Deprecation is the complete status to write. Its dates are now for the
	// state entered (earlier dates on the image are kept); later dates are
	// left as they are, and the rotator fills missing ones from the
	// deprecated date.
	Deprecation Deprecation
	UsedBy      []Use
}

// Rerelease is a copy of a target that is no longer ACTIVE, made because
// Compute Engine's deprecation cannot be relied on to be reversible.
type Rerelease struct {
	Source Image
	// Name is the copy's name: empty until RollbackPlan.Named sets it (the
	// caller names it with its convention).
	Name string
	// Labels are the copy's labels: the source's, with imagefamily-rollback-of
	// = the source's name and imagefamily-released-at = now.
	Labels map[string]string
	// Existing is true when an earlier rollback to the same target already
	// made the copy (an ACTIVE, READY image of the family labelled
	// imagefamily-rollback-of = the target): Name and Labels are that
	// copy's, and nothing is to be created. A re-run after a partly failed
	// or interrupted rollback finishes it instead of copying again.
	Existing bool
}

// RollbackPlan moves a family back to an older image without un-deprecating
// anything. Carry it out in this order: create the Rerelease copy (if any)
// in the family, so that it becomes the head as the newest ACTIVE image;
// then write the Steps, newest first. The family never resolves to nothing
// in between.
type RollbackPlan struct {
	Project   string
	Family    string
	Now       time.Time
	Head      string // the head before the rollback; "" when none
	Target    Image
	Block     bool
	Rerelease *Rerelease
	Steps     []RollbackStep
	// Warnings are for people: users of images that the rollback deprecates
	// or obsoletes, and templates that follow the family.
	Warnings []string
	taken    map[string]bool
}

// NewHead is the image the family resolves to after the rollback.
func (p RollbackPlan) NewHead() string {
	if p.Rerelease != nil {
		return p.Rerelease.Name
	}
	return p.Target.Name
}

// PlanRollback plans moving a family back to target (any reference spelling
// or id), or, when target is empty, to the newest ACTIVE image older than the
// head. Every ACTIVE image newer than the target is deprecated (obsoleted
// when block, so that nothing new starts from it) with replacement = the
// target. A DEPRECATED target is re-released: copied under a new name (see
// Rerelease, RollbackPlan.Named), unless an earlier rollback to it made the
// copy already: a re-run then finishes with that copy (Rerelease.Existing),
// and one with nothing left to do is refused as already the head. Refused, with the reason: an OBSOLETE or
// DELETED target, a target outside the family, not READY, revoked, or
// already the head, and a family with nothing older to roll back to.
func PlanRollback(s Snapshot, target string, block bool, now time.Time) (RollbackPlan, error) {
	now = now.UTC()
	plan := RollbackPlan{Project: s.Project, Family: s.Family, Now: now, Block: block, taken: map[string]bool{}}
	for _, img := range s.Images {
		plan.taken[img.Name] = true
	}
	head, hasHead := s.Head()
	if hasHead {
		plan.Head = head.Name
	}
	fam := slices.Clone(s.Images)
	SortNewestFirst(fam)
	fam = slices.DeleteFunc(fam, func(img Image) bool { return !s.inFamily(img) })

	var tgt Image
	if target == "" {
		if !hasHead {
			return RollbackPlan{}, fmt.Errorf("family %s in project %s has no ACTIVE image to roll back from: name the image to roll back to", s.Family, s.Project)
		}
		found := false
		for _, img := range fam {
			if img.Ready() && img.State() == StateActive && newer(head, img) && img.Labels[LabelRevokedReason] == "" {
				tgt, found = img, true
				break
			}
		}
		if !found {
			return RollbackPlan{}, fmt.Errorf("nothing older to roll back to: %s is the only ACTIVE image of family %s; name a DEPRECATED image to re-release it", head.Name, s.Family)
		}
	} else {
		var err error
		if tgt, err = findTarget(s, target, head, hasHead); err != nil {
			return RollbackPlan{}, err
		}
	}
	plan.Target = tgt.Clone()

	replacement := s.refOf(tgt).SelfLink()
	var made Image // the copy an earlier rollback made, when Rerelease.Existing
	if tgt.State() != StateActive {
		c, ok, err := existingCopy(fam, tgt)
		if err != nil {
			return RollbackPlan{}, err
		}
		if ok {
			made = c
			plan.Rerelease = &Rerelease{Source: tgt.Clone(), Name: c.Name, Labels: maps.Clone(c.Labels), Existing: true}
			replacement = s.refOf(c).SelfLink()
		}
	}
	if tgt.State() != StateActive && plan.Rerelease == nil {
		labels := maps.Clone(tgt.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		delete(labels, LabelRotatedAt)
		labels[LabelRollbackOf] = tgt.Name
		labels[LabelReleasedAt] = LabelTimestamp(now)
		if err := ValidateLabels(labels); err != nil {
			return RollbackPlan{}, fmt.Errorf("the copy of %s cannot carry its labels: %w", tgt.Name, err)
		}
		plan.Rerelease = &Rerelease{Source: tgt.Clone(), Labels: labels}
		replacement = "" // the copy's, once named
	}

	for _, img := range fam {
		// A copy is created after now, so it outranks every image created
		// before; one stamped at or after now (clock skew) must go too.
		outranks := newer(img, tgt) || (plan.Rerelease != nil && !plan.Rerelease.Existing && !img.CreatedAt.Before(now))
		if plan.Rerelease != nil && plan.Rerelease.Existing {
			if s.refOf(img) == s.refOf(made) {
				continue
			}
			outranks = outranks || newer(img, made)
		}
		if img.State() != StateActive || !outranks || !(img.Ready() || img.Status == "PENDING") {
			continue
		}
		d := img.Deprecation.clone()
		st := RollbackStep{Image: img.Clone(), Action: ActionDeprecate, UsedBy: s.UsesOf(img), Deprecation: Deprecation{
			State: StateDeprecated, Replacement: replacement,
			Deprecated: earlier(d.Deprecated, now), Obsolete: d.Obsolete, Deleted: d.Deleted,
		}}
		effect := "new instances from it still start, with a deprecation warning"
		if block {
			st.Action, st.Deprecation.State = ActionObsolete, StateObsolete
			st.Deprecation.Obsolete = earlier(d.Obsolete, now)
			effect = "new instances from it will FAIL to start (autoscaling, autohealing)"
		}
		if len(st.UsedBy) > 0 {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s is used by %s: %s", img.Name, usesString(st.UsedBy), effect))
		}
		plan.Steps = append(plan.Steps, st)
	}
	if plan.Rerelease != nil && plan.Rerelease.Existing && len(plan.Steps) == 0 {
		return RollbackPlan{}, fmt.Errorf("target %q is already the head of family %s through its re-released copy %s: nothing to roll back", tgt.Name, s.Family, made.Name)
	}
	if len(s.FamilyUses) > 0 {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s follow family/%s and will use the new head from now on", usesString(s.FamilyUses), s.Family))
	}
	return plan, nil
}

// existingCopy finds the copy of tgt an earlier rollback made: the newest
// ACTIVE, READY image of the family labelled imagefamily-rollback-of = tgt
// and not revoked. A copy still being created (PENDING) is an error: making
// another would duplicate it, and deprecating the newer images before it is
// READY could leave the family resolving to nothing.
func existingCopy(fam []Image, tgt Image) (Image, bool, error) {
	for _, img := range fam { // newest first
		if img.Labels[LabelRollbackOf] != tgt.Name || img.Name == tgt.Name || img.State() != StateActive || img.Labels[LabelRevokedReason] != "" {
			continue
		}
		if img.Status == "PENDING" {
			return Image{}, false, fmt.Errorf("%s, a copy of target %q made by an earlier rollback, is still being created (status PENDING): re-run once it is READY", img.Name, tgt.Name)
		}
		if img.Ready() {
			return img, true, nil
		}
	}
	return Image{}, false, nil
}

func findTarget(s Snapshot, target string, head Image, hasHead bool) (Image, error) {
	ref, err := ParseImageRef(target)
	if err != nil {
		return Image{}, fmt.Errorf("target: %w", err)
	}
	if ref.Family {
		return Image{}, fmt.Errorf("target %q follows a family: name one image", target)
	}
	img, ok := s.Find(target)
	switch {
	case !ok:
		return Image{}, fmt.Errorf("target %q is not an image of project %s", target, s.Project)
	case !s.inFamily(img):
		return Image{}, fmt.Errorf("target %q belongs to family %q, not to %s: roll back within one family", target, img.Family, s.Family)
	case !img.Ready():
		return Image{}, fmt.Errorf("target %q has status %s, not READY", target, img.Status)
	case img.State() == StateObsolete || img.State() == StateDeleted:
		return Image{}, fmt.Errorf("target %q is %s: Compute Engine rejects new uses of it; roll back to an ACTIVE or DEPRECATED image", target, img.State())
	case img.State().Rank() < 0:
		return Image{}, fmt.Errorf("target %q has deprecation state %q, which Compute Engine does not define", target, img.State())
	case img.Labels[LabelRevokedReason] != "":
		return Image{}, fmt.Errorf("target %q was revoked (%s=%s): choose another image", target, LabelRevokedReason, img.Labels[LabelRevokedReason])
	case hasHead && s.refOf(img) == s.refOf(head):
		return Image{}, fmt.Errorf("target %q is already the head of family %s: nothing to roll back", target, s.Family)
	}
	return img, nil
}

// Named sets the name of the re-released copy and points the steps'
// replacement at it.
func (p RollbackPlan) Named(name string) (RollbackPlan, error) {
	if p.Rerelease == nil {
		return p, fmt.Errorf("target %s is ACTIVE: there is no copy to name", p.Target.Name)
	}
	if p.Rerelease.Existing {
		return p, nil // the copy an earlier rollback made keeps its name
	}
	if err := ValidateName(name); err != nil {
		return p, fmt.Errorf("copy of %s: %w", p.Target.Name, err)
	}
	if p.taken[name] {
		return p, fmt.Errorf("copy of %s: an image named %q already exists", p.Target.Name, name)
	}
	r := *p.Rerelease
	r.Name = name
	p.Rerelease = &r
	link := ImageRef{Project: p.copyProject(), Name: name}.SelfLink()
	steps := make([]RollbackStep, len(p.Steps))
	for i, st := range p.Steps {
		st.Deprecation = st.Deprecation.clone()
		st.Deprecation.Replacement = link
		steps[i] = st
	}
	p.Steps = steps
	return p, nil
}

func (p RollbackPlan) copyProject() string {
	if p.Project != "" {
		return p.Project
	}
	return p.Target.Project
}

// Guard refuses a rollback that would deprecate (or obsolete) an image the
// protect label protects, naming each, unless force; with force the plan
// goes ahead and says so in its warnings. An empty label protects nothing.
func (p RollbackPlan) Guard(protectLabel string, force bool) (RollbackPlan, error) {
	if protectLabel == "" {
		return p, nil
	}
	pol := Policy{ProtectLabel: protectLabel}
	var named []string
	for _, st := range p.Steps {
		if v, ok := pol.protects(st.Image); ok {
			named = append(named, fmt.Sprintf("%s (label %s=%q)", st.Image.Name, protectLabel, v))
		}
	}
	if len(named) == 0 {
		return p, nil
	}
	if !force {
		return p, &ProtectedError{Action: p.stepAction(), Images: named}
	}
	p.Warnings = append(slices.Clone(p.Warnings), fmt.Sprintf("--force: deprecating protected image%s %s", pluralS(len(named)), strings.Join(named, ", ")))
	return p, nil
}

// ProtectedError is a change refused because the policy protects what it
// would change, naming each image and what protects it.
type ProtectedError struct {
	Action Action
	Images []string // "web-v9 (label imagefamily-protect=\"true\")"
}

func (e *ProtectedError) Error() string {
	return fmt.Sprintf("it would %s the protected image%s %s", e.Action, pluralS(len(e.Images)), strings.Join(e.Images, ", "))
}

func (p RollbackPlan) stepAction() Action {
	if p.Block {
		return ActionObsolete
	}
	return ActionDeprecate
}

func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Phases is the plan as the applier carries it out: the copy (when one is
// to be made) as a required phase, then the steps, newest first. Every step
// relies on its image as read (its protect label too) and on the image the
// family falls back to (the target, or its copy) staying a READY, ACTIVE,
// unrevoked member of the family: without it, deprecating the newer images
// could leave the family resolving to nothing.
func (p RollbackPlan) Phases(protectLabel string) []Phase {
	var phases []Phase
	fallback := ExpectImage(p.Target, LabelRevokedReason)
	fallback.Ref = p.Target.Ref().WithDefaultProject(p.copyProject())
	if r := p.Rerelease; r != nil {
		copyRef := ImageRef{Project: p.copyProject(), Name: r.Name}
		// The copy as it will be once made: READY, ACTIVE, in the family,
		// unrevoked (its id is not known yet, so not compared).
		fallback = ImageExpect{Ref: copyRef, Family: p.Family, Status: StatusReady, Labels: map[string]*string{LabelRevokedReason: nil}}
		if !r.Existing {
			src := r.Source
			expectSrc := ExpectImage(src, LabelRevokedReason)
			expectSrc.Ref = src.Ref().WithDefaultProject(p.copyProject())
			phases = append(phases, Phase{Name: "re-release " + src.Name + " as " + r.Name, Required: true, Entries: []Entry{{
				Image: src, Action: ActionCopy, Why: WhyDue, From: src.State(), To: StateActive,
				Reason: fmt.Sprintf("%s is %s: copy it into family %s as %s, the new head", src.Name, src.State(), p.Family, r.Name),
				Copy: &CopySpec{Project: p.copyProject(), Name: r.Name, Source: expectSrc.Ref, Family: p.Family,
					Description: fmt.Sprintf("Rollback copy of %s (imagefamily rollback)", src.Name), Labels: maps.Clone(r.Labels),
					Architecture: src.Architecture},
				Expect: Preconditions{Images: []ImageExpect{expectSrc}},
			}}})
		}
	}
	steps := Phase{Name: "retire the images newer than the target"}
	for _, st := range p.Steps {
		own := ExpectImage(st.Image, protectLabel)
		own.Ref = st.Image.Ref().WithDefaultProject(p.copyProject())
		steps.Entries = append(steps.Entries, Entry{
			Image: st.Image, Action: st.Action, Why: WhyDue, From: st.Image.State(), To: st.Deprecation.State,
			Deprecation: st.Deprecation, UsedBy: st.UsedBy,
			Reason: fmt.Sprintf("newer than the rollback target %s: %s, replaced by %s", p.Target.Name, strings.ToLower(string(st.Action)), p.NewHead()),
			Expect: Preconditions{Images: []ImageExpect{own, fallback}},
		})
	}
	return append(phases, steps)
}
