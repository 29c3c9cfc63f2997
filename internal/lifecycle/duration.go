package lifecycle

import (
	"math"
	"strconv"
	"strings"
	"time"
)

const day = 24 * time.Hour

// ParseDuration reads a duration for the named option: anything Go's
// time.ParseDuration takes ("168h", "90m", "1h30m") plus days, "d", alone or
// mixed ("7d", "1.5d", "1d12h"). Days are 24 hours. Its error is a
// *FieldError for option.
func ParseDuration(option, s string) (time.Duration, error) {
	bad := func(why string) error {
		return &FieldError{Field: option, Value: strconv.Quote(s), Layout: Labelled,
			Rule: "is not a duration" + why + `: use a number with a unit (ns, us, ms, s, m, h or d for days), e.g. "168h" or "7d"`}
	}
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, &FieldError{Field: option, Layout: Labelled, Rule: `empty duration: use a number with a unit, e.g. "168h" or "7d"`}
	}
	neg := false
	switch in[0] {
	case '-':
		neg, in = true, in[1:]
	case '+':
		in = in[1:]
	}
	if in == "0" {
		return 0, nil
	}
	var days float64
	var rest strings.Builder
	for in != "" {
		i := 0
		for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
			i++
		}
		num := in[:i]
		j := i
		for j < len(in) && !(in[j] >= '0' && in[j] <= '9' || in[j] == '.') {
			j++
		}
		unit := in[i:j]
		if num == "" || unit == "" {
			return 0, bad("")
		}
		if unit == "d" {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, bad("")
			}
			days += f
		} else {
			rest.WriteString(num + unit)
		}
		in = in[j:]
	}
	var d time.Duration
	if rest.Len() > 0 {
		var err error
		if d, err = time.ParseDuration(rest.String()); err != nil {
			return 0, bad("")
		}
	}
	dd := days * float64(day)
	if dd+float64(d) >= math.MaxInt64 {
		return 0, bad(" (too long)")
	}
	d += time.Duration(math.Round(dd))
	if neg {
		d = -d
	}
	return d, nil
}

// FormatDuration writes a duration the way ParseDuration reads it, in whole
// days when it is whole days ("7d"), else as Go does ("36h0m0s").
func FormatDuration(d time.Duration) string {
	if d != 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}
