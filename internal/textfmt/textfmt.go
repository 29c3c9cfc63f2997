// Package textfmt writes the small pieces of text that tables, plans and
// messages share: a time, a plural. It imports nothing of this project, so
// every package may use it.
package textfmt

import (
	"strconv"
	"strings"
	"time"
)

// Time writes t for people and machines alike: RFC 3339, in UTC.
func Time(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// StampLayout is the one time format of machine output (JSON, YAML, CSV,
// plan files): RFC 3339 in UTC with exactly three fraction digits, as
// Compute Engine writes its timestamps (2026-12-01T19:41:38.745Z), so that
// every time in a document has the same precision and sorts as text.
const StampLayout = "2006-01-02T15:04:05.000Z07:00"

// Stamp writes t in StampLayout, truncated to the millisecond.
func Stamp(t time.Time) string { return t.UTC().Truncate(time.Millisecond).Format(StampLayout) }

// Instant is a time that JSON writes in StampLayout and reads back from any
// RFC 3339 spelling. Machine outputs use it (or *Instant for a time that may
// be unset, written null) instead of time.Time, whose JSON keeps every
// nanosecond a clock gave it.
type Instant struct{ time.Time }

// At is t as an Instant, in UTC and truncated to the millisecond.
func At(t time.Time) Instant { return Instant{t.UTC().Truncate(time.Millisecond)} }

// AtPtr is At for a time that may be unset: nil stays nil.
func AtPtr(t *time.Time) *Instant {
	if t == nil {
		return nil
	}
	i := At(*t)
	return &i
}

// MarshalJSON writes the instant in StampLayout.
func (i Instant) MarshalJSON() ([]byte, error) { return []byte(`"` + Stamp(i.Time) + `"`), nil }

// UnmarshalJSON reads any RFC 3339 time.
func (i *Instant) UnmarshalJSON(b []byte) error {
	var t time.Time
	if err := t.UnmarshalJSON(b); err != nil {
		return err
	}
	i.Time = t.UTC()
	return nil
}

// Ptr is the instant as a *time.Time, for code that takes one.
func (i *Instant) Ptr() *time.Time {
	if i == nil {
		return nil
	}
	t := i.Time
	return &t
}

// TimeOrDash is Time for a table cell: "-" when t is unset.
func TimeOrDash(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return Time(*t)
}

// Plural is one when n is 1, else many: "1 image" but "0 images".
func Plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Count is n and the noun, plural with an "s" unless n is 1: "1 image",
// "3 images".
func Count(n int, noun string) string {
	return strconv.Itoa(n) + " " + Plural(n, noun, noun+"s")
}

// OneLine folds s onto one line, runs of white space (newlines included)
// becoming one space: an error or a reason in a table cell, a log line or a
// JSON field.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
