package lifecycle

import (
	"strings"
	"testing"
	"time"
)

var planNow = time.Date(2026, 11, 26, 6, 47, 30, 0, time.UTC)

const d = 24 * time.Hour

type imageOption func(*Image)

// img is an ACTIVE READY image of acme's family web, created age ago.
func img(name string, age time.Duration, opts ...imageOption) Image {
	i := Image{Name: name, Project: "acme", Family: "web", CreatedAt: planNow.Add(-age), Status: StatusReady}
	for _, o := range opts {
		o(&i)
	}
	return i
}

// at is planNow+offset.
func at(offset time.Duration) *time.Time { t := planNow.Add(offset); return &t }

func inState(s State, deprecated, obsolete, deleted *time.Time) imageOption {
	return func(i *Image) {
		i.Deprecation = Deprecation{State: s, Replacement: "https://www.googleapis.com/compute/v1/projects/acme/global/images/someone", Deprecated: deprecated, Obsolete: obsolete, Deleted: deleted}
	}
}

func withDates(deprecated, obsolete, deleted *time.Time) imageOption {
	return func(i *Image) {
		i.Deprecation.Deprecated, i.Deprecation.Obsolete, i.Deprecation.Deleted = deprecated, obsolete, deleted
	}
}

func withLabel(k, v string) imageOption {
	return func(i *Image) {
		if i.Labels == nil {
			i.Labels = map[string]string{}
		}
		i.Labels[k] = v
	}
}

func withStatus(s string) imageOption { return func(i *Image) { i.Status = s } }
func withFamily(f string) imageOption { return func(i *Image) { i.Family = f } }
func withID(id uint64) imageOption    { return func(i *Image) { i.ID = id } }

func family(images ...Image) Snapshot {
	return Snapshot{Project: "acme", Family: "web", Images: images}
}

func webLink(name string) string {
	return "https://www.googleapis.com/compute/v1/projects/acme/global/images/" + name
}

