package lifecycle

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// MaxNameLength is Compute Engine's limit for image and family names.
const MaxNameLength = 63

const (
	timestampLayout = "20060102t150405"
	timestampLen    = len(timestampLayout)
	// hashLen characters of base32 (30 bits) tell two long inputs apart.
	hashLen = 6
	// timestampPattern is what a name shows for the timestamp in messages.
	timestampPattern = "<yyyymmddthhmmss>"
)

var nameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// Convention names the images of one piece of software. Template uses any of
// {os}, {software}, {version} and {timestamp} plus literal a-z, 0-9 and "-";
// empty means DefaultTemplate. Only the parts the template uses are required.
//
// A template without {timestamp} is allowed, but then every build of one
// os/software/version gets the same name and Compute Engine refuses the second
// one (409 alreadyExists): uniqueness is then the user's concern.
//
// Names longer than 63 characters are shortened deterministically, keeping
// the timestamp and every literal intact:
//  1. The parts os, software and version are cut, longest first, one
//     character at a time (equivalently: all are capped at one length, and
//     when the cap leaves room to spare, the earlier parts in the template keep
//     one character more), until the name plus 7 characters fits in 63.
//  2. A cut part loses any "-" it now ends with.
//  3. "-" and a 6-character hash are appended to the last cut part (in
//     template order). The hash is base32 (a-z, 2-7) of the SHA-256 of the
//     unshortened name with "{timestamp}" standing for the timestamp, so it is
//     the same for every build of one os/software/version and different for
//     two long inputs that cut to the same text.
//
// A shortened name still matches the template, so ParseName reads its
// timestamp, and Check accepts it.
type Convention struct {
	Template string
	OS       string
	Software string
	Version  string
}

// Parts are the values a name was made from.
type Parts struct {
	OS, Software, Version string
	// Timestamp is the build time in UTC, to the second; zero when the
	// template has no {timestamp}.
	Timestamp time.Time
	// Ambiguous is set by ParseName when the name splits into the template's
	// parts in more than one way (parts themselves contain "-"): the values
	// are then one possible split, earliest parts shortest.
	Ambiguous bool
}

// Name is a conventional image name.
type Name struct {
	name      string
	parts     Parts
	shortened bool
}

// String is the image name.
func (n Name) String() string { return n.name }

// Parts are the sanitised parts before any shortening, and the timestamp.
func (n Name) Parts() Parts { return n.parts }

// Shortened reports whether the parts were cut to fit 63 characters.
func (n Name) Shortened() bool { return n.shortened }

// TemplateOrDefault is the template the convention uses.
func (c Convention) TemplateOrDefault() string {
	if c.Template == "" {
		return DefaultTemplate
	}
	return c.Template
}

// FormatTimestamp writes t as the naming convention does: UTC, to the second,
// lower case, e.g. 20261126t064730.
func FormatTimestamp(t time.Time) string {
	return t.UTC().Format(timestampLayout)
}

// ParseTimestamp reads a FormatTimestamp value back.
func ParseTimestamp(s string) (time.Time, error) {
	t, err := time.Parse(timestampLayout, s)
	if err != nil || len(s) != timestampLen {
		return time.Time{}, fmt.Errorf("naming: timestamp %q is not a date written yyyymmddthhmmss (UTC), e.g. 20261126t064730", s)
	}
	return t, nil
}

// SanitizeNamePart lower-cases s, turns every run of characters outside a-z
// and 0-9 into one "-", and trims "-" at both ends: "Debian 12" → "debian-12",
// "1.24.0" → "1-24-0".
func SanitizeNamePart(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}

// ValidateName checks a Compute Engine resource name: RFC 1035, 1 to 63
// characters.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("naming: name is empty: a name needs 1 to 63 characters")
	case len(name) > MaxNameLength:
		return fmt.Errorf("naming: name %q is %d characters long: at most %d", name, len(name), MaxNameLength)
	case !nameRE.MatchString(name):
		return fmt.Errorf("naming: name %q is not a valid name: it must start with a lower-case letter, hold only a-z, 0-9 and \"-\", and end with a letter or digit", name)
	}
	return nil
}

// Name makes the image name for a build at t.
func (c Convention) Name(t time.Time) (Name, error) {
	segs, vals, err := c.prepare()
	if err != nil {
		return Name{}, err
	}
	ts := ""
	parts := Parts{OS: vals[partOS], Software: vals[partSoftware], Version: vals[partVersion]}
	if hasPart(segs, partTimestamp) {
		u := t.UTC().Truncate(time.Second)
		if u.Year() < 0 || u.Year() > 9999 {
			return Name{}, namingError(&FieldError{Field: FieldTimestamp, Rule: fmt.Sprintf("year %d cannot be written in 4 digits", u.Year())})
		}
		ts = FormatTimestamp(u)
		parts.Timestamp = u
	}
	name, _, shortened, err := build(c.TemplateOrDefault(), segs, vals, ts)
	if err != nil {
		return Name{}, err
	}
	if err := ValidateName(name); err != nil {
		return Name{}, templateError(c.TemplateOrDefault(), Subject, "made an invalid name: "+err.Error())
	}
	return Name{name: name, parts: parts, shortened: shortened}, nil
}

