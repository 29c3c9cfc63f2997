package lifecycle

import (
	"math/rand"
	"strings"
	"testing"
	"time"
)

func TestRollbackToTheNewestOlderActiveImage(t *testing.T) {
	s := family(img("web-v3", 1*d), img("web-v2", 2*d), img("web-v1", 3*d))
	p, err := PlanRollback(s, "", false, planNow)
	if err != nil {
		t.Fatal(err)
	}
	if p.Target.Name != "web-v2" || p.Head != "web-v3" || p.Rerelease != nil || p.NewHead() != "web-v2" {
		t.Fatalf("target %s, head %s, rerelease %v", p.Target.Name, p.Head, p.Rerelease)
	}
	if len(p.Steps) != 1 || p.Steps[0].Image.Name != "web-v3" || p.Steps[0].Action != ActionDeprecate {
		t.Fatalf("steps %+v", p.Steps)
	}
	want := Deprecation{State: StateDeprecated, Replacement: webLink("web-v2"), Deprecated: at(0)}
	if !sameDeprecation(p.Steps[0].Deprecation, want) {
		t.Errorf("deprecation %s, want %s", fmtDep(p.Steps[0].Deprecation), fmtDep(want))
	}
	after, err := ApplyRollback(s, p)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := after.Head(); h.Name != "web-v2" {
		t.Errorf("after rollback the family resolves to %s, want web-v2", h.Name)
	}
	// The rotator leaves the bad image alone only as long as its dates say.
	if e, _ := Plan(after, DefaultPolicy(), planNow).Find("web-v3"); e.Action != ActionSchedule {
		t.Errorf("the rotator should fill the bad image's dates from its deprecation: %s %s", e.Action, e.Reason)
	}
}

func TestRollbackToANamedImageDeprecatesEveryNewerActiveImage(t *testing.T) {
	s := family(img("web-v4", 1*d), img("web-v3", 2*d, withStatus("PENDING")), img("web-v2", 3*d),
		img("web-v1", 4*d), img("web-v0", 5*d, withStatus("FAILED")))
	p, err := PlanRollback(s, "https://compute.googleapis.com/compute/v1/projects/acme/global/images/web-v1", true, planNow)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, st := range p.Steps {
		names = append(names, st.Image.Name)
		if st.Action != ActionObsolete || st.Deprecation.State != StateObsolete || !sameTime(st.Deprecation.Obsolete, at(0)) {
			t.Errorf("%s: %s %s, want obsolete now (block)", st.Image.Name, st.Action, fmtDep(st.Deprecation))
		}
	}
	if strings.Join(names, ",") != "web-v4,web-v3,web-v2" {
		t.Fatalf("steps for %v, want web-v4,web-v3,web-v2 (the pending build too, newest first)", names)
	}
	after, _ := ApplyRollback(s, p)
	if h, _ := after.Head(); h.Name != "web-v1" {
		t.Errorf("after rollback the family resolves to %s", h.Name)
	}
}

func TestRollbackToADeprecatedImageReleasesACopy(t *testing.T) {
	s := family(img("web-v3", 1*d), img("web-v2", 2*d, withLabel(LabelOS, "debian-12"), withLabel(LabelRotatedAt, "20261120t000000z"),
		inState(StateDeprecated, at(-1*d), at(6*d), at(36*d))))
	must(s.AddUse("web-v3", Use{Kind: UseInstanceTemplate, Project: "acme", Name: "pinned-tpl"}))
	must(s.AddUse("projects/acme/global/images/family/web", Use{Kind: UseInstanceTemplate, Project: "acme", Name: "follow-tpl"}))
	p, err := PlanRollback(s, "web-v2", false, planNow)
	if err != nil {
		t.Fatal(err)
	}
	if p.Rerelease == nil || p.Rerelease.Source.Name != "web-v2" {
		t.Fatalf("Rerelease = %+v, want a copy of web-v2", p.Rerelease)
	}
	labels := p.Rerelease.Labels
	if labels[LabelRollbackOf] != "web-v2" || labels[LabelOS] != "debian-12" || labels[LabelReleasedAt] != "20261126t064730z" || labels[LabelRotatedAt] != "" {
		t.Errorf("copy labels %v", labels)
	}
	if _, err := ApplyRollback(s, p); err == nil {
		t.Errorf("ApplyRollback before naming the copy should fail")
	}
	if _, err := p.Named("web-v3"); err == nil || !strings.Contains(err.Error(), `an image named "web-v3" already exists`) {
		t.Errorf("Named(existing) = %v", err)
	}
	if _, err := p.Named("Web_V4"); err == nil {
		t.Errorf("Named(invalid) accepted")
	}
	named, err := p.Named("web-v2-rollback")
	if err != nil {
		t.Fatal(err)
	}
	if p.Rerelease.Name != "" {
		t.Errorf("Named changed the original plan")
	}
	if named.NewHead() != "web-v2-rollback" || named.Steps[0].Deprecation.Replacement != webLink("web-v2-rollback") {
		t.Errorf("NewHead %s, replacement %s", named.NewHead(), named.Steps[0].Deprecation.Replacement)
	}
	if len(named.Warnings) != 2 || !strings.Contains(named.Warnings[0], "instance template acme/pinned-tpl") || !strings.Contains(named.Warnings[1], "follow-tpl follow family/web") {
		t.Errorf("Warnings = %q", named.Warnings)
	}
	after, err := ApplyRollback(s, named)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := after.Head()
	if h.Name != "web-v2-rollback" || h.Labels[LabelRollbackOf] != "web-v2" {
		t.Errorf("after rollback the family resolves to %s %v", h.Name, h.Labels)
	}
	if orig, _ := after.Find("web-v2"); orig.State() != StateDeprecated {
		t.Errorf("the original target must stay DEPRECATED (never un-deprecated), is %s", orig.State())
	}
	if named.Rerelease.Source.Name != "web-v2" {
		t.Errorf("copy source %s", named.Rerelease.Source.Name)
	}
	if _, err := (RollbackPlan{Target: Image{Name: "x"}}).Named("y"); err == nil {
		t.Errorf("Named without a copy should fail")
	}
}

