package lifecycle

import (
	"strings"
	"testing"
)

// Re-running a rollback to a DEPRECATED target (after a partial failure, a
// crash, or by mistake) must finish it with the copy the first run made,
// never copy the target again (found by reliability.TestChaosRollback).

func TestARerunRollbackReusesTheCopyAndFinishesTheSteps(t *testing.T) {
	copyName := "web-v2-rb20261126t064000"
	// The first run made the copy; its deprecation of web-v3 failed.
	s := family(img("web-v3", 1*d), img(copyName, 0, withLabel(LabelRollbackOf, "web-v2"), withLabel(LabelReleasedAt, "20261126t064000z")),
		img("web-v2", 2*d, inState(StateDeprecated, at(-1*d), at(6*d), at(36*d))))
	s.Images[1].CreatedAt = planNow.Add(-50 * 60e9) // made 50 minutes ago
	p, err := PlanRollback(s, "web-v2", false, planNow)
	if err != nil {
		t.Fatal(err)
	}
	if p.Rerelease == nil || !p.Rerelease.Existing || p.Rerelease.Name != copyName || p.NewHead() != copyName {
		t.Fatalf("Rerelease = %+v, want the existing copy %s", p.Rerelease, copyName)
	}
	if named, err := p.Named("web-v2-rb20261126t064730"); err != nil || named.Rerelease.Name != copyName {
		t.Fatalf("Named on an existing copy = %+v, %v: want it unchanged", named.Rerelease, err)
	}
	if len(p.Steps) != 1 || p.Steps[0].Image.Name != "web-v3" || p.Steps[0].Deprecation.Replacement != webLink(copyName) {
		t.Fatalf("steps %+v, want web-v3 deprecated, replaced by the copy", p.Steps)
	}
	after, err := ApplyRollback(s, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Images) != len(s.Images) {
		t.Errorf("the re-run added an image: %d images, was %d", len(after.Images), len(s.Images))
	}
	if h, _ := after.Head(); h.Name != copyName {
		t.Errorf("after the re-run the family resolves to %s, want %s", h.Name, copyName)
	}
	// Once finished, running it again has nothing to do.
	if _, err := PlanRollback(after, "web-v2", false, planNow); err == nil ||
		!strings.Contains(err.Error(), `target "web-v2" is already the head of family web through its re-released copy `+copyName) {
		t.Errorf("a third run: %v, want nothing to roll back", err)
	}
}

func TestARerunRollbackDeprecatesAnImageReleasedAfterTheCopy(t *testing.T) {
	copyName := "web-v2-rb20261126t060000"
	s := family(img("web-v4", 10*60e9), img(copyName, 1*d/2, withLabel(LabelRollbackOf, "web-v2")),
		img("web-v3", 1*d, inState(StateDeprecated, at(-1*d/2), nil, nil)),
		img("web-v2", 2*d, inState(StateDeprecated, at(-1*d), at(6*d), at(36*d))))
	p, err := PlanRollback(s, "web-v2", true, planNow)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Rerelease.Existing || len(p.Steps) != 1 || p.Steps[0].Image.Name != "web-v4" || p.Steps[0].Deprecation.State != StateObsolete {
		t.Fatalf("plan %+v steps %+v, want web-v4 made OBSOLETE and the copy kept", p.Rerelease, p.Steps)
	}
}

func TestARerunRollbackIgnoresRevokedCopiesAndWaitsForAPendingOne(t *testing.T) {
	target := img("web-v2", 2*d, inState(StateDeprecated, at(-1*d), at(6*d), at(36*d)))
	revoked := family(img("web-v3", 1*d), img("web-v2-rb1", 1*d/2, withLabel(LabelRollbackOf, "web-v2"), withLabel(LabelRevokedReason, "bad")), target)
	p, err := PlanRollback(revoked, "web-v2", false, planNow)
	if err != nil || p.Rerelease == nil || p.Rerelease.Existing {
		t.Fatalf("with only a revoked copy: %+v, %v; want a new copy", p.Rerelease, err)
	}
	pending := family(img("web-v3", 1*d), img("web-v2-rb1", 1*d/2, withLabel(LabelRollbackOf, "web-v2"), withStatus("PENDING")), target)
	if _, err := PlanRollback(pending, "web-v2", false, planNow); err == nil || !strings.Contains(err.Error(), "still being created (status PENDING)") {
		t.Fatalf("with a PENDING copy: %v, want a refusal until it is READY", err)
	}
}
