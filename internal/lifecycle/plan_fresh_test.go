package lifecycle

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The rules that keep a rotation plan right while others act: the head is
// Compute Engine's, a gone replacement is replaced, orphans are found, and
// every action says what it relies on.

func headRead(s Snapshot, name string) Snapshot {
	s.HeadRead, s.HeadName = true, name
	return s
}

func TestPlanTakesTheHeadFromGetFromFamilyWhenCreationTimesTie(t *testing.T) {
	tied := func() Snapshot { return family(img("web-a", 3*d, withID(900)), img("web-b", 3*d, withID(100))) }
	pol := DefaultPolicy()
	pol.KeepActive, pol.MinAge = 1, 0
	tests := []struct {
		name       string
		snap       Snapshot
		head       string
		deprecated string
	}{
		{"computed (no getFromFamily read): the larger id", tied(), "web-a", "web-b"},
		{"getFromFamily answered web-b", headRead(tied(), "web-b"), "web-b", "web-a"},
		{"getFromFamily answered web-a", headRead(tied(), "web-a"), "web-a", "web-b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Plan(tt.snap, pol, planNow)
			if p.Head != tt.head {
				t.Fatalf("head = %s, want %s", p.Head, tt.head)
			}
			e, _ := p.Find(tt.deprecated)
			if e.Action != ActionDeprecate || e.Deprecation.Replacement != webLink(tt.head) {
				t.Fatalf("%s: %s replaced by %s, want deprecate replaced by %s", tt.deprecated, e.Action, e.Deprecation.Replacement, tt.head)
			}
			if h, _ := p.Find(tt.head); h.Why != WhyHead {
				t.Fatalf("%s: why %s, want head", tt.head, h.Why)
			}
		})
	}
}

func TestPlanWithAHeadTheListingDidNotShowStillKeepsItAndCountsItFirst(t *testing.T) {
	// getFromFamily named an image released between the two reads.
	s := headRead(family(img("web-v2", 2*d), img("web-v1", 3*d)), "web-v3")
	p := Plan(s, DefaultPolicy(), planNow)
	if p.Head != "web-v3" {
		t.Fatalf("head = %s", p.Head)
	}
	if e, _ := p.Find("web-v2"); e.Why != WhyKeepActive {
		t.Fatalf("web-v2: %s (%s), want kept as the second ACTIVE image", e.Why, e.Reason)
	}
	if e, _ := p.Find("web-v1"); e.Action != ActionDeprecate || e.Deprecation.Replacement != webLink("web-v3") {
		t.Fatalf("web-v1: %s replaced by %s", e.Action, e.Deprecation.Replacement)
	}
}

func TestPlanReplacesAReplacementThatIsGoneWithTheHead(t *testing.T) {
	gone := webLink("web-v2")
	dep := func(i *Image) {
		i.Deprecation = Deprecation{State: StateDeprecated, Replacement: gone, Deprecated: at(-30 * d), Obsolete: at(-d), Deleted: at(30 * d)}
	}
	tests := []struct {
		name string
		snap Snapshot
		want string
	}{
		{"gone: the head replaces it", family(img("web-v4", d), img("web-v1", 30*d, dep)), webLink("web-v4")},
		{"not known to be gone: kept", family(img("web-v4", d), img("web-v1", 30*d, dep)), gone},
		{"gone and no head: none", family(img("web-v1", 30*d, dep)), ""},
	}
	tests[0].snap.Gone = map[ImageRef]bool{{Project: "acme", Name: "web-v2"}: true}
	tests[2].snap.Gone = map[ImageRef]bool{{Project: "acme", Name: "web-v2"}: true}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := Plan(tt.snap, DefaultPolicy(), planNow).Find("web-v1")
			if e.Action != ActionObsolete || e.Deprecation.Replacement != tt.want {
				t.Fatalf("web-v1: %s replaced by %q, want obsolete replaced by %q", e.Action, e.Deprecation.Replacement, tt.want)
			}
		})
	}
}

func TestPlanDeletesOrphansOnceOlderThanTheGraceUnlessProtectedOrUsed(t *testing.T) {
	orphan := func(name string, age time.Duration, opts ...imageOption) Image {
		return img(name, age, append([]imageOption{withFamily(""), withLabel(LabelReleasingInto, "web")}, opts...)...)
	}
	pol := DefaultPolicy() // min_age 1h: the default grace
	tests := []struct {
		name  string
		img   Image
		grace time.Duration
		uses  bool
		want  Action
		why   Why
	}{
		{"older than min_age: deleted", orphan("web-o1", 2*time.Hour), 0, false, ActionDelete, WhyDue},
		{"younger than min_age: kept, due later", orphan("web-o1", 30*time.Minute), 0, false, ActionNone, WhyOrphan},
		{"an orphan grace of its own", orphan("web-o1", 2*time.Hour), 3 * time.Hour, false, ActionNone, WhyOrphan},
		{"protected", orphan("web-o1", 2*d, withLabel(DefaultProtectLabel, "true")), 0, false, ActionNone, WhyProtected},
		{"in use", orphan("web-o1", 2*d), 0, true, ActionNone, WhyInUse},
		{"still being created", orphan("web-o1", 2*d, withStatus("PENDING")), 0, false, ActionNone, WhyNotReady},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := family(img("web-v1", 5*d))
			s.Orphans = []Image{tt.img}
			if tt.uses {
				if err := s.AddUse("web-o1", Use{Kind: UseInstanceTemplate, Project: "acme", Name: "tpl"}); err != nil {
					t.Fatal(err)
				}
			}
			p := pol
			p.OrphanGrace = tt.grace
			e, ok := Plan(s, p, planNow).Find("web-o1")
			if !ok || e.Action != tt.want || e.Why != tt.why {
				t.Fatalf("web-o1: %s %s (%s), want %s %s", e.Action, e.Why, e.Reason, tt.want, tt.why)
			}
			if e.Action == ActionDelete {
				x := e.Expect.Images[0]
				if x.Family != "" || x.Labels[LabelReleasingInto] == nil || *x.Labels[LabelReleasingInto] != "web" || !e.Expect.Unused {
					t.Fatalf("an orphan's delete must rely on it staying an unused orphan: %+v", e.Expect)
				}
			}
		})
	}
}

