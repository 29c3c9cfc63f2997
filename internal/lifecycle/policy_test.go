package lifecycle

import (
	"errors"
	"slices"
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

func TestPolicyValidateReturnsFieldErrorsAFrontEndSpells(t *testing.T) {
	rotation := func(f string) string { return "rotation." + f }
	tests := []struct {
		name      string
		change    func(*Policy)
		wantField FieldError
		// wantHCL is the message once the option is spelled as the
		// release post-processor's rotation block spells it.
		wantHCL string
	}{
		{"negative keep_active", func(p *Policy) { p.KeepActive = -1 },
			FieldError{Field: "keep_active", Value: "-1", Layout: Labelled, Rule: "is negative: it counts the newest ACTIVE images kept, the head being the first of them; use 0 or more (0 and 1 keep only the head)"},
			`rotation.keep_active: -1 is negative: it counts the newest ACTIVE images kept, the head being the first of them`},
		{"negative min_age", func(p *Policy) { p.MinAge = -time.Hour },
			FieldError{Field: "min_age", Value: "-1h0m0s", Layout: Labelled, Rule: `is negative: use 0 or more, e.g. "1h"`},
			`rotation.min_age: -1h0m0s is negative`},
		{"negative obsolete_after", func(p *Policy) { p.ObsoleteAfter = -24 * time.Hour },
			FieldError{Field: "obsolete_after", Value: "-1d", Layout: Labelled, Rule: `is negative: use 0 or more, e.g. "7d"`},
			`rotation.obsolete_after: -1d is negative`},
		{"negative delete_after", func(p *Policy) { p.DeleteAfter = -time.Second },
			FieldError{Field: "delete_after", Value: "-1s", Layout: Labelled, Rule: `is negative: use 0 or more, e.g. "30d"`},
			`rotation.delete_after: -1s is negative`},
		{"negative purge_after", func(p *Policy) { p.PurgeAfter = -time.Second },
			FieldError{Field: "purge_after", Value: "-1s", Layout: Labelled, Rule: `is negative: use 0 or more, e.g. "7d"`},
			`rotation.purge_after`},
		{"invalid protect label", func(p *Policy) { p.ProtectLabel = "Keep.Me" },
			FieldError{Field: "protect_label", Layout: Labelled, Rule: `labels: key "Keep.Me" is not a label key: it must start with a lower-case letter and hold only lower-case letters, digits, "_" and "-" (no upper case, dots, colons or spaces)`},
			`rotation.protect_label: labels: key "Keep.Me" is not a label key`},
		{"protect label that is a lineage key", func(p *Policy) { p.ProtectLabel = LabelOS },
			FieldError{Field: "protect_label", Value: `"imagefamily-os"`, Layout: Labelled, Rule: `is a lineage key imagefamily writes itself: choose another key, e.g. "imagefamily-protect"`},
			`rotation.protect_label: "imagefamily-os" is a lineage key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPolicy()
			tt.change(&p)
			err := p.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) || *fe != tt.wantField {
				t.Fatalf("Validate = %#v, want %#v", fe, tt.wantField)
			}
			if strings.Contains(err.Error(), "rotation.") {
				t.Errorf("Validate = %q: the domain names no front end's spelling", err)
			}
			spelled := Spell(err, rotation)
			if len(spelled) != 1 || !strings.HasPrefix(spelled[0].Error(), tt.wantHCL) {
				t.Fatalf("spelled for HCL = %q, want one starting %q", spelled, tt.wantHCL)
			}
		})
	}
	ok := DefaultPolicy()
	ok.KeepActive, ok.MinAge, ok.ProtectLabel = 0, 0, ""
	if err := ok.Validate(); err != nil {
		t.Errorf("keep_active 0, min_age 0 and no protect label are allowed: %v", err)
	}
}

func TestPolicyValidateReportsEveryOption(t *testing.T) {
	p := DefaultPolicy()
	p.KeepActive, p.MinAge, p.ProtectLabel = -1, -time.Hour, LabelOS
	var fields []string
	for _, err := range Spell(p.Validate(), AsIs) {
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("%v is not a FieldError", err)
		}
		fields = append(fields, fe.Field)
	}
	if want := []string{"keep_active", "min_age", "protect_label"}; !slices.Equal(fields, want) {
		t.Errorf("fields = %q, want %q", fields, want)
	}
}

func TestPolicyOptionsSetOnlyWhatIsGiven(t *testing.T) {
	three, week, none, off := 3, "7d", "", false
	tests := []struct {
		name string
		opts PolicyOptions
		want func(*Policy)
	}{
		{"nothing given is the default", PolicyOptions{}, func(*Policy) {}},
		{"every option given", PolicyOptions{KeepActive: &three, MinAge: &week, ObsoleteAfter: &week, DeleteAfter: &week,
			PurgeAfter: &week, ProtectLabel: &none, CheckInUse: &off}, func(p *Policy) {
			p.KeepActive, p.ProtectLabel, p.CheckInUse = 3, "", false
			p.MinAge, p.ObsoleteAfter, p.DeleteAfter, p.PurgeAfter = 7*day, 7*day, 7*day, 7*day
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := DefaultPolicy()
			tt.want(&want)
			got, err := tt.opts.Policy()
			if err != nil || got != want {
				t.Errorf("Policy() = %+v, %v; want %+v", got, err, want)
			}
		})
	}
}

func TestPolicyOptionsReportUnreadableDurationsBeforeBrokenRules(t *testing.T) {
	bad, empty, neg := "a week", "", -1
	_, err := PolicyOptions{KeepActive: &neg, MinAge: &bad, PurgeAfter: &empty}.Policy()
	var got []string
	for _, e := range Spell(err, func(f string) string { return "--" + strings.ReplaceAll(f, "_", "-") }) {
		got = append(got, e.Error())
	}
	want := []string{
		`--min-age: "a week" is not a duration: use a number with a unit (ns, us, ms, s, m, h or d for days), e.g. "168h" or "7d"`,
		`--purge-after: empty duration: use a number with a unit, e.g. "168h" or "7d"`,
		`--keep-active: -1 is negative: it counts the newest ACTIVE images kept, the head being the first of them; use 0 or more (0 and 1 keep only the head)`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
}
