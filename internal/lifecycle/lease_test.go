package lifecycle

import (
	"strings"
	"testing"
	"time"
)

func TestLeaseValueRoundTripsAndFitsALabel(t *testing.T) {
	exp := time.Date(2026, 12, 1, 21, 35, 0, 250e6, time.UTC)
	v, err := LeaseValue(LeaseHolder("rotate", 0x3f9a2c1b), exp)
	if err != nil {
		t.Fatal(err)
	}
	if v != "rotate-3f9a2c1b-20261201t213501z" {
		t.Fatalf("value = %q (an expiry within a second is rounded up, never down)", v)
	}
	if err := ValidateLabelValue(LabelLease, v); err != nil {
		t.Fatal(err)
	}
	holder, back, err := ParseLease(v)
	if err != nil || holder != "rotate-3f9a2c1b" || !back.Equal(exp.Truncate(time.Second).Add(time.Second)) {
		t.Fatalf("ParseLease = %q %v %v", holder, back, err)
	}
	for _, bad := range []string{"Rotate-1", "rotate_1", strings.Repeat("a", 50), ""} {
		if _, err := LeaseValue(bad, exp); err == nil {
			t.Errorf("LeaseValue(%q) accepted", bad)
		}
	}
}

func TestHeldByOtherIgnoresOwnAndExpiredLeasesAndNeverExpiresAHandWrittenOne(t *testing.T) {
	now := planNow
	lease := func(holder string, in time.Duration) string {
		v, err := LeaseValue(holder, now.Add(in))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name   string
		images []Image
		want   string // holder, "" for none
	}{
		{"none", []Image{img("web-v1", d)}, ""},
		{"own", []Image{img("web-v1", d, withLabel(LabelLease, lease("rotate-1", time.Minute)))}, ""},
		{"expired", []Image{img("web-v1", d, withLabel(LabelLease, lease("rotate-2", -time.Minute)))}, ""},
		{"another, valid", []Image{img("web-v1", d, withLabel(LabelLease, lease("release-2", time.Minute)))}, "release-2"},
		{"two others: the later expiry", []Image{
			img("web-v1", d, withLabel(LabelLease, lease("release-2", time.Minute))),
			img("web-v2", d, withLabel(LabelLease, lease("revoke-3", 3*time.Minute))),
		}, "revoke-3"},
		{"hand-written", []Image{img("web-v1", d, withLabel(LabelLease, "mine"))}, "mine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ok := HeldByOther(LeasesOf(tt.images), "rotate-1", now)
			if got := map[bool]string{true: l.Holder}[ok]; got != tt.want {
				t.Fatalf("HeldByOther = %q (%v), want %q", got, ok, tt.want)
			}
		})
	}
}

func TestLeaseAnchorIsTheHeadElseTheNewestImage(t *testing.T) {
	s := headRead(family(img("web-v3", d, inState(StateDeprecated, nil, nil, nil)), img("web-v2", 2*d), img("web-v1", 3*d)), "web-v2")
	if a, _ := LeaseAnchor(s); a.Name != "web-v2" {
		t.Fatalf("anchor = %s, want the head", a.Name)
	}
	s = headRead(family(img("web-v3", d, inState(StateObsolete, nil, nil, nil)), img("web-v1", 3*d, inState(StateDeleted, nil, nil, nil))), "")
	if a, _ := LeaseAnchor(s); a.Name != "web-v3" {
		t.Fatalf("anchor = %s, want the newest image of a family with no head", a.Name)
	}
	if _, ok := LeaseAnchor(family()); ok {
		t.Fatal("an empty family has no anchor")
	}
}