func TestPlanActionsCarryWhatTheyRelyOn(t *testing.T) {
	s := headRead(family(
		img("web-v3", d),
		img("web-v2", 2*d),
		img("web-v1", 3*d, withID(7), withLabel(DefaultProtectLabel, "false")),
		img("web-v0", 40*d, inState(StateDeleted, at(-40*d), at(-39*d), at(-30*d))),
	), "web-v3")
	p := Plan(s, DefaultPolicy(), planNow)
	dep, _ := p.Find("web-v1")
	if dep.Action != ActionDeprecate {
		t.Fatalf("web-v1: %s", dep.Action)
	}
	if dep.Expect.Head == nil || *dep.Expect.Head != (HeadExpect{Project: "acme", Family: "web", Name: "web-v3"}) {
		t.Fatalf("a deprecation relies on the head: %+v", dep.Expect.Head)
	}
	x := dep.Expect.Images[0]
	if x.Ref != (ImageRef{Project: "acme", Name: "web-v1"}) || x.ID != 7 || x.Family != "web" || !dep.Expect.Unused {
		t.Fatalf("web-v1 expectation: %+v", x)
	}
	if v := x.Labels[DefaultProtectLabel]; v == nil || *v != "false" {
		t.Fatalf("the protect label as read: %v", x.Labels)
	}
	if _, ok := x.Labels[LabelRotatedAt]; !ok {
		t.Fatalf("imagefamily-rotated-at must be relied on (absent): %v", x.Labels)
	}
	purge, _ := p.Find("web-v0")
	if purge.Action != ActionPurge || purge.Expect.Head != nil || purge.Expect.Images[0].Deprecation.State != StateDeleted {
		t.Fatalf("web-v0: %s %+v", purge.Action, purge.Expect)
	}
	if !purge.Action.Destructive() || dep.Action.Destructive() {
		t.Fatal("purge is destructive, deprecate is not")
	}
	for _, e := range p.Entries {
		if e.Action == ActionNone && len(e.Expect.Images) > 0 {
			t.Fatalf("%s: an untouched image carries preconditions", e.Image.Name)
		}
	}
}

func TestImageExpectCheckSaysWhatChanged(t *testing.T) {
	read := img("web-v1", 3*d, withID(7), inState(StateDeprecated, at(-2*d), at(5*d), at(35*d)))
	x := ExpectImage(read, DefaultProtectLabel)
	tests := []struct {
		name   string
		change func(*Image)
		found  bool
		want   string // "" for no change
	}{
		{"unchanged", func(*Image) {}, true, ""},
		{"another label changed", func(i *Image) { i.Labels = map[string]string{"team": "x"} }, true, ""},
		{"the replacement respelled", func(i *Image) { i.Deprecation.Replacement = "projects/acme/global/images/someone" }, true, ""},
		{"gone", func(*Image) {}, false, "no longer in family web"},
		{"made again", func(i *Image) { i.ID = 8 }, true, "another image now"},
		{"moved out of the family", func(i *Image) { i.Family = "" }, true, "in family (none) now"},
		{"revoked", func(i *Image) { i.Deprecation.State = StateObsolete }, true, "OBSOLETE now"},
		{"another replacement", func(i *Image) { i.Deprecation.Replacement = webLink("web-v9") }, true, "replacement"},
		{"a date moved", func(i *Image) { i.Deprecation.Obsolete = at(d) }, true, "obsolete date"},
		{"protected meanwhile", func(i *Image) { i.Labels = map[string]string{DefaultProtectLabel: "true"} }, true, "now has label imagefamily-protect"},
		{"not READY any more", func(i *Image) { i.Status = "DELETING" }, true, "DELETING now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := read.Clone()
			tt.change(&now)
			err := x.Check(now, tt.found)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var ce *ChangedError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "changed since planned (") {
				t.Fatalf("Check = %v, want a ChangedError saying %q", err, tt.want)
			}
		})
	}
}

func TestHeadExpectCheck(t *testing.T) {
	h := HeadExpect{Project: "acme", Family: "web", Name: "web-v3"}
	if err := h.Check("web-v3", true); err != nil {
		t.Fatal(err)
	}
	if err := h.Check("web-good", true); err == nil || !strings.Contains(err.Error(), "resolves to web-good now, planned with web-v3") {
		t.Fatalf("Check = %v", err)
	}
	if err := h.Check("", false); err == nil || !strings.Contains(err.Error(), "resolves to (none) now") {
		t.Fatalf("Check = %v", err)
	}
	if err := (HeadExpect{Family: "web"}).Check("", false); err != nil {
		t.Fatalf("no head planned, none now: %v", err)
	}
}
