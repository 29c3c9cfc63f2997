package lifecycle

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"168h", 168 * time.Hour},
		{"7d", 7 * 24 * time.Hour},
		{"1.5d", 36 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{"0", 0},
		{"0d", 0},
		{" 30d ", 720 * time.Hour},
		{"-1d", -24 * time.Hour},
		{"500ms", 500 * time.Millisecond},
	}
	for _, tt := range tests {
		got, err := ParseDuration("rotation.obsolete_after", tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseDurationErrorsNameTheOption(t *testing.T) {
	tests := []struct{ in, wantErr string }{
		{"", `rotation.purge_after: empty duration`},
		{"7", `rotation.purge_after: "7" is not a duration`},
		{"7x", `"7x" is not a duration: use a number with a unit (ns, us, ms, s, m, h or d for days)`},
		{"d", `"d" is not a duration`},
		{"1d 2h", `is not a duration`},
		{"1..2d", `is not a duration`},
		{"999999999d", `(too long)`},
	}
	for _, tt := range tests {
		_, err := ParseDuration("rotation.purge_after", tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseDuration(%q) error = %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestFormatDurationPrefersDays(t *testing.T) {
	tests := map[time.Duration]string{
		7 * 24 * time.Hour: "7d",
		36 * time.Hour:     "36h0m0s",
		time.Hour:          "1h0m0s",
		0:                  "0s",
	}
	for d, want := range tests {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		back, err := ParseDuration("x", FormatDuration(d))
		if err != nil || back != d {
			t.Errorf("ParseDuration(FormatDuration(%v)) = %v, %v", d, back, err)
		}
	}
}

func TestDefaultPolicy(t *testing.T) {
	p := DefaultPolicy()
	want := Policy{KeepActive: 2, MinAge: time.Hour, ObsoleteAfter: 168 * time.Hour, DeleteAfter: 720 * time.Hour, PurgeAfter: 168 * time.Hour, ProtectLabel: "imagefamily-protect", CheckInUse: true}
	if p != want {
		t.Fatalf("DefaultPolicy = %+v, want %+v", p, want)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("DefaultPolicy().Validate() = %v", err)
	}
}

func TestPolicyValidateNamesTheOption(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Policy)
		wantErr string
	}{
		{"negative keep_active", func(p *Policy) { p.KeepActive = -1 }, `rotation.keep_active: -1 is negative: keep_active counts the newest ACTIVE images kept, the head being the first of them`},
		{"negative min_age", func(p *Policy) { p.MinAge = -time.Hour }, `rotation.min_age: -1h0m0s is negative`},
		{"negative obsolete_after", func(p *Policy) { p.ObsoleteAfter = -24 * time.Hour }, `rotation.obsolete_after: -1d is negative`},
		{"negative delete_after", func(p *Policy) { p.DeleteAfter = -time.Second }, `rotation.delete_after: -1s is negative`},
		{"negative purge_after", func(p *Policy) { p.PurgeAfter = -time.Second }, `rotation.purge_after`},
		{"invalid protect label", func(p *Policy) { p.ProtectLabel = "Keep.Me" }, `rotation.protect_label: labels: key "Keep.Me" is not a label key`},
		{"protect label that is a lineage key", func(p *Policy) { p.ProtectLabel = LabelOS }, `rotation.protect_label: "imagefamily-os" is a lineage key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPolicy()
			tt.change(&p)
			err := p.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want %q", err, tt.wantErr)
			}
		})
	}
	ok := DefaultPolicy()
	ok.KeepActive, ok.MinAge, ok.ProtectLabel = 0, 0, ""
	if err := ok.Validate(); err != nil {
		t.Errorf("keep_active 0, min_age 0 and no protect label are allowed: %v", err)
	}
}
