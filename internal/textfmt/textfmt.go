// Package textfmt writes the small pieces of text that tables, plans and
// messages share: a time, a plural. It imports nothing of this project, so
// every package may use it.
package textfmt

import (
	"strconv"
	"time"
)

// Time writes t for people and machines alike: RFC 3339, in UTC.
func Time(t time.Time) string { return t.UTC().Format(time.RFC3339) }

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
