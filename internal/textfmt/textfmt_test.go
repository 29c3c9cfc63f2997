package textfmt

import (
	"encoding/json"
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

func TestInstantWritesMillisecondsInUTCAndReadsAnyRFC3339(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 12, 1, 19, 41, 38, 745523457, time.UTC), `"2026-12-01T19:41:38.745Z"`},
		{time.Date(2026, 12, 1, 19, 41, 54, 0, time.FixedZone("CET", 3600)), `"2026-12-01T18:41:54.000Z"`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(At(tt.in))
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(At(%v)) = %s, %v; want %s", tt.in, b, err, tt.want)
		}
		var back Instant
		if err := json.Unmarshal(b, &back); err != nil || !back.Equal(tt.in.Truncate(time.Millisecond)) {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", b, back, err, tt.in)
		}
	}
	var p struct {
		T *Instant `json:"t"`
	}
	if err := json.Unmarshal([]byte(`{"t":null}`), &p); err != nil || p.T != nil || p.T.Ptr() != nil {
		t.Errorf("null read as %v, %v; want nil", p.T, err)
	}
}

func TestOneLineFoldsEveryRunOfWhiteSpaceIntoOneSpace(t *testing.T) {
	for in, want := range map[string]string{
		"":                                    "",
		"already one line":                    "already one line",
		"  padded\tand\n\nbroken \r\n lines ": "padded and broken lines",
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
}