func TestRollbackRefuses(t *testing.T) {
	s := family(img("web-v5", 1*d),
		img("web-v4", 2*d, inState(StateObsolete, at(-1*d), at(-1*d), at(30*d))),
		img("web-v3", 3*d, inState(StateDeleted, at(-9*d), at(-8*d), at(-1*d))),
		img("web-v2", 4*d, withStatus("PENDING")),
		img("web-v1", 5*d, inState(StateDeprecated, at(-1*d), nil, nil), withLabel(LabelRevokedReason, "cve-2026-1")),
		img("other-v1", 5*d, withFamily("other")))
	tests := []struct {
		name, target, wantErr string
		snap                  *Snapshot
	}{
		{"an OBSOLETE target", "web-v4", `target "web-v4" is OBSOLETE: Compute Engine rejects new uses of it`, nil},
		{"a DELETED target", "web-v3", `target "web-v3" is DELETED`, nil},
		{"a target not READY", "web-v2", `target "web-v2" has status PENDING, not READY`, nil},
		{"a revoked target", "web-v1", `target "web-v1" was revoked (imagefamily-revoked-reason=cve-2026-1)`, nil},
		{"a target of another family", "other-v1", `target "other-v1" belongs to family "other", not to web`, nil},
		{"a target that does not exist", "nope", `target "nope" is not an image of project acme`, nil},
		{"a target in another project", "projects/elsewhere/global/images/web-v5", `is not an image of project acme`, nil},
		{"a family reference", "projects/acme/global/images/family/web", `follows a family: name one image`, nil},
		{"the head itself", "web-v5", `target "web-v5" is already the head of family web: nothing to roll back`, nil},
		{"nothing older", "", `nothing older to roll back to: web-v5 is the only ACTIVE image of family web`, nil},
		{"no head and no target", "", `has no ACTIVE image to roll back from`, &Snapshot{Project: "acme", Family: "web"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := s
			if tt.snap != nil {
				snap = *tt.snap
			}
			_, err := PlanRollback(snap, tt.target, false, planNow)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("PlanRollback(%q) error = %v, want %q", tt.target, err, tt.wantErr)
			}
		})
	}
}

func TestRollbackKeepsEarlierDatesOnTheBadImage(t *testing.T) {
	s := family(img("web-v2", 1*d, withDates(at(-time.Hour), nil, at(10*d))), img("web-v1", 2*d))
	p, err := PlanRollback(s, "", false, planNow)
	if err != nil {
		t.Fatal(err)
	}
	want := Deprecation{State: StateDeprecated, Replacement: webLink("web-v1"), Deprecated: at(-time.Hour), Deleted: at(10 * d)}
	if !sameDeprecation(p.Steps[0].Deprecation, want) {
		t.Errorf("deprecation %s, want %s", fmtDep(p.Steps[0].Deprecation), fmtDep(want))
	}
}

// TestRollbackProperties: on generated families, a rollback is either
// refused or leaves the family resolving to the target (or its copy), never
// moves an image back towards ACTIVE, and touches only ACTIVE images newer
// than the target.
func TestRollbackProperties(t *testing.T) {
	planned := 0
	for seed := int64(1); seed <= 2000; seed++ {
		r := rand.New(rand.NewSource(seed))
		s, _, now := genFamily(r)
		target := ""
		if len(s.Images) > 0 && r.Intn(3) > 0 {
			target = s.Images[r.Intn(len(s.Images))].Name
		}
		block := r.Intn(2) == 0
		p, err := PlanRollback(s, target, block, now)
		if err != nil {
			continue
		}
		planned++
		if p.Rerelease != nil {
			if p.Target.State() != StateDeprecated {
				t.Fatalf("seed %d: re-release of a %s target", seed, p.Target.State())
			}
			if p, err = p.Named("web-rollback-copy"); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
		} else if p.Target.State() != StateActive {
			t.Fatalf("seed %d: %s target without a copy", seed, p.Target.State())
		}
		for _, st := range p.Steps {
			if st.Image.State() != StateActive || !(newer(st.Image, p.Target) || p.Rerelease != nil && !st.Image.CreatedAt.Before(now)) {
				t.Fatalf("seed %d: step on %s (%s), target %s", seed, st.Image.Name, st.Image.State(), p.Target.Name)
			}
			if want := map[bool]State{false: StateDeprecated, true: StateObsolete}[block]; st.Deprecation.State != want {
				t.Fatalf("seed %d: %s writes %s", seed, st.Image.Name, st.Deprecation.State)
			}
		}
		after, err := ApplyRollback(s, p)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if h, ok := after.Head(); !ok || h.Name != p.NewHead() {
			t.Fatalf("seed %d: after rollback to %s the family resolves to %q", seed, p.NewHead(), h.Name)
		}
		for _, img := range after.Images {
			if orig, ok := s.Find(img.Name); ok && img.State().Rank() < orig.State().Rank() {
				t.Fatalf("seed %d: %s moved back from %s to %s", seed, img.Name, orig.State(), img.State())
			}
		}
	}
	if planned < 500 {
		t.Errorf("only %d of 2000 generated rollbacks were planned", planned)
	}
}