func TestPlanRules(t *testing.T) {
	pol := DefaultPolicy()
	tests := []struct {
		name   string
		policy func(*Policy)
		snap   Snapshot
		uses   func(*Snapshot)
		want   map[string]Action
		why    map[string]Why
		check  func(t *testing.T, p RotationPlan)
	}{
		{
			name: "an empty family plans nothing",
			snap: family(),
			want: map[string]Action{},
		},
		{
			name: "the head is never touched, however old",
			snap: family(img("web-v1", 400*d)),
			want: map[string]Action{"web-v1": ActionNone},
			why:  map[string]Why{"web-v1": WhyHead},
		},
		{
			name: "keep_active 2 keeps the head and one more; older ACTIVE images are deprecated",
			snap: family(img("web-v4", 1*d), img("web-v3", 2*d), img("web-v2", 3*d), img("web-v1", 4*d)),
			want: map[string]Action{"web-v4": ActionNone, "web-v3": ActionNone, "web-v2": ActionDeprecate, "web-v1": ActionDeprecate},
			why:  map[string]Why{"web-v4": WhyHead, "web-v3": WhyKeepActive, "web-v2": WhyDue},
			check: func(t *testing.T, p RotationPlan) {
				e, _ := p.Find("web-v2")
				want := Deprecation{State: StateDeprecated, Replacement: webLink("web-v4"), Deprecated: at(0), Obsolete: at(7 * d), Deleted: at(37 * d)}
				if !sameDeprecation(e.Deprecation, want) {
					t.Errorf("web-v2 deprecation = %s, want %s", fmtDep(e.Deprecation), fmtDep(want))
				}
				if e.To != StateDeprecated || e.Labels != nil {
					t.Errorf("web-v2: To = %s, Labels = %v", e.To, e.Labels)
				}
			},
		},
		{
			name:   "keep_active 0 keeps only the head",
			policy: func(p *Policy) { p.KeepActive = 0 },
			snap:   family(img("web-v2", 1*d), img("web-v1", 2*d)),
			want:   map[string]Action{"web-v2": ActionNone, "web-v1": ActionDeprecate},
		},
		{
			name:   "keep_active 1 keeps only the head",
			policy: func(p *Policy) { p.KeepActive = 1 },
			snap:   family(img("web-v2", 1*d), img("web-v1", 2*d)),
			want:   map[string]Action{"web-v2": ActionNone, "web-v1": ActionDeprecate},
		},
		{
			name: "keep_active counts ACTIVE images only: a newer DEPRECATED one takes no slot",
			snap: family(
				img("web-v4", 1*d, inState(StateDeprecated, at(-1*d), at(6*d), at(36*d))),
				img("web-v3", 2*d), img("web-v2", 3*d), img("web-v1", 4*d)),
			want: map[string]Action{"web-v4": ActionNone, "web-v3": ActionNone, "web-v2": ActionNone, "web-v1": ActionDeprecate},
			why:  map[string]Why{"web-v4": WhyWaiting, "web-v3": WhyHead, "web-v2": WhyKeepActive},
		},
		{
			name: "the head is the newest by creation time, not by name",
			snap: family(img("web-a", 1*d), img("web-z", 5*d)),
			want: map[string]Action{"web-a": ActionNone, "web-z": ActionNone},
			why:  map[string]Why{"web-a": WhyHead, "web-z": WhyKeepActive},
		},
		{
			name: "images younger than min_age are not touched",
			snap: family(img("web-v4", 10*time.Minute), img("web-v3", 20*time.Minute), img("web-v2", 30*time.Minute), img("web-v1", 2*time.Hour)),
			want: map[string]Action{"web-v2": ActionNone, "web-v1": ActionDeprecate},
			why:  map[string]Why{"web-v2": WhyMinAge},
		},
		{
			name: "an image created in the future (clock skew) is younger than min_age",
			snap: family(img("web-v3", -time.Hour), img("web-v2", 2*d), img("web-v1", 3*d)),
			want: map[string]Action{"web-v3": ActionNone, "web-v2": ActionNone, "web-v1": ActionDeprecate},
			why:  map[string]Why{"web-v3": WhyHead},
		},
		{
			name: "the protect label keeps an image; the value false does not",
			snap: family(img("web-v4", 1*d), img("web-v3", 2*d),
				img("web-v2", 3*d, withLabel("imagefamily-protect", "true")),
				img("web-v1", 4*d, withLabel("imagefamily-protect", "false")),
				img("web-v0", 5*d, withLabel("imagefamily-protect", ""))),
			want: map[string]Action{"web-v2": ActionNone, "web-v1": ActionDeprecate, "web-v0": ActionNone},
			why:  map[string]Why{"web-v2": WhyProtected, "web-v0": WhyProtected},
		},
		{
			name:   "an empty protect_label turns protection off",
			policy: func(p *Policy) { p.ProtectLabel = "" },
			snap:   family(img("web-v3", 1*d), img("web-v2", 2*d), img("web-v1", 3*d, withLabel("imagefamily-protect", "true"))),
			want:   map[string]Action{"web-v1": ActionDeprecate},
		},
		{
			name: "an image in use by an instance template or instance is not touched, and the reason names them",
			snap: family(img("web-v3", 1*d), img("web-v2", 2*d),
				img("web-v1", 3*d, withID(4242)),
				img("web-v0", 4*d, inState(StateObsolete, at(-60*d), at(-50*d), at(-1*d)))),
			uses: func(s *Snapshot) {
				must(s.AddUse("https://www.googleapis.com/compute/v1/projects/acme/global/images/web-v1", Use{Kind: UseInstanceTemplate, Project: "acme", Name: "web-tpl"}))
				must(s.AddUse("projects/acme/global/images/4242", Use{Kind: UseInstance, Project: "acme", Zone: "us-central1-a", Name: "web-1"}))
				must(s.AddUse("global/images/web-v0", Use{Kind: UseRegionInstanceTemplate, Project: "acme", Region: "us-central1", Name: "old-tpl"}))
			},
			want: map[string]Action{"web-v1": ActionNone, "web-v0": ActionNone},
			why:  map[string]Why{"web-v1": WhyInUse, "web-v0": WhyInUse},
			check: func(t *testing.T, p RotationPlan) {
				e, _ := p.Find("web-v1")
				if !strings.Contains(e.Reason, "instance template acme/web-tpl") || !strings.Contains(e.Reason, "instance acme/us-central1-a/web-1") {
					t.Errorf("web-v1 reason %q should name its users", e.Reason)
				}
				e, _ = p.Find("web-v0")
				if !strings.Contains(e.Reason, "regional instance template acme/us-central1/old-tpl") {
					t.Errorf("web-v0 reason %q should name its user", e.Reason)
				}
			},
		},
		{
			name: "a use in another project does not pin the image of the same name",
			snap: family(img("web-v3", 1*d), img("web-v2", 2*d), img("web-v1", 3*d)),
			uses: func(s *Snapshot) {
				must(s.AddUse("global/images/web-v1", Use{Kind: UseInstanceTemplate, Project: "other", Name: "tpl"}))
			},
			want: map[string]Action{"web-v1": ActionDeprecate},
		},
		{
			name:   "check_in_use false ignores users",
			policy: func(p *Policy) { p.CheckInUse = false },
			snap:   family(img("web-v3", 1*d), img("web-v2", 2*d), img("web-v1", 3*d)),
			uses: func(s *Snapshot) {
				must(s.AddUse("web-v1", Use{Kind: UseInstanceTemplate, Project: "acme", Name: "web-tpl"}))
			},
			want: map[string]Action{"web-v1": ActionDeprecate},
		},
		{
			name: "a template following the family pins the head only",
			snap: family(img("web-v3", 1*d), img("web-v2", 2*d), img("web-v1", 3*d)),
			uses: func(s *Snapshot) {
				must(s.AddUse("projects/acme/global/images/family/web", Use{Kind: UseInstanceTemplate, Project: "acme", Name: "follow-tpl"}))
				must(s.AddUse("projects/acme/global/images/family/other", Use{Kind: UseInstanceTemplate, Project: "acme", Name: "other-tpl"}))
			},
			want: map[string]Action{"web-v3": ActionNone, "web-v1": ActionDeprecate},
			check: func(t *testing.T, p RotationPlan) {
				e, _ := p.Find("web-v3")
				if len(e.UsedBy) != 1 || e.UsedBy[0].Name != "follow-tpl" {
					t.Errorf("head UsedBy = %v, want the template following the family", e.UsedBy)
				}
			},
		},
		{
			name: "deprecation keeps earlier dates already on the image and never moves one later",
			snap: family(img("web-v3", 1*d), img("web-v2", 2*d),
				img("web-v1", 3*d, withDates(at(1*d), at(2*d), at(90*d)))),
			want: map[string]Action{"web-v1": ActionDeprecate},
			check: func(t *testing.T, p RotationPlan) {
				e, _ := p.Find("web-v1")
				want := Deprecation{State: StateDeprecated, Replacement: webLink("web-v3"), Deprecated: at(0), Obsolete: at(2 * d), Deleted: at(37 * d)}
				if !sameDeprecation(e.Deprecation, want) {
					t.Errorf("deprecation = %s, want %s", fmtDep(e.Deprecation), fmtDep(want))
				}
			},
		},
		{
			name: "an ACTIVE image whose obsolete date has passed is only deprecated, and stamped so that a rerun waits",
			snap: family(img("web-v3", 1*d), img("web-v2", 2*d),
				img("web-v1", 30*d, withDates(at(-20*d), at(-10*d), at(-5*d)))),
			want: map[string]Action{"web-v1": ActionDeprecate},
			check: func(t *testing.T, p RotationPlan) {
				e, _ := p.Find("web-v1")
				want := Deprecation{State: StateDeprecated, Replacement: webLink("web-v3"), Deprecated: at(-20 * d), Obsolete: at(-10 * d), Deleted: at(-5 * d)}
				if !sameDeprecation(e.Deprecation, want) {
					t.Errorf("deprecation = %s, want %s", fmtDep(e.Deprecation), fmtDep(want))
				}
				if e.Labels[LabelRotatedAt] != "20261126t064730z" {
					t.Errorf("Labels = %v, want %s stamped", e.Labels, LabelRotatedAt)
				}
			},
		},
		{
			name: "a DEPRECATED image whose obsolete date has come becomes OBSOLETE",
			snap: family(img("web-v2", 1*d), img("web-v1", 20*d, inState(StateDeprecated, at(-8*d), at(0), at(30*d)))),
			want: map[string]Action{"web-v1": ActionObsolete},
			check: func(t *testing.T, p RotationPlan) {
				e, _ := p.Find("web-v1")
				want := Deprecation{State: StateObsolete, Replacement: webLink("someone"), Deprecated: at(-8 * d), Obsolete: at(0), Deleted: at(30 * d)}
				if !sameDeprecation(e.Deprecation, want) || e.To != StateObsolete {
					t.Errorf("deprecation = %s, want %s", fmtDep(e.Deprecation), fmtDep(want))
				}
			},
		},
		{
			name: "a DEPRECATED image waits for its obsolete date",
			snap: family(img("web-v2", 1*d), img("web-v1", 20*d, inState(StateDeprecated, at(-1*d), at(time.Second), at(30*d)))),
			want: map[string]Action{"web-v1": ActionNone},
			why:  map[string]Why{"web-v1": WhyWaiting},
			check: func(t *testing.T, p RotationPlan) {
				e, _ := p.Find("web-v1")
				if e.Next == nil || !e.Next.Equal(*at(time.Second)) || !strings.Contains(e.Reason, "obsolete due 2026-11-26T06:47:31Z") {
					t.Errorf("Next = %v, Reason = %q", e.Next, e.Reason)
				}
			},
		},
		{
			name: "an OBSOLETE image whose deleted date has come is marked DELETED",
			snap: family(img("web-v2", 1*d), img("web-v1", 60*d, inState(StateObsolete, at(-40*d), at(-30*d), at(-time.Second)))),
			want: map[string]Action{"web-v1": ActionMarkDeleted},
		},
		{
			name: "a DELETED image is purged once purge_after has passed, not before",
			snap: family(img("web-v3", 1*d),
				img("web-v2", 60*d, inState(StateDeleted, at(-50*d), at(-40*d), at(-7*d))),
				img("web-v1", 60*d, inState(StateDeleted, at(-50*d), at(-40*d), at(-6*d)))),
			want: map[string]Action{"web-v2": ActionPurge, "web-v1": ActionNone},
			why:  map[string]Why{"web-v1": WhyWaiting},
		},
		{
			name: "a DEPRECATED image without dates gets them from now (schedule)",
			snap: family(img("web-v2", 1*d), img("web-v1", 20*d, inState(StateDeprecated, nil, nil, nil))),
			want: map[string]Action{"web-v1": ActionSchedule},
			check: func(t *testing.T, p RotationPlan) {
				e, _ := p.Find("web-v1")
				want := Deprecation{State: StateDeprecated, Replacement: webLink("someone"), Deprecated: at(0), Obsolete: at(7 * d), Deleted: at(37 * d)}
				if !sameDeprecation(e.Deprecation, want) || e.To != StateDeprecated {
					t.Errorf("deprecation = %s, want %s", fmtDep(e.Deprecation), fmtDep(want))
				}
			},
		},
		{
			name: "a DEPRECATED image missing its obsolete date gets it from its deprecated date, and moves when that has passed",
			snap: family(img("web-v2", 1*d), img("web-v1", 20*d, inState(StateDeprecated, at(-10*d), nil, nil))),
			want: map[string]Action{"web-v1": ActionObsolete},
			check: func(t *testing.T, p RotationPlan) {
				e, _ := p.Find("web-v1")
				want := Deprecation{State: StateObsolete, Replacement: webLink("someone"), Deprecated: at(-10 * d), Obsolete: at(-3 * d), Deleted: at(27 * d)}
				if !sameDeprecation(e.Deprecation, want) {
					t.Errorf("deprecation = %s, want %s", fmtDep(e.Deprecation), fmtDep(want))
				}
			},
		},
		{
			name: "an OBSOLETE image without dates counts as obsolete since now at the latest",
			snap: family(img("web-v2", 1*d), img("web-v1", 20*d, inState(StateObsolete, nil, nil, nil))),
			want: map[string]Action{"web-v1": ActionSchedule},
			check: func(t *testing.T, p RotationPlan) {
				e, _ := p.Find("web-v1")
				want := Deprecation{State: StateObsolete, Replacement: webLink("someone"), Deprecated: at(0), Obsolete: at(0), Deleted: at(37 * d)}
				if !sameDeprecation(e.Deprecation, want) {
					t.Errorf("deprecation = %s, want %s", fmtDep(e.Deprecation), fmtDep(want))
				}
			},
		},
		{
			name: "a DELETED image without dates waits purge_after from now",
			snap: family(img("web-v2", 1*d), img("web-v1", 20*d, inState(StateDeleted, nil, nil, nil))),
			want: map[string]Action{"web-v1": ActionSchedule},
			check: func(t *testing.T, p RotationPlan) {
				e, _ := p.Find("web-v1")
				if e.Next == nil || !e.Next.Equal(*at(7 * d)) {
					t.Errorf("Next = %v, want purge due in 7d", e.Next)
				}
			},
		},
		{
			name: "an image stamped by a run at this second is left alone",
			snap: family(img("web-v2", 1*d), img("web-v1", 20*d,
				inState(StateDeprecated, at(-20*d), at(-10*d), at(-5*d)),
				withLabel(LabelRotatedAt, "20261126t064730z"))),
			want: map[string]Action{"web-v1": ActionNone},
			why:  map[string]Why{"web-v1": WhyMovedThisRun},
		},
		{
			name: "a stamp from an earlier second does not hold the image",
			snap: family(img("web-v2", 1*d), img("web-v1", 20*d,
				inState(StateDeprecated, at(-20*d), at(-10*d), at(-5*d)),
				withLabel(LabelRotatedAt, "20261126t064729z"))),
			want: map[string]Action{"web-v1": ActionObsolete},
		},
		{
			name: "images that are not READY, not in the family, or in an unknown state are left alone",
			snap: family(img("web-v4", 1*d), img("web-v3", 2*d),
				img("web-v2", 3*d, withStatus("PENDING")),
				img("web-v1", 4*d, withFamily("other")),
				img("web-v0", 5*d, inState("BOGUS", nil, nil, nil))),
			want: map[string]Action{"web-v2": ActionNone, "web-v1": ActionNone, "web-v0": ActionNone},
			why:  map[string]Why{"web-v2": WhyNotReady, "web-v1": WhyNotInFamily, "web-v0": WhyUnknownState},
		},
		{
			name: "a family with no ACTIVE image keeps moving its deprecated images",
			snap: family(img("web-v1", 20*d, inState(StateDeprecated, at(-8*d), at(-1*d), at(30*d)))),
			want: map[string]Action{"web-v1": ActionObsolete},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pol
			if tt.policy != nil {
				tt.policy(&p)
			}
			s := tt.snap
			if tt.uses != nil {
				tt.uses(&s)
			}
			plan := Plan(s, p, planNow)
			if len(plan.Entries) != len(s.Images) {
				t.Fatalf("%d entries for %d images", len(plan.Entries), len(s.Images))
			}
			for name, want := range tt.want {
				e, ok := plan.Find(name)
				if !ok {
					t.Fatalf("no entry for %s", name)
				}
				if e.Action != want {
					t.Errorf("%s: action %s (%s: %s), want %s", name, e.Action, e.Why, e.Reason, want)
				}
				if e.Reason == "" {
					t.Errorf("%s: no reason", name)
				}
			}
			for name, want := range tt.why {
				if e, _ := plan.Find(name); e.Why != want {
					t.Errorf("%s: why %s (%s), want %s", name, e.Why, e.Reason, want)
				}
			}
			if tt.check != nil {
				tt.check(t, plan)
			}
			if err := checkPlanInvariants(s, p, planNow, plan); err != nil {
				t.Errorf("invariant: %v", err)
			}
		})
	}
}

