package lifecycle

import (
	"testing"
	"time"
)

func TestNextSteps(t *testing.T) {
	pol := DefaultPolicy() // keep 2, min_age 1h, obsolete 7d, delete 30d, purge 7d
	s := family(
		img("web-v9", 10*time.Minute),                              // head, young
		img("web-v8", 20*time.Minute),                              // keep_active
		img("web-v7", 30*time.Minute),                              // min_age (not kept: third ACTIVE)
		img("web-v6", 3*d),                                         // due: deprecate
		img("web-v5", 4*d, withLabel(DefaultProtectLabel, "true")), // protected
		img("web-v4", 5*d, inState(StateDeprecated, at(-2*d), at(5*d), at(35*d))),
		img("web-v3", 6*d, inState(StateObsolete, at(-20*d), at(-13*d), at(-d))), // due: mark-deleted
		img("web-v2", 50*d, inState(StateDeleted, at(-45*d), at(-38*d), at(-3*d))),
		img("web-v1", 60*d, inState(StateObsolete, at(-50*d), at(-43*d), at(-8*d)), withLabel(LabelRotatedAt, LabelTimestamp(planNow))),
	)
	plan := Plan(s, pol, planNow)
	got := NextSteps(plan)
	want := []struct {
		action    Action
		due       *time.Time
		condition string
	}{
		{ActionDeprecate, nil, "when 2 newer images are released (keep_active = 2)"},
		{ActionDeprecate, nil, "when 1 newer image is released (keep_active = 2)"},
		{ActionDeprecate, at(30 * time.Minute), "once older than min_age 1h0m0s"},
		{ActionDeprecate, at(0), "due now"},
		{ActionNone, nil, "none while protected by label imagefamily-protect"},
		{ActionObsolete, at(5 * d), "at its date"},
		{ActionMarkDeleted, at(0), "due now"},
		{ActionPurge, at(4 * d), "at its date"},
		{ActionMarkDeleted, at(time.Second), "one step per run: at the next run after its date"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d steps, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Image != plan.Entries[i].Image.Name {
			t.Errorf("step %d is for %s, want plan order (%s)", i, g.Image, plan.Entries[i].Image.Name)
		}
		if g.Action != w.action || g.Condition != w.condition || (g.Due == nil) != (w.due == nil) || g.Due != nil && !g.Due.Equal(*w.due) {
			t.Errorf("%s: got %s due %v %q, want %s due %v %q", g.Image, g.Action, g.Due, g.Condition, w.action, w.due, w.condition)
		}
	}
}

func TestNextStepsInUseAndOutsideFamily(t *testing.T) {
	s := family(img("web-v3", 3*d), img("web-v2", 4*d), img("web-v1", 5*d), img("other-v1", 6*d, withFamily("other")))
	if err := s.AddUse("web-v1", Use{Kind: UseInstance, Project: "acme", Name: "vm-1", Zone: "z"}); err != nil {
		t.Fatal(err)
	}
	steps := NextSteps(Plan(s, DefaultPolicy(), planNow))
	byName := map[string]NextStep{}
	for _, st := range steps {
		byName[st.Image] = st
	}
	if st := byName["web-v1"]; st.Action != ActionNone || st.Condition != "none while in use" || st.Due != nil {
		t.Errorf("in use: %+v", st)
	}
	if st := byName["other-v1"]; st.Action != ActionNone || st.Condition != "none: not_in_family" {
		t.Errorf("outside the family: %+v", st)
	}
}

func TestNextStepsDueNowMatchesPlanActions(t *testing.T) {
	s := family(img("web-v4", d), img("web-v3", 2*d), img("web-v2", 3*d), img("web-v1", 4*d))
	plan := Plan(s, DefaultPolicy(), planNow)
	for i, st := range NextSteps(plan) {
		e := plan.Entries[i]
		if (e.Action != ActionNone) != (st.Condition == "due now") || e.Action != ActionNone && st.Action != e.Action {
			t.Errorf("%s: plan %s, next step %+v", e.Image.Name, e.Action, st)
		}
	}
}
