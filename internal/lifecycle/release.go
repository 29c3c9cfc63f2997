package lifecycle

import (
	"fmt"
	"maps"
	"slices"
)

// ReleaseInput is what a release has decided before it changes anything:
// the image the build made (as read), the name to release under (the
// built image's, or a copy's when its name breaks the convention), and the
// labels the release writes.
type ReleaseInput struct {
	Project string
	Family  string
	// Built is the image the build made, as read.
	Built Image
	// Target is the name released: Built's, or a copy's (Copy).
	Target string
	Copy   bool
	// Description is the copy's.
	Description string
	// Lineage and User are the labels the release writes (LineageLabels,
	// the user's labels); they are merged over the built image's.
	Lineage map[string]string
	User    map[string]string
	// ProtectLabel: a built image carrying it is not deleted after its copy
	// is released.
	ProtectLabel string
}

// ReleasePlan is a release's changes, in order.
type ReleasePlan struct {
	Project, Family string
	Built           Image
	Target          ImageRef
	Copy            bool
	// Labels are the labels the released image carries once released, as
	// merged over the built image's labels as read (the write merges again
	// over the labels as they are then).
	Labels map[string]string
	// InFamily: the builder already put the image in the family; nothing
	// moves it.
	InFamily bool
	// KeepBuilt says why the built image of a copy is not deleted once the
	// copy is released ("" when it is).
	KeepBuilt string
	// Description is the copy's.
	Description string
}

// Phase names of a release, which the release reports by.
const (
	ReleasePhaseMark     = "mark and label the image"
	ReleasePhaseCopy     = "copy the image under its conventional name"
	ReleasePhaseMove     = "move the family"
	ReleasePhaseFinish   = "take the mark off"
	ReleasePhaseCleanup  = "delete the built image of the copy"
	ReleasePhaseDiscard  = "delete the copy of a failed release"
	releasingIntoWhyText = "marked first, so that an interrupted release leaves an orphan that status shows and rotate cleans up"
)

// PlanRelease plans a release:
//
//  1. Before anything else, the image to release is marked with the family
//     it is released into (LabelReleasingInto): an interrupted release then
//     leaves an orphan that status shows and rotate deletes once older than
//     the orphan grace, instead of an image nothing knows about. The mark
//     goes with the release's labels (one write); for a copy, the built image
//     is marked first and the copy is created with the mark and the labels.
//  2. The family moves to the image (images.patch family): the release.
//  3. The mark comes off the released image, and a copy's built image is
//     deleted (unless it is in a family of its own or protected).
//
// Each step relies on the image it changes staying what it was read as
// (READY, ACTIVE, not revoked, in the family it was in), and each but the
// last is required: the release stops at the first that does not complete.
// An image the builder already put in the family is only labelled.
func PlanRelease(in ReleaseInput) (ReleasePlan, error) {
	p := ReleasePlan{Project: in.Project, Family: in.Family, Built: in.Built.Clone(), Copy: in.Copy, Description: in.Description,
		Target: ImageRef{Project: in.Project, Name: in.Target}, InFamily: in.Built.Family == in.Family && !in.Copy}
	labels, err := MergeLabels(in.Built.Labels, in.Lineage, in.User)
	if err != nil {
		return ReleasePlan{}, fmt.Errorf("labels: %w", err)
	}
	p.Labels = labels
	if in.Copy {
		p.KeepBuilt = keepBuiltReason(in.Built, in.ProtectLabel, "")
	}
	return p, nil
}

// keepBuiltReason says why a built image the release would delete is kept
// ("" when nothing holds it): a family the builder put it in (note says
// more about it), or the protect label.
func keepBuiltReason(built Image, protectLabel, note string) string {
	switch v, protected := (Policy{ProtectLabel: protectLabel}).protects(built); {
	case built.Family != "":
		return fmt.Sprintf("it is in family %s, where the builder put it%s; delete it once nothing resolves to it there", built.Family, note)
	case protected:
		return fmt.Sprintf("it carries the protect label %s=%q", protectLabel, v)
	}
	return ""
}