func TestPlanEntriesAreNewestFirstAndNameTheHead(t *testing.T) {
	s := family(img("web-v1", 3*d), img("web-v3", 1*d), img("web-v2", 2*d))
	plan := Plan(s, DefaultPolicy(), planNow)
	var names []string
	for _, e := range plan.Entries {
		names = append(names, e.Image.Name)
	}
	if strings.Join(names, ",") != "web-v3,web-v2,web-v1" || plan.Head != "web-v3" {
		t.Fatalf("entries %v, head %q", names, plan.Head)
	}
	if len(plan.Actions()) != 1 || plan.Actions()[0].Image.Name != "web-v1" {
		t.Fatalf("Actions = %v", plan.Actions())
	}
}

func TestApplyThenPlanAgainDoesNothing(t *testing.T) {
	s := family(img("web-v5", 1*d), img("web-v4", 2*d),
		img("web-v3", 30*d, withDates(at(-20*d), at(-10*d), at(-5*d))),
		img("web-v2", 40*d, inState(StateDeprecated, at(-30*d), at(-20*d), at(-10*d))),
		img("web-v1", 50*d, inState(StateDeleted, at(-40*d), at(-30*d), at(-20*d))))
	pol := DefaultPolicy()
	first := Plan(s, pol, planNow)
	if len(first.Actions()) != 3 {
		t.Fatalf("first run: %d actions, want 3", len(first.Actions()))
	}
	after := Apply(s, first)
	if len(after.Images) != 4 {
		t.Fatalf("after apply: %d images, want 4 (web-v1 purged)", len(after.Images))
	}
	if acts := Plan(after, pol, planNow).Actions(); len(acts) != 0 {
		t.Fatalf("second run at the same time: %v", acts)
	}
	// A later run takes the next step of the overdue images, one each.
	next := Plan(after, pol, planNow.Add(time.Second))
	got := map[string]Action{}
	for _, e := range next.Actions() {
		got[e.Image.Name] = e.Action
	}
	if got["web-v3"] != ActionObsolete || got["web-v2"] != ActionMarkDeleted || len(got) != 2 {
		t.Fatalf("next run: %v", got)
	}
}

func TestPlanDoesNotChangeItsInput(t *testing.T) {
	s := family(img("web-v3", 1*d), img("web-v2", 2*d), img("web-v1", 3*d, withLabel("x", "y"), withDates(at(-1*d), at(-1*d), nil)))
	before := s.Clone()
	plan := Plan(s, DefaultPolicy(), planNow)
	_ = Apply(s, plan)
	if !snapshotsEqual(before, s) {
		t.Fatalf("Plan or Apply changed the snapshot")
	}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
