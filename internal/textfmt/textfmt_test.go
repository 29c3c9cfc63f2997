package textfmt

import (
	"testing"
	"time"
)

func TestTimeIsRFC3339InUTC(t *testing.T) {
	at := time.Date(2026, 11, 26, 7, 47, 30, 123, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"a time", Time(at), "2026-11-26T06:47:30Z"},
		{"a set cell", TimeOrDash(&at), "2026-11-26T06:47:30Z"},
		{"no time", TimeOrDash(nil), "-"},
		{"the zero time", TimeOrDash(&time.Time{}), "-"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestPluralAndCountAgreeWithTheNumber(t *testing.T) {
	tests := []struct {
		n           int
		plural, cnt string
	}{
		{0, "images", "0 images"},
		{1, "image", "1 image"},
		{2, "images", "2 images"},
	}
	for _, tt := range tests {
		if got := Plural(tt.n, "image", "images"); got != tt.plural {
			t.Errorf("Plural(%d) = %q, want %q", tt.n, got, tt.plural)
		}
		if got := Count(tt.n, "image"); got != tt.cnt {
			t.Errorf("Count(%d) = %q, want %q", tt.n, got, tt.cnt)
		}
	}
}