// Pattern is the name the convention wants with the timestamp left open, e.g.
// debian-12-nginx-1-24-0-v<yyyymmddthhmmss>.
func (c Convention) Pattern() (string, error) {
	prefix, suffix, hasTS, err := c.frame()
	if err != nil {
		return "", err
	}
	if !hasTS {
		return prefix, nil
	}
	return prefix + timestampPattern + suffix, nil
}

// Check reports whether name is one the convention makes, at any timestamp;
// when it is not, the error says what the convention wanted.
func (c Convention) Check(name string) error {
	prefix, suffix, hasTS, err := c.frame()
	if err != nil {
		return err
	}
	want := prefix
	if hasTS {
		want = prefix + timestampPattern + suffix
		if len(name) == len(prefix)+timestampLen+len(suffix) &&
			strings.HasPrefix(name, prefix) && strings.HasSuffix(name, suffix) {
			if _, err := ParseTimestamp(name[len(prefix) : len(prefix)+timestampLen]); err == nil {
				return nil
			}
		}
	} else if name == prefix {
		return nil
	}
	return fmt.Errorf("image name %q does not follow the naming convention %s: want %q", name, c.TemplateOrDefault(), want)
}

// frame is the wanted name split around its timestamp. Shortening depends
// only on lengths and the hash leaves the timestamp out, so the text around
// the timestamp is the same for every build time.
func (c Convention) frame() (prefix, suffix string, hasTS bool, err error) {
	segs, vals, err := c.prepare()
	if err != nil {
		return "", "", false, err
	}
	hasTS = hasPart(segs, partTimestamp)
	ts := ""
	if hasTS {
		ts = strings.Repeat("0", timestampLen)
	}
	name, at, _, err := build(c.TemplateOrDefault(), segs, vals, ts)
	if err != nil {
		return "", "", false, err
	}
	if !hasTS {
		return name, "", false, nil
	}
	return name[:at], name[at+timestampLen:], true, nil
}

// prepare parses the template and sanitises the parts it uses.
func (c Convention) prepare() ([]segment, map[part]string, error) {
	segs, err := parseTemplate(c.Template)
	if err != nil {
		return nil, nil, err
	}
	raw := map[part]string{partOS: c.OS, partSoftware: c.Software, partVersion: c.Version}
	vals := map[part]string{}
	for _, s := range segs {
		if s.part == partLiteral || s.part == partTimestamp {
			continue
		}
		v := SanitizeNamePart(raw[s.part])
		if v == "" {
			return nil, nil, namingError(&FieldError{Field: s.part.String(), Value: strconv.Quote(raw[s.part]), Rule: "sanitises to nothing: each part needs at least one letter or digit"})
		}
		vals[s.part] = v
	}
	if first := segs[0]; first.part != partLiteral {
		if v := vals[first.part]; v[0] < 'a' || v[0] > 'z' {
			return nil, nil, namingError(&FieldError{Field: first.part.String(), Value: strconv.Quote(raw[first.part]),
				Rule: fmt.Sprintf("starts the name with the digit %q: a name must start with a letter; put a part that starts with a letter first in the template, or start it with a literal prefix", v[:1])})
		}
	}
	return segs, vals, nil
}

// build renders the name, shortening it when it is too long, and returns
// where the timestamp starts (-1 without one).
func build(tpl string, segs []segment, vals map[part]string, ts string) (name string, tsAt int, shortened bool, err error) {
	render := func(vals map[part]string, ts string) (string, int) {
		var b strings.Builder
		at := -1
		for _, s := range segs {
			switch s.part {
			case partLiteral:
				b.WriteString(s.text)
			case partTimestamp:
				at = b.Len()
				b.WriteString(ts)
			default:
				b.WriteString(vals[s.part])
			}
		}
		return b.String(), at
	}
	full, at := render(vals, ts)
	if len(full) <= MaxNameLength {
		return full, at, false, nil
	}

	fixed := len(ts)
	var order []part // the cuttable parts in template order
	for _, s := range segs {
		switch s.part {
		case partLiteral:
			fixed += len(s.text)
		case partTimestamp:
		default:
			order = append(order, s.part)
		}
	}
	avail := MaxNameLength - fixed - 1 - hashLen
	if len(order) == 0 || avail < len(order) {
		return "", 0, false, templateError(tpl, Subject, fmt.Sprintf("cannot fit 63 characters: its literal text and timestamp take %d, leaving no room for its parts and the 7-character hash of a shortened name", fixed))
	}
	lengths := capLengths(order, vals, avail)

	unshortened, _ := render(vals, "{timestamp}")
	sum := sha256.Sum256([]byte(unshortened))
	hash := strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))[:hashLen]

	cut := map[part]string{}
	last := part(-1)
	for _, p := range order {
		v := vals[p]
		if lengths[p] < len(v) {
			v = strings.TrimRight(v[:lengths[p]], "-")
			last = p
		}
		cut[p] = v
	}
	cut[last] += "-" + hash
	name, at = render(cut, ts)
	return name, at, true, nil
}

