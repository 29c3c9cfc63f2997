package filter

import (
	"strconv"
	"strings"
	"time"
)

// literal is an AIP value, pre-interpreted once at parse time so that Match
// only interprets the resource's side. Quoting does not change its meaning:
// Compute Engine's JSON carries int64 fields as strings, so "10" and 10 must
// compare alike.
type literal struct {
	segs   []string // the text split at '*' wildcards; one segment if none
	text   string   // the text with every '*' as written (for ordering)
	num    number
	isNum  bool
	tm     time.Time
	isTime bool
	b      bool
	isBool bool
}

func newLiteral(segs []string) literal {
	l := literal{segs: segs, text: strings.Join(segs, "*")}
	if len(segs) == 1 {
		l.num, l.isNum = parseNumber(l.text)
		l.tm, l.isTime = parseTime(l.text)
		switch {
		case strings.EqualFold(l.text, "true"):
			l.b, l.isBool = true, true
		case strings.EqualFold(l.text, "false"):
			l.isBool = true
		}
	}
	return l
}

func (l *literal) wild() bool { return len(l.segs) > 1 }

// anything reports a value made only of wildcards: `field:*` is the
// presence test.
func (l *literal) anything() bool {
	for _, s := range l.segs {
		if s != "" {
			return false
		}
	}
	return l.wild()
}

// globMatch matches s against segments separated by '*' wildcards. Taking
// the leftmost occurrence of each middle segment is enough for globs: a
// later occurrence never leaves more room for what follows.
func globMatch(s string, segs []string) bool {
	if len(segs) == 1 {
		return s == segs[0]
	}
	first, last := segs[0], segs[len(segs)-1]
	if !strings.HasPrefix(s, first) {
		return false
	}
	s = s[len(first):]
	for _, seg := range segs[1 : len(segs)-1] {
		i := strings.Index(s, seg)
		if i < 0 {
			return false
		}
		s = s[i+len(seg):]
	}
	return strings.HasSuffix(s, last)
}

// globContains is the unanchored form, for ':' on strings.
func globContains(s string, segs []string) bool {
	if len(segs) == 1 {
		return strings.Contains(s, segs[0])
	}
	for _, seg := range segs {
		i := strings.Index(s, seg)
		if i < 0 {
			return false
		}
		s = s[i+len(seg):]
	}
	return true
}

// number keeps integers exact: image ids are uint64 values beyond float64's
// 2^53, and two neighbouring ids must not compare equal.
type number struct {
	kind byte // 'i' int64, 'u' uint64 (above MaxInt64), 'f' float64
	i    int64
	u    uint64
	f    float64
}

// parseNumber accepts plain decimal notation only, not Go's extras (hex,
// underscores, "inf", "nan"), which no Compute Engine field holds.
func parseNumber(s string) (number, bool) {
	if !isDecimal(s) {
		return number{}, false
	}
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return number{kind: 'i', i: i}, true
		}
		if u, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 10, 64); err == nil {
			return number{kind: 'u', u: u}, true
		}
	}
	// isDecimal leaves only range errors, whose ±Inf or 0 still order right.
	f, _ := strconv.ParseFloat(s, 64)
	return number{kind: 'f', f: f}, true
}

// isDecimal matches [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - start
	}
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

func (n number) float() float64 {
	switch n.kind {
	case 'i':
		return float64(n.i)
	case 'u':
		return float64(n.u)
	}
	return n.f
}

// cmpNumber returns -1, 0 or +1.
func cmpNumber(a, b number) int {
	switch {
	case a.kind == 'i' && b.kind == 'i':
		return cmp3(a.i < b.i, a.i > b.i)
	case a.kind == 'u' && b.kind == 'u':
		return cmp3(a.u < b.u, a.u > b.u)
	case a.kind == 'i' && b.kind == 'u': // every 'u' is above MaxInt64
		return -1
	case a.kind == 'u' && b.kind == 'i':
		return 1
	}
	af, bf := a.float(), b.float()
	return cmp3(af < bf, af > bf)
}

func cmp3(less, greater bool) int {
	switch {
	case less:
		return -1
	case greater:
		return 1
	}
	return 0
}

// parseTime reads RFC 3339 timestamps (Compute Engine writes them with a
// zone offset such as -08:00, so comparing text alone would misorder them)
// and plain dates, taken as midnight UTC.
func parseTime(s string) (time.Time, bool) {
	// Cheap gate: most values are not dates and time.Parse is not free.
	if len(s) < 10 || s[4] != '-' || s[7] != '-' || s[0] < '0' || s[0] > '9' {
		return time.Time{}, false
	}
	layout := time.RFC3339Nano
	if len(s) == 10 {
		layout = time.DateOnly
	}
	t, err := time.Parse(layout, s)
	return t, err == nil
}
