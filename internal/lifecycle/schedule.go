package lifecycle

import (
	"fmt"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// NextStep is what happens to an image next under a rotation plan's policy,
// and when: what `imagefamily status` shows.
type NextStep struct {
	Image string
	// Action is the next step; ActionNone when nothing is scheduled (not in
	// the family, not READY, unknown state, protected, in use).
	Action Action
	// Due is when the step falls due: the plan's time for a step due now,
	// a date for one that waits on a date, nil for one that waits on an
	// event (newer releases, a label removed, users gone).
	Due *time.Time
	// Condition says it for people: "due now", "when 2 newer images are
	// released", "none while protected by label imagefamily-protect".
	Condition string
}

// NextSteps lists the next step of every image of a rotation plan, in plan
// order (newest first). It reads only the plan: for each image it says what
// the rotator would do, and when, if nothing else changes in the family.
//
//   - An entry with an action: that action, due at the plan's time.
//   - The head and the other keep_active images: deprecate, once enough newer
//     ACTIVE images push it out of the keep_active newest (no date: it
//     depends on releases).
//   - An image younger than min_age: the step its state leads to, due when
//     it reaches min_age (or at its date, whichever is later).
//   - A waiting image: the step its dates schedule.
//   - An image moved by a run this second: its next step, no earlier than
//     the next second.
//   - Protected or in use: nothing, for as long as that lasts.
func NextSteps(plan RotationPlan) []NextStep {
	pol := plan.Policy.normal()
	now := plan.Now.UTC()
	out := make([]NextStep, 0, len(plan.Entries))
	active := 0 // ACTIVE READY family images seen so far (newest first)
	for _, e := range plan.Entries {
		ns := NextStep{Image: e.Image.Name, Action: ActionNone}
		inKeep := e.Why != WhyNotInFamily && e.Why != WhyOrphan && e.Image.Ready() && e.From == StateActive && e.Image.Family == plan.Family
		if inKeep {
			active++
		}
		switch {
		case e.Action != ActionNone:
			ns.Action, ns.Due, ns.Condition = e.Action, ptr(now), "due now"
		case e.Why == WhyHead || e.Why == WhyKeepActive:
			newer := pol.KeepActive - active + 1
			ns.Action = ActionDeprecate
			ns.Condition = fmt.Sprintf("when %d newer %s released (keep_active = %d)", newer, textfmt.Plural(newer, "image is", "images are"), pol.KeepActive)
		case e.Why == WhyMinAge:
			ready := e.Image.CreatedAt.Add(pol.MinAge).UTC()
			action, due := ActionDeprecate, ready
			if e.From != StateActive {
				f, _ := fillDates(e.Image.Deprecation.clone(), e.From, pol, now)
				if t, a, ok := nextStep(e.From, f, pol); ok {
					action = a
					if t.After(due) {
						due = t
					}
				}
			}
			ns.Action, ns.Due = action, &due
			ns.Condition = fmt.Sprintf("once older than min_age %s", FormatDuration(pol.MinAge))
		case e.Why == WhyOrphan && e.Next != nil:
			ns.Action, ns.Due, ns.Condition = ActionDelete, ptr(e.Next.UTC()), "once older than the orphan grace"
		case e.Why == WhyWaiting && e.Next != nil:
			if t, a, ok := nextStep(e.From, e.Image.Deprecation, pol); ok && t.Equal(*e.Next) {
				ns.Action = a
			}
			ns.Due, ns.Condition = ptr(e.Next.UTC()), "at its date"
		case e.Why == WhyMovedThisRun:
			f, _ := fillDates(e.Image.Deprecation.clone(), e.From, pol, now)
			if t, a, ok := nextStep(e.From, f, pol); ok {
				due := t.UTC()
				if at, ok := rotatedAt(e.Image); ok && !due.After(at) {
					due = at.Truncate(time.Second).Add(time.Second)
				}
				ns.Action, ns.Due = a, &due
				ns.Condition = "one step per run: at the next run after its date"
			}
		case e.Why == WhyProtected:
			ns.Condition = fmt.Sprintf("none while protected by label %s", plan.Policy.ProtectLabel)
		case e.Why == WhyInUse:
			ns.Condition = "none while in use"
		default:
			ns.Condition = "none: " + string(e.Why)
		}
		out = append(out, ns)
	}
	return out
}
