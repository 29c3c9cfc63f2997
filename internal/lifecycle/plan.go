package lifecycle

import (
	"fmt"
	"strings"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// Action is what a plan does to one image.
type Action string

const (
	ActionNone Action = "none"
	// ActionDeprecate: ACTIVE → DEPRECATED, replacement = the head.
	ActionDeprecate Action = "deprecate"
	// ActionObsolete: DEPRECATED → OBSOLETE (rollback --block: ACTIVE →
	// OBSOLETE).
	ActionObsolete Action = "obsolete"
	// ActionMarkDeleted: OBSOLETE → DELETED (the state only; the image stays).
	ActionMarkDeleted Action = "mark-deleted"
	// ActionPurge: images.delete of a DELETED image.
	ActionPurge Action = "purge"
	// ActionSchedule writes the dates missing on a DEPRECATED, OBSOLETE or
	// DELETED image (its state set by someone else without dates) and leaves
	// the state alone.
	ActionSchedule Action = "schedule"
	// ActionDelete: images.delete of an image in any state: the orphan of an
	// interrupted release, the built image once its copy is released, the
	// destination of a forced promotion.
	ActionDelete Action = "delete"
	// ActionLabel writes labels and nothing else (Entry.Labels,
	// Entry.DropLabels).
	ActionLabel Action = "label"
	// ActionCopy creates an image from another (Entry.Copy).
	ActionCopy Action = "copy"
	// ActionMove puts an image into a family (Entry.MoveTo).
	ActionMove Action = "move"
)

// Destructive reports whether the action takes something away for good or
// refuses new uses: OBSOLETE, DELETED and deleting. Before one, the applier
// wants an in-use scan no older than its bound.
func (a Action) Destructive() bool {
	switch a {
	case ActionObsolete, ActionMarkDeleted, ActionPurge, ActionDelete:
		return true
	}
	return false
}

// Why classifies an entry's reason, for programs; Reason says it for people.
type Why string

const (
	WhyHead         Why = "head"
	WhyKeepActive   Why = "keep_active"
	WhyMinAge       Why = "min_age"
	WhyProtected    Why = "protected"
	WhyInUse        Why = "in_use"
	WhyNotReady     Why = "not_ready"
	WhyNotInFamily  Why = "not_in_family"
	WhyUnknownState Why = "unknown_state"
	// WhyMovedThisRun: imagefamily-rotated-at says a run at this second (or
	// later) already moved the image.
	WhyMovedThisRun Why = "moved_this_run"
	// WhyWaiting: the image's next date has not come yet.
	WhyWaiting Why = "waiting"
	// WhyDue: the entry has an action.
	WhyDue Why = "due"
	// WhyOrphan: the image carries imagefamily-releasing-into but is in no
	// family: a release into the family was interrupted before it moved the
	// family (or after, before it took the mark off).
	WhyOrphan Why = "orphan"
)

// Entry is the plan for one image.
type Entry struct {
	Image  Image // as read
	Action Action
	Why    Why
	Reason string
	From   State
	To     State // the state after the action (From for none, schedule and purge)
	// Deprecation is the complete status to write with images.deprecate for
	// deprecate, obsolete, mark-deleted and schedule.
	Deprecation Deprecation
	// Labels, when not nil, are labels to set (over the labels as they are
	// when written, which are otherwise kept). With a deprecation they are
	// written BEFORE it: the rotator adds imagefamily-rotated-at when the
	// image's next step is already due, so that a second run at the same
	// second leaves the image alone; if the deprecation then fails, the next
	// run merely waits a second longer.
	Labels map[string]string
	// DropLabels are label keys to remove, written with Labels.
	DropLabels []string
	// Copy is the image ActionCopy creates; Image is then its source.
	Copy *CopySpec
	// MoveTo is the family ActionMove puts the image in.
	MoveTo string
	// Expect is what the action relies on (see Preconditions): the applier
	// sends it only while they hold.
	Expect Preconditions
	// UsedBy lists the image's users (for the head, also the templates that
	// follow the family).
	UsedBy []Use
	// Next is when the next step falls due, for an image that is waiting.
	Next *time.Time
}

// RotationPlan is one rotation run over one family: an entry per image,
// newest first.
type RotationPlan struct {
	Project string
	Family  string
	Now     time.Time
	Policy  Policy
	Head    string // the head's name; "" when the family resolves to nothing
	Entries []Entry
}

// Actions lists the entries that change something.
func (p RotationPlan) Actions() []Entry {
	var out []Entry
	for _, e := range p.Entries {
		if e.Action != ActionNone {
			out = append(out, e)
		}
	}
	return out
}

// Find returns the entry of the named image.
func (p RotationPlan) Find(name string) (Entry, bool) {
	for _, e := range p.Entries {
		if e.Image.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Plan decides one rotation run (README, "Rotation"). Every image gets an
// entry, untouched ones with the reason, checked in this order: not in the
// family, not READY, unknown state, the head, the KeepActive newest ACTIVE
// images (the head counting as the first), younger than MinAge, the protect
// label, in use (when CheckInUse). The others move at most one step:
//
//   - ACTIVE → deprecate, replacement = the head, with dates deprecated =
//     now, obsolete = now+ObsoleteAfter, deleted = now+ObsoleteAfter+
//     DeleteAfter, except that a date already on the image (an earlier run,
//     the official builder's deprecate_at/obsolete_at/delete_at) is kept
//     when it is earlier: dates are never moved later.
//   - DEPRECATED whose obsolete date has come → obsolete.
//   - OBSOLETE whose deleted date has come → mark-deleted.
//   - DELETED whose deleted date + PurgeAfter has come → purge.
//
// The head is what getFromFamily answered when the snapshot was read
// (Snapshot.HeadRead), never recomputed. A step keeps the image's
// replacement unless the snapshot found it gone: then the head replaces it
// (Compute Engine refuses a replacement that does not exist).
//
// A DEPRECATED, OBSOLETE or DELETED image missing dates (someone else set
// its state) gets them filled relative to its deprecated date when known,
// else to now: deprecated = now; obsolete = base+ObsoleteAfter; deleted =
// base+ObsoleteAfter+DeleteAfter; a date of a state the image has already
// reached is at most now (it got there by now at the latest). The filled
// dates go with the step when one is due, else the entry is a schedule.
//
// One step per image per run holds even when several dates have passed: the
// step then also stamps imagefamily-rotated-at (Entry.Labels), and an image
// whose stamp is not older than now's second is left alone.
//
// Orphans of interrupted releases (Snapshot.Orphans) come last: deleted once
// older than the orphan grace, unless protected, in use or not READY.
//
// Every action carries its preconditions (Entry.Expect): the image as read
// (id, family, status, deprecation status, the protect label and
// imagefamily-rotated-at), the head for a deprecation (its replacement and
// the keep_active count depend on it), and, when CheckInUse, that nothing
// uses the image.
//
// Plan assumes policy.Validate passed; it clamps what Validate rejects.
func Plan(s Snapshot, policy Policy, now time.Time) RotationPlan {
	pol := policy.normal()
	now = now.UTC()
	plan := RotationPlan{Project: s.Project, Family: s.Family, Now: now, Policy: policy}
	images := s.Clone().Images
	SortNewestFirst(images)
	head, hasHead := s.Head()
	keep := map[ImageRef]int{}
	n := 0
	if hasHead {
		plan.Head = head.Name
		keep[s.refOf(head)] = 1
		n = 1
	}
	for _, img := range images {
		if s.inFamily(img) && img.Ready() && img.State() == StateActive && (!hasHead || s.refOf(img) != s.refOf(head)) {
			n++
			if n <= pol.KeepActive {
				keep[s.refOf(img)] = n
			}
		}
	}
	for _, img := range images {
		plan.Entries = append(plan.Entries, planImage(s, pol, now, img, head, hasHead, keep))
	}
	orphans := s.Clone().Orphans
	SortNewestFirst(orphans)
	for _, img := range orphans {
		plan.Entries = append(plan.Entries, planOrphan(s, pol, now, img))
	}
	return plan
}

func planImage(s Snapshot, pol Policy, now time.Time, img Image, head Image, hasHead bool, keep map[ImageRef]int) Entry {
	st := img.State()
	e := Entry{Image: img, Action: ActionNone, From: st, To: st, UsedBy: s.UsesOf(img)}
	ref := s.refOf(img)
	hold := func(why Why, format string, args ...any) Entry {
		e.Why, e.Reason = why, fmt.Sprintf(format, args...)
		return e
	}
	protectValue, protected := pol.protects(img)
	switch {
	case !s.inFamily(img):
		return hold(WhyNotInFamily, "not in family %s of project %s", s.Family, s.Project)
	case !img.Ready():
		return hold(WhyNotReady, "status %s: only READY images rotate", img.Status)
	case st.Rank() < 0:
		return hold(WhyUnknownState, "deprecation state %q is not one Compute Engine defines", st)
	case hasHead && ref == s.refOf(head):
		e.UsedBy = append(e.UsedBy, s.FamilyUses...)
		return hold(WhyHead, "family head: family/%s resolves to it", s.Family)
	case keep[ref] > 0:
		return hold(WhyKeepActive, "ACTIVE image %d of the %d newest kept ACTIVE (keep_active = %d, the head counting as the first)", keep[ref], pol.KeepActive, pol.KeepActive)
	case now.Sub(img.CreatedAt) < pol.MinAge:
		return hold(WhyMinAge, "created %s, younger than min_age %s", textfmt.Time(img.CreatedAt), FormatDuration(pol.MinAge))
	case protected:
		return hold(WhyProtected, "protected by label %s=%q", pol.ProtectLabel, protectValue)
	case pol.CheckInUse && len(e.UsedBy) > 0:
		return hold(WhyInUse, "in use by %s", usesString(e.UsedBy))
	}

	e = step(e, s, pol, now, head, hasHead)
	if e.Action == ActionNone {
		return e
	}
	if at, ok := rotatedAt(img); ok && !at.Before(now.Truncate(time.Second)) {
		return Entry{Image: img, Action: ActionNone, From: st, To: st, UsedBy: e.UsedBy, Why: WhyMovedThisRun,
			Reason: fmt.Sprintf("moved by a run at %s (%s): one step per run; due: %s", textfmt.Time(at), LabelRotatedAt, e.Action)}
	}
	if e.Action != ActionPurge && e.Action != ActionSchedule {
		if next, _, ok := nextStep(e.To, e.Deprecation, pol); ok && !next.After(now) {
			e.Labels = map[string]string{LabelRotatedAt: LabelTimestamp(now)}
		}
	}
	e.Expect = Preconditions{Images: []ImageExpect{s.expect(img, pol.ProtectLabel, LabelRotatedAt)}, Unused: pol.CheckInUse}
	if e.Action == ActionDeprecate {
		e.Expect.Head = &HeadExpect{Project: s.Project, Family: s.Family, Name: head.Name}
	}
	return e
}

// planOrphan decides an orphan of an interrupted release.
func planOrphan(s Snapshot, pol Policy, now time.Time, img Image) Entry {
	st := img.State()
	e := Entry{Image: img, Action: ActionNone, From: st, To: st, UsedBy: s.UsesOf(img)}
	hold := func(why Why, format string, args ...any) Entry {
		e.Why, e.Reason = why, fmt.Sprintf(format, args...)
		return e
	}
	what := fmt.Sprintf("orphan of an interrupted release into family %s (in no family, labelled %s=%s), created %s", s.Family, LabelReleasingInto, s.Family, textfmt.Time(img.CreatedAt))
	grace := pol.orphanGrace()
	protectValue, protected := pol.protects(img)
	switch {
	case !img.Ready():
		return hold(WhyNotReady, "%s; status %s: only a READY orphan is deleted", what, img.Status)
	case protected:
		return hold(WhyProtected, "%s; protected by label %s=%q", what, pol.ProtectLabel, protectValue)
	case pol.CheckInUse && len(e.UsedBy) > 0:
		return hold(WhyInUse, "%s; in use by %s", what, usesString(e.UsedBy))
	case now.Sub(img.CreatedAt) < grace:
		due := img.CreatedAt.Add(grace)
		e.Next = &due
		return hold(WhyOrphan, "%s; deleted once older than the orphan grace %s", what, FormatDuration(grace))
	}
	e.Action, e.Why = ActionDelete, WhyDue
	e.Reason = fmt.Sprintf("%s, older than the orphan grace %s: delete", what, FormatDuration(grace))
	e.Expect = Preconditions{Images: []ImageExpect{s.expect(img, pol.ProtectLabel, LabelReleasingInto)}, Unused: pol.CheckInUse}
	return e
}

// expect is img as read, with the snapshot's project filled in.
func (s Snapshot) expect(img Image, labelKeys ...string) ImageExpect {
	x := ExpectImage(img, labelKeys...)
	x.Ref = s.refOf(img)
	return x
}

// step decides the move of an image no rule keeps.
func step(e Entry, s Snapshot, pol Policy, now time.Time, head Image, hasHead bool) Entry {
	d := e.Image.Deprecation.clone()
	if d.Replacement != "" && s.IsGone(d.Replacement) {
		// Compute Engine refuses a status naming an image that does not
		// exist: every later step would fail on it.
		d.Replacement = ""
		if hasHead {
			d.Replacement = s.refOf(head).SelfLink()
		}
	}
	if e.From == StateActive {
		replacement := s.refOf(head).SelfLink()
		e.Action, e.Why, e.To = ActionDeprecate, WhyDue, StateDeprecated
		e.Deprecation = Deprecation{
			State:       StateDeprecated,
			Replacement: replacement,
			Deprecated:  earlier(d.Deprecated, now),
			Obsolete:    earlier(d.Obsolete, now.Add(pol.ObsoleteAfter)),
			Deleted:     earlier(d.Deleted, now.Add(pol.ObsoleteAfter).Add(pol.DeleteAfter)),
		}
		e.Reason = fmt.Sprintf("not among the %d newest ACTIVE images (keep_active, the head included) and older than min_age %s: deprecate, replaced by %s; obsolete %s, deleted %s",
			pol.KeepActive, FormatDuration(pol.MinAge), head.Name, textfmt.Time(*e.Deprecation.Obsolete), textfmt.Time(*e.Deprecation.Deleted))
		return e
	}
	f, filled := fillDates(d, e.From, pol, now)
	next, action, _ := nextStep(e.From, f, pol)
	if !next.After(now) {
		e.Action, e.Why, e.Deprecation = action, WhyDue, f
		switch action {
		case ActionObsolete:
			e.To, e.Deprecation.State = StateObsolete, StateObsolete
			e.Reason = fmt.Sprintf("DEPRECATED and its obsolete date %s has come: obsolete", textfmt.Time(next))
		case ActionMarkDeleted:
			e.To, e.Deprecation.State = StateDeleted, StateDeleted
			e.Reason = fmt.Sprintf("OBSOLETE and its deleted date %s has come: mark DELETED", textfmt.Time(next))
		case ActionPurge:
			e.Deprecation = Deprecation{}
			e.Reason = fmt.Sprintf("DELETED on %s, purge_after %s has passed: delete the image", textfmt.Time(*f.Deleted), FormatDuration(pol.PurgeAfter))
		}
		return e
	}
	e.Next = &next
	if filled {
		e.Action, e.Why, e.Deprecation = ActionSchedule, WhyDue, f
		e.Reason = fmt.Sprintf("%s without all its dates: write them; %s due %s", e.From, action, textfmt.Time(next))
		return e
	}
	e.Why = WhyWaiting
	e.Reason = fmt.Sprintf("%s; %s due %s", e.From, action, textfmt.Time(next))
	return e
}

// nextStep is when the image's next step falls due, and what it is. ok is
// false for an ACTIVE image (its move depends on the family, not on dates)
// and for missing dates.
func nextStep(st State, d Deprecation, pol Policy) (time.Time, Action, bool) {
	switch {
	case st == StateDeprecated && d.Obsolete != nil:
		return *d.Obsolete, ActionObsolete, true
	case st == StateObsolete && d.Deleted != nil:
		return *d.Deleted, ActionMarkDeleted, true
	case st == StateDeleted && d.Deleted != nil:
		return d.Deleted.Add(pol.PurgeAfter), ActionPurge, true
	}
	return time.Time{}, ActionNone, false
}

// fillDates fills the dates missing on a non-ACTIVE image (see Plan).
func fillDates(d Deprecation, st State, pol Policy, now time.Time) (Deprecation, bool) {
	filled := false
	base := now
	if d.Deprecated != nil {
		base = *d.Deprecated
	} else {
		d.Deprecated, filled = ptr(now), true
	}
	if d.Obsolete == nil {
		t := base.Add(pol.ObsoleteAfter)
		if st.Rank() >= StateObsolete.Rank() && t.After(now) {
			t = now
		}
		d.Obsolete, filled = &t, true
	}
	if d.Deleted == nil {
		t := base.Add(pol.ObsoleteAfter).Add(pol.DeleteAfter)
		if st == StateDeleted && t.After(now) {
			t = now
		}
		d.Deleted, filled = &t, true
	}
	return d, filled
}

// earlier keeps a date already on the image unless t is earlier.
func earlier(have *time.Time, t time.Time) *time.Time {
	if have != nil && !have.After(t) {
		return ptr(*have)
	}
	return ptr(t)
}

func rotatedAt(img Image) (time.Time, bool) {
	v, ok := img.Labels[LabelRotatedAt]
	if !ok {
		return time.Time{}, false
	}
	t, err := ParseLabelTimestamp(v)
	return t, err == nil
}

func ptr(t time.Time) *time.Time { return &t }

func usesString(uses []Use) string {
	const show = 3
	var names []string
	for i, u := range uses {
		if i == show {
			names = append(names, fmt.Sprintf("and %d more", len(uses)-show))
			break
		}
		names = append(names, u.String())
	}
	return strings.Join(names, ", ")
}
