package lifecycle

import (
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// genFamily makes a random family of 0..60 images: random states, dates
// (absent, past or future), statuses, protect labels, rotation stamps, uses
// in every spelling, and a random valid policy and now.
func genFamily(r *rand.Rand) (Snapshot, Policy, time.Time) {
	now := planNow.Add(time.Duration(r.Int63n(int64(365 * d)))).Add(time.Duration(r.Intn(1000)) * time.Millisecond)
	if r.Intn(4) == 0 {
		now = now.Truncate(time.Second)
	}
	around := func(span time.Duration) time.Time {
		off := time.Duration(r.Int63n(int64(2*span))) - span
		if r.Intn(3) == 0 {
			off = off.Truncate(time.Hour) // ties and exact hits
		}
		return now.Add(off)
	}
	date := func() *time.Time {
		switch r.Intn(4) {
		case 0:
			return nil
		case 1:
			t := now // exactly now
			return &t
		default:
			t := around(60 * d)
			return &t
		}
	}
	s := Snapshot{Project: "acme", Family: "web"}
	n := r.Intn(61)
	for i := range n {
		img := Image{
			Name: fmt.Sprintf("web-v%02d", i), ID: uint64(1000 + i), Project: "acme", Family: "web",
			CreatedAt: now.Add(-time.Duration(r.Int63n(int64(120 * d)))), Status: StatusReady,
		}
		switch r.Intn(12) {
		case 0:
			img.CreatedAt = now.Add(time.Duration(r.Int63n(int64(2 * time.Hour)))) // clock skew
		case 1:
			img.CreatedAt = now.Add(-time.Duration(r.Int63n(int64(2 * time.Hour)))) // young
		case 2:
			if i > 0 {
				img.CreatedAt = s.Images[r.Intn(i)].CreatedAt // tie
			}
		}
		switch r.Intn(20) {
		case 0:
			img.Status = "PENDING"
		case 1:
			img.Status = "FAILED"
		case 2:
			img.Family = "other"
		case 3:
			img.Status = ""
		}
		states := []State{"", StateActive, StateActive, StateActive, StateDeprecated, StateDeprecated, StateObsolete, StateDeleted, "BOGUS"}
		img.Deprecation = Deprecation{State: states[r.Intn(len(states))], Deprecated: date(), Obsolete: date(), Deleted: date()}
		if img.Deprecation.State != "" && img.Deprecation.State != StateActive && r.Intn(2) == 0 {
			img.Deprecation.Replacement = webLink("web-v00")
		}
		if r.Intn(5) == 0 {
			img.Labels = map[string]string{"team": "web"}
		}
		if r.Intn(8) == 0 {
			img = withLabelValue(img, DefaultProtectLabel, []string{"true", "false", "", "yes"}[r.Intn(4)])
		}
		if r.Intn(8) == 0 {
			stamp := []string{LabelTimestamp(now), LabelTimestamp(now.Add(-time.Second)), LabelTimestamp(now.Add(time.Hour)), "garbage"}[r.Intn(4)]
			img = withLabelValue(img, LabelRotatedAt, stamp)
		}
		s.Images = append(s.Images, img)
	}
	// Shuffle: the planner must not depend on the order it is given.
	r.Shuffle(len(s.Images), func(i, j int) { s.Images[i], s.Images[j] = s.Images[j], s.Images[i] })
	for i := range r.Intn(8) {
		if n == 0 {
			break
		}
		target := s.Images[r.Intn(n)]
		spellings := []string{
			webLink(target.Name), "global/images/" + target.Name, target.Name,
			fmt.Sprintf("projects/acme/global/images/%d", target.ID),
			"http://127.0.0.1:8080/compute/v1/projects/acme/global/images/" + target.Name,
			"projects/acme/global/images/family/web", "projects/other/global/images/" + target.Name,
		}
		kinds := []UseKind{UseInstanceTemplate, UseRegionInstanceTemplate, UseInstance, UseDisk}
		must(s.AddUse(spellings[r.Intn(len(spellings))], Use{Kind: kinds[r.Intn(len(kinds))], Project: "acme", Name: fmt.Sprintf("user-%d", i), Zone: "us-central1-a"}))
	}
	pol := Policy{
		KeepActive:    r.Intn(5),
		MinAge:        time.Duration(r.Int63n(int64(3 * time.Hour))),
		ObsoleteAfter: time.Duration(r.Int63n(int64(10 * d))),
		DeleteAfter:   time.Duration(r.Int63n(int64(30 * d))),
		PurgeAfter:    time.Duration(r.Int63n(int64(10 * d))),
		ProtectLabel:  []string{DefaultProtectLabel, DefaultProtectLabel, ""}[r.Intn(3)],
		CheckInUse:    r.Intn(4) != 0,
	}
	if r.Intn(10) == 0 {
		pol.ObsoleteAfter, pol.DeleteAfter, pol.PurgeAfter = 0, 0, 0
	}
	return s, pol, now
}

func withLabelValue(img Image, k, v string) Image {
	if img.Labels == nil {
		img.Labels = map[string]string{}
	}
	img.Labels[k] = v
	return img
}

// checkPlanInvariants checks what every plan must satisfy, whatever the
// snapshot (see TestPlanProperties).
func checkPlanInvariants(s Snapshot, pol Policy, now time.Time, plan RotationPlan) error {
	if len(plan.Entries) != len(s.Images) {
		return fmt.Errorf("%d entries for %d images", len(plan.Entries), len(s.Images))
	}
	seen := map[string]bool{}
	for _, e := range plan.Entries {
		if seen[e.Image.Name] {
			return fmt.Errorf("%s has two entries", e.Image.Name)
		}
		seen[e.Image.Name] = true
	}
	head, hasHead := s.Head()
	kept := map[string]bool{}
	if hasHead {
		kept[head.Name] = true
		active := []Image{}
		for _, img := range s.Images {
			if s.inFamily(img) && img.Ready() && img.State() == StateActive {
				active = append(active, img)
			}
		}
		SortNewestFirst(active)
		if active[0].Name != head.Name {
			return fmt.Errorf("the newest ACTIVE READY image %s is not the head %s", active[0].Name, head.Name)
		}
		for i := 0; i < len(active) && i < pol.KeepActive; i++ {
			kept[active[i].Name] = true
		}
	}
	if plan.Head != head.Name {
		return fmt.Errorf("plan head %q, want %q", plan.Head, head.Name)
	}
	for _, e := range plan.Entries {
		img, name := e.Image, e.Image.Name
		if e.Reason == "" || e.Why == "" {
			return fmt.Errorf("%s: no reason", name)
		}
		if e.From != img.State() {
			return fmt.Errorf("%s: From %s, image is %s", name, e.From, img.State())
		}
		if e.Action == ActionNone {
			if e.To != e.From {
				return fmt.Errorf("%s: no action but To %s", name, e.To)
			}
			continue
		}
		if e.Why != WhyDue {
			return fmt.Errorf("%s: action %s with why %s", name, e.Action, e.Why)
		}
		if kept[name] {
			return fmt.Errorf("%s is the head or among the keep_active newest ACTIVE images but gets %s", name, e.Action)
		}
		if v, ok := img.Labels[pol.ProtectLabel]; pol.ProtectLabel != "" && ok && v != "false" {
			return fmt.Errorf("%s is protected but gets %s", name, e.Action)
		}
		if pol.CheckInUse && len(s.UsesOf(img)) > 0 {
			return fmt.Errorf("%s is in use by %v but gets %s", name, s.UsesOf(img), e.Action)
		}
		if now.Sub(img.CreatedAt) < pol.MinAge {
			return fmt.Errorf("%s is younger than min_age but gets %s", name, e.Action)
		}
		if !s.inFamily(img) || !img.Ready() {
			return fmt.Errorf("%s is not a READY image of the family but gets %s", name, e.Action)
		}
		from := map[Action]State{ActionDeprecate: StateActive, ActionObsolete: StateDeprecated, ActionMarkDeleted: StateObsolete, ActionPurge: StateDeleted}
		if want, ok := from[e.Action]; ok && e.From != want {
			return fmt.Errorf("%s: %s from %s", name, e.Action, e.From)
		}
		if e.Action == ActionSchedule && (e.From == StateActive || e.To != e.From) {
			return fmt.Errorf("%s: schedule from %s to %s", name, e.From, e.To)
		}
		if step := e.To.Rank() - e.From.Rank(); step < 0 || step > 1 {
			return fmt.Errorf("%s: %s moves %s to %s", name, e.Action, e.From, e.To)
		}
		if e.Action == ActionPurge {
			del := img.Deprecation.Deleted
			if del != nil && del.Add(pol.PurgeAfter).After(now) {
				return fmt.Errorf("%s purged before deleted %v + purge_after %v", name, del, pol.PurgeAfter)
			}
			continue
		}
		if e.Deprecation.State != e.To {
			return fmt.Errorf("%s: writes state %s, To %s", name, e.Deprecation.State, e.To)
		}
		if e.Action == ActionDeprecate && e.Deprecation.Replacement != s.refOf(head).SelfLink() {
			return fmt.Errorf("%s: replacement %q, want the head", name, e.Deprecation.Replacement)
		}
		old, nw := img.Deprecation, e.Deprecation
		for _, pair := range []struct {
			what     string
			old, new *time.Time
		}{{"deprecated", old.Deprecated, nw.Deprecated}, {"obsolete", old.Obsolete, nw.Obsolete}, {"deleted", old.Deleted, nw.Deleted}} {
			if pair.new == nil {
				return fmt.Errorf("%s: %s writes no %s date", name, e.Action, pair.what)
			}
			if pair.old != nil && pair.new.After(*pair.old) {
				return fmt.Errorf("%s: %s date moved later, %v → %v", name, pair.what, pair.old, pair.new)
			}
		}
	}

	after := Apply(s, plan)
	for _, img := range after.Images {
		orig, _ := s.Find(img.Name)
		if step := img.State().Rank() - orig.State().Rank(); orig.State().Rank() >= 0 && (step < 0 || step > 1) {
			return fmt.Errorf("%s went from %s to %s in one run", img.Name, orig.State(), img.State())
		}
	}
	if hasHead {
		h2, ok := after.Head()
		if !ok || h2.Name != head.Name {
			return fmt.Errorf("after applying, the family resolves to %q, was %q", h2.Name, head.Name)
		}
	}
	again := Plan(after, pol, now)
	if acts := again.Actions(); len(acts) > 0 {
		e := acts[0]
		return fmt.Errorf("planning again at the same time: %s %s (%s)", e.Image.Name, e.Action, e.Reason)
	}
	if !reflect.DeepEqual(Plan(s, pol, now), plan) {
		return errors.New("planning twice gave different plans")
	}
	return nil
}

// TestPlanProperties checks the planner's invariants on 3,000 generated
// families (fixed seeds).
func TestPlanProperties(t *testing.T) {
	actions := map[Action]int{}
	for seed := int64(1); seed <= 3000; seed++ {
		s, pol, now := genFamily(rand.New(rand.NewSource(seed)))
		before := s.Clone()
		plan := Plan(s, pol, now)
		if err := checkPlanInvariants(s, pol, now, plan); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if !snapshotsEqual(before, s) {
			t.Fatalf("seed %d: Plan changed its input", seed)
		}
		for _, e := range plan.Entries {
			actions[e.Action]++
		}
	}
	// The generator must exercise every action, or the properties prove little.
	for _, a := range []Action{ActionNone, ActionDeprecate, ActionObsolete, ActionMarkDeleted, ActionPurge, ActionSchedule} {
		if actions[a] < 50 {
			t.Errorf("only %d %s entries generated", actions[a], a)
		}
	}
	t.Logf("entries by action: %v", actions)
}

// TestRepeatedRunsWalkTheLifeCycle runs the rotator every few hours over
// generated families: each image walks forward one step per run at most,
// no date ever moves later, and the head stays put.
func TestRepeatedRunsWalkTheLifeCycle(t *testing.T) {
	for seed := int64(1); seed <= 300; seed++ {
		r := rand.New(rand.NewSource(seed))
		s, pol, now := genFamily(r)
		head, hasHead := s.Head()
		for run := range 25 {
			plan := Plan(s, pol, now)
			if err := checkPlanInvariants(s, pol, now, plan); err != nil {
				t.Fatalf("seed %d run %d: %v", seed, run, err)
			}
			s = Apply(s, plan)
			if h, ok := s.Head(); ok != hasHead || h.Name != head.Name {
				t.Fatalf("seed %d run %d: head moved from %s to %s", seed, run, head.Name, h.Name)
			}
			now = now.Add(time.Duration(r.Int63n(int64(3 * d))))
		}
	}
}

// FuzzPlan: seed → generated family → the planner's invariants.
func FuzzPlan(f *testing.F) {
	for _, seed := range []int64{0, 1, 42, 2026, -7} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed int64) {
		s, pol, now := genFamily(rand.New(rand.NewSource(seed)))
		if err := checkPlanInvariants(s, pol, now, Plan(s, pol, now)); err != nil {
			t.Fatal(err)
		}
	})
}

func sameDeprecation(a, b Deprecation) bool {
	return a.State == b.State && a.Replacement == b.Replacement &&
		sameTime(a.Deprecated, b.Deprecated) && sameTime(a.Obsolete, b.Obsolete) && sameTime(a.Deleted, b.Deleted)
}

func fmtDep(dp Deprecation) string {
	f := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return textfmt.Time(*t)
	}
	return fmt.Sprintf("{%s %s dep=%s obs=%s del=%s}", dp.State, dp.Replacement, f(dp.Deprecated), f(dp.Obsolete), f(dp.Deleted))
}

func snapshotsEqual(a, b Snapshot) bool { return reflect.DeepEqual(a, b) }