// Phases is the plan as the applier carries it out (see PlanRelease).
func (p ReleasePlan) Phases() []Phase {
	built := p.Built
	expectBuilt := ExpectImage(built, LabelRevokedReason)
	expectBuilt.Ref = ImageRef{Project: p.Project, Name: built.Name}
	written := map[string]string{}
	for k, v := range p.Labels {
		if built.Labels[k] != v {
			written[k] = v
		}
	}
	if p.InFamily {
		return []Phase{{Name: ReleasePhaseMark, Required: true, Entries: []Entry{{
			Image: built, Action: ActionLabel, Why: WhyDue, From: built.State(), To: built.State(), Labels: written,
			Reason: "label the image the builder already put in the family", Expect: Preconditions{Images: []ImageExpect{expectBuilt}},
		}}}}
	}
	mark := map[string]string{LabelReleasingInto: p.Family}
	var phases []Phase
	target := built
	expectTarget := expectBuilt
	if p.Copy {
		phases = append(phases, Phase{Name: ReleasePhaseMark, Required: true, Entries: []Entry{{
			Image: built, Action: ActionLabel, Why: WhyDue, From: built.State(), To: built.State(), Labels: mark,
			Reason: "mark the built image with the family it is released into: " + releasingIntoWhyText,
			Expect: Preconditions{Images: []ImageExpect{expectBuilt}},
		}}})
		copyLabels := maps.Clone(p.Labels)
		copyLabels[LabelReleasingInto] = p.Family
		phases = append(phases, Phase{Name: ReleasePhaseCopy, Required: true, Entries: []Entry{{
			Image: built, Action: ActionCopy, Why: WhyDue, From: built.State(), To: StateActive,
			Reason: fmt.Sprintf("the name %s breaks the convention: release a copy named %s", built.Name, p.Target.Name),
			Copy: &CopySpec{Project: p.Project, Name: p.Target.Name, Source: expectBuilt.Ref, Description: p.Description,
				Labels: copyLabels, Architecture: built.Architecture},
			Expect: Preconditions{Images: []ImageExpect{expectBuilt}},
		}}})
		target = Image{Name: p.Target.Name, Project: p.Project, Status: StatusReady, Labels: copyLabels}
		// The copy as it is once made (its id not known yet: not compared).
		expectTarget = ImageExpect{Ref: p.Target, Status: StatusReady, Labels: map[string]*string{LabelRevokedReason: nil}}
	} else {
		written[LabelReleasingInto] = p.Family
		phases = append(phases, Phase{Name: ReleasePhaseMark, Required: true, Entries: []Entry{{
			Image: built, Action: ActionLabel, Why: WhyDue, From: built.State(), To: built.State(), Labels: written,
			Reason: "write the release's labels, and mark the image with the family it is released into: " + releasingIntoWhyText,
			Expect: Preconditions{Images: []ImageExpect{expectBuilt}},
		}}})
	}
	phases = append(phases, Phase{Name: ReleasePhaseMove, Required: true, Entries: []Entry{{
		Image: target, Action: ActionMove, MoveTo: p.Family, Why: WhyDue, From: StateActive, To: StateActive,
		Reason: fmt.Sprintf("move family %s to %s", p.Family, p.Target.Name), Expect: Preconditions{Images: []ImageExpect{expectTarget}},
	}}})
	inFamily := expectTarget
	inFamily.Family = p.Family
	finish := Phase{Name: ReleasePhaseFinish, Entries: []Entry{{
		Image: target, Action: ActionLabel, DropLabels: []string{LabelReleasingInto}, Why: WhyDue, From: StateActive, To: StateActive,
		Reason: "released: take the mark off", Expect: Preconditions{Images: []ImageExpect{inFamily}},
	}}}
	if p.Copy && p.KeepBuilt == "" {
		gone := expectBuilt
		gone.Labels = maps.Clone(gone.Labels)
		mk := p.Family
		gone.Labels[LabelReleasingInto] = &mk // the mark this release put on it
		return append(phases, finish, Phase{Name: ReleasePhaseCleanup, Entries: []Entry{{
			Image: built, Action: ActionDelete, Why: WhyDue, From: built.State(), To: built.State(),
			Reason: fmt.Sprintf("released as its copy %s: delete the built image", p.Target.Name), Expect: Preconditions{Images: []ImageExpect{gone}},
		}}})
	}
	return append(phases, finish)
}

// PlanDiscardCopy plans the delete of the copy a failed release made: the
// copy as it was made, so that an image something has since taken up (a
// family, the protect label, new labels, a user when checkInUse) is kept.
func PlanDiscardCopy(copied Image, protectLabel string, checkInUse bool) []Phase {
	keys := append(slices.Sorted(maps.Keys(copied.Labels)), LabelReleasingInto, protectLabel)
	return []Phase{{Name: ReleasePhaseDiscard, Required: true, Entries: []Entry{{
		Image: copied, Action: ActionDelete, Why: WhyDue, From: copied.State(), To: copied.State(),
		Reason: "the copy made for a release that failed before the family held it",
		Expect: Preconditions{Images: []ImageExpect{ExpectImage(copied, keys...)}, Unused: checkInUse},
	}}}}
}
