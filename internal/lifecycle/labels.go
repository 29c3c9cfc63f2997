package lifecycle

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxLabels is Compute Engine's limit of labels on one resource.
const MaxLabels = 64

// maxLabelChars is the longest key or value, in characters.
const maxLabelChars = 63

var (
	labelKeyRE   = regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
	labelValueRE = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)
)

// ValidateLabelKey checks a key against Compute Engine's rule.
func ValidateLabelKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("labels: empty key: a key needs 1 to 63 characters")
	case utf8.RuneCountInString(key) > maxLabelChars:
		return fmt.Errorf("labels: key %q is %d characters long: at most 63", key, utf8.RuneCountInString(key))
	case !labelKeyRE.MatchString(key):
		return fmt.Errorf("labels: key %q is not a label key: it must start with a lower-case letter and hold only lower-case letters, digits, \"_\" and \"-\" (no upper case, dots, colons or spaces)", key)
	}
	return nil
}

// ValidateLabelValue checks the value of key against Compute Engine's rule.
func ValidateLabelValue(key, value string) error {
	switch {
	case utf8.RuneCountInString(value) > maxLabelChars:
		return fmt.Errorf("labels: value of %q is %d characters long: at most 63", key, utf8.RuneCountInString(value))
	case !labelValueRE.MatchString(value):
		return fmt.Errorf("labels: value of %q (%q) is not a label value: only lower-case letters, digits, \"_\" and \"-\" (no upper case, dots, colons, slashes or spaces; SanitizeLabelValue turns \"v1.24.0\" into \"v1-24-0\")", key, value)
	}
	return nil
}

// ValidateLabels checks every key and value and the number of labels; the
// error names each offending key, in key order.
func ValidateLabels(labels map[string]string) error {
	var errs []error
	if len(labels) > MaxLabels {
		errs = append(errs, fmt.Errorf("labels: %d labels: at most %d on one image", len(labels), MaxLabels))
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if err := ValidateLabelKey(k); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := ValidateLabelValue(k, labels[k]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SanitizeLabelValue makes a label value of any text: lower case, every run
// of characters a value may not hold becomes one "-", "-" trimmed at both
// ends, at most 63 characters: "v1.24.0" → "v1-24-0", "refs/heads/Main" →
// "refs-heads-main".
func SanitizeLabelValue(s string) string {
	var b strings.Builder
	n := 0
	dash := false
	for _, r := range strings.ToLower(s) {
		if !(unicode.IsLower(r) || unicode.Is(unicode.Lo, r) || unicode.IsNumber(r) || r == '_' || r == '-') {
			dash = true
			continue
		}
		if r == '-' {
			dash = true
			continue
		}
		if dash && n > 0 {
			if n+1 >= maxLabelChars {
				break
			}
			b.WriteByte('-')
			n++
		}
		dash = false
		if n >= maxLabelChars {
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// LabelTimestamp writes t as a label value can hold it: 20261126t064730z.
func LabelTimestamp(t time.Time) string {
	return FormatTimestamp(t) + "z"
}

// ParseLabelTimestamp reads a LabelTimestamp value.
func ParseLabelTimestamp(v string) (time.Time, error) {
	s, ok := strings.CutSuffix(v, "z")
	if !ok {
		return time.Time{}, fmt.Errorf("labels: timestamp %q does not end in \"z\": want yyyymmddthhmmssz, e.g. 20261126t064730z", v)
	}
	t, err := ParseTimestamp(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("labels: timestamp %q is not yyyymmddthhmmssz, e.g. 20261126t064730z", v)
	}
	return t, nil
}