// capLengths finds lengths for the parts that add up to at most avail by
// cutting the longest first: every part is capped at the largest cap that
// fits, and the characters left over go to the earliest capped parts.
func capLengths(order []part, vals map[part]string, avail int) map[part]int {
	total := func(c int) int {
		n := 0
		for _, p := range order {
			n += min(len(vals[p]), c)
		}
		return n
	}
	lo, hi := 1, 0
	for _, p := range order {
		hi = max(hi, len(vals[p]))
	}
	for lo < hi { // largest c in [1, hi] with total(c) <= avail
		mid := (lo + hi + 1) / 2
		if total(mid) <= avail {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	spare := avail - total(lo)
	lengths := map[part]int{}
	for _, p := range order {
		l := min(len(vals[p]), lo)
		if len(vals[p]) > lo && spare > 0 {
			l++
			spare--
		}
		lengths[p] = l
	}
	return lengths
}

// ParseName splits a name made with template back into its parts. A
// shortened name parses too: its timestamp is intact, and the cut parts come
// back as they appear in the name (one of them ending in the hash). Parts
// that contain "-" (or text that looks like a timestamp) can make the split
// ambiguous: ParseName then returns the split with the earliest valid
// timestamp and the earliest parts shortest, and sets Parts.Ambiguous. To
// compare a name with known parts use Convention.Check.
func ParseName(template, name string) (Parts, error) {
	segs, err := parseTemplate(template)
	if err != nil {
		return Parts{}, err
	}
	if template == "" {
		template = DefaultTemplate
	}
	if err := ValidateName(name); err != nil {
		return Parts{}, err
	}
	ts := -1
	for i, s := range segs {
		if s.part == partTimestamp {
			ts = i
		}
	}
	if ts < 0 {
		p, ok := splitParts(segs, name)
		if !ok {
			return Parts{}, fmt.Errorf("naming: name %q does not follow the template %s", name, template)
		}
		return p, nil
	}
	// The timestamp has a fixed shape: try each place it could be, and match
	// the template's text before and after it.
	var found []Parts
	var badDate error
	for i := 0; i+timestampLen <= len(name); i++ {
		if !timestampRE.MatchString(name[i : i+timestampLen]) {
			continue
		}
		before, ok1 := splitParts(segs[:ts], name[:i])
		after, ok2 := splitParts(segs[ts+1:], name[i+timestampLen:])
		if !ok1 || !ok2 {
			continue
		}
		t, err := ParseTimestamp(name[i : i+timestampLen])
		if err != nil {
			badDate = err
			continue
		}
		p := Parts{
			OS:        before.OS + after.OS,
			Software:  before.Software + after.Software,
			Version:   before.Version + after.Version,
			Timestamp: t,
			Ambiguous: before.Ambiguous || after.Ambiguous,
		}
		found = append(found, p)
	}
	switch {
	case len(found) > 0:
		p := found[0]
		p.Ambiguous = p.Ambiguous || len(found) > 1
		return p, nil
	case badDate != nil:
		return Parts{}, fmt.Errorf("naming: name %q follows the template %s but %w", name, template, badDate)
	}
	return Parts{}, fmt.Errorf("naming: name %q does not follow the template %s", name, template)
}

var timestampRE = regexp.MustCompile(`^[0-9]{8}t[0-9]{6}$`)

// splitParts matches text against segments without a timestamp.
func splitParts(segs []segment, text string) (Parts, bool) {
	lazy, greedy := nameRegexps(segs)
	lm, gm := lazy.FindStringSubmatch(text), greedy.FindStringSubmatch(text)
	if lm == nil {
		return Parts{}, false
	}
	var p Parts
	for i, s := range partSegments(segs) {
		v := lm[i+1]
		if gm[i+1] != v {
			p.Ambiguous = true
		}
		switch s {
		case partOS:
			p.OS = v
		case partSoftware:
			p.Software = v
		case partVersion:
			p.Version = v
		}
	}
	return p, true
}

func partSegments(segs []segment) []part {
	var ps []part
	for _, s := range segs {
		if s.part != partLiteral {
			ps = append(ps, s.part)
		}
	}
	return ps
}

// nameRegexps match segments without a timestamp with the parts
// shortest-first and longest-first: when both find the same split, the
// split is the only one.
func nameRegexps(segs []segment) (lazy, greedy *regexp.Regexp) {
	var l, g strings.Builder
	l.WriteString("^")
	g.WriteString("^")
	for _, s := range segs {
		switch s.part {
		case partLiteral:
			l.WriteString(regexp.QuoteMeta(s.text))
			g.WriteString(regexp.QuoteMeta(s.text))
		default:
			l.WriteString(`([a-z0-9]+?(?:-[a-z0-9]+?)*?)`)
			g.WriteString(`([a-z0-9]+(?:-[a-z0-9]+)*)`)
		}
	}
	l.WriteString("$")
	g.WriteString("$")
	return regexp.MustCompile(l.String()), regexp.MustCompile(g.String())
}
