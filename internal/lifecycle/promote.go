package lifecycle

import (
	"errors"
	"fmt"
	"time"
)

// ProtectedBy says what protects img from being taken away under the
// policy, read in s (its family, or a snapshot of no family holding it, with
// what uses its images): the protect label, a user, being the family's head
// or one of its keep_active newest ACTIVE images. ok is false when nothing
// does. It is the rotation's rules (Plan) without min_age: a young image is
// not protected from its own replacement.
func ProtectedBy(s Snapshot, pol Policy, img Image, now time.Time) (string, bool) {
	if v, ok := pol.protects(img); ok {
		return fmt.Sprintf("the protect label %s=%q", pol.ProtectLabel, v), true
	}
	uses := s.UsesOf(img)
	if head, ok := s.Head(); ok && s.Family != "" && s.refOf(head) == s.refOf(img) {
		uses = append(uses, s.FamilyUses...)
		why := fmt.Sprintf("it is the head of family %s (getFromFamily resolves to it)", s.Family)
		if len(uses) > 0 {
			why += ", used by " + usesString(uses)
		}
		return why, true
	}
	if pol.CheckInUse && len(uses) > 0 {
		return "it is in use by " + usesString(uses), true
	}
	if s.Family == "" || img.Family != s.Family {
		return "", false
	}
	p := pol
	p.MinAge = 0
	if e, ok := Plan(s, p, now).Find(img.Name); ok && e.Why == WhyKeepActive {
		return fmt.Sprintf("it is one of the %d newest ACTIVE images of family %s kept for rollback (keep_active)", pol.normal().KeepActive, s.Family), true
	}
	return "", false
}

// PromoteInput is one promotion, as read.
type PromoteInput struct {
	// Source is the image promoted, as read.
	Source Image
	// Copy is the image to create.
	Copy CopySpec
	// Existing is the image already holding the destination's name, as
	// read; nil when there is none.
	Existing *Image
	// ExistingIn is where Existing lives: its family as read (head from
	// getFromFamily, uses), or a snapshot of no family holding only it.
	ExistingIn Snapshot
	// Force is packer build -force: replace an existing destination image,
	// unless the policy protects it.
	Force  bool
	Policy Policy
	Now    time.Time
}

// ErrDestinationExists is a promotion whose destination name is taken,
// without -force.
var ErrDestinationExists = errors.New("the destination image already exists")

// PlanPromote plans a promotion: with no image under the destination name,
// the copy; with one and Force, its delete (relying on it staying what it was
// read as: same image, unprotected, unused) and then the copy. An existing
// image the policy protects (see ProtectedBy) is never deleted, -force or
// not: the plan is refused with a ProtectedError naming it and what protects
// it. No copy is made once the delete did not complete.
func PlanPromote(in PromoteInput) ([]Phase, error) {
	copyStep := Phase{Name: "create the promoted copy", Entries: []Entry{{
		Image: in.Source, Action: ActionCopy, Why: WhyDue, From: in.Source.State(), To: StateActive, Copy: &in.Copy,
		Reason: fmt.Sprintf("promote %s to %s", in.Source.Ref(), in.Copy.Ref()),
		Expect: Preconditions{Images: []ImageExpect{ExpectImage(in.Source, LabelRevokedReason)}},
	}}}
	if in.Existing == nil {
		return []Phase{copyStep}, nil
	}
	old := *in.Existing
	if !in.Force {
		return nil, fmt.Errorf("%w: image %s is in project %s", ErrDestinationExists, old.Name, in.Copy.Project)
	}
	if why, ok := ProtectedBy(in.ExistingIn, in.Policy, old, in.Now); ok {
		return nil, &ProtectedError{Action: ActionDelete, Images: []string{fmt.Sprintf("%s (%s)", old.Ref().WithDefaultProject(in.Copy.Project), why)}}
	}
	x := ExpectImage(old, in.Policy.ProtectLabel)
	x.Ref = old.Ref().WithDefaultProject(in.Copy.Project)
	del := Phase{Name: "delete the image the promotion replaces (-force)", Required: true, Entries: []Entry{{
		Image: old, Action: ActionDelete, Why: WhyDue, From: old.State(), To: old.State(),
		Reason: fmt.Sprintf("-force: replace %s", old.Name), Expect: Preconditions{Images: []ImageExpect{x}, Unused: in.Policy.CheckInUse},
	}}}
	return []Phase{del, copyStep}, nil
}
