package lifecycle

import (
	"errors"
	"strings"
)

// FieldError is a value that breaks a rule, kept as data: which option, the
// value, the rule. The domain names options in its own words (keep_active,
// min_age, os, template); each front end spells them its way with Spell
// (rotation.keep_active in a template, --keep-active on the command line),
// so that no one rewrites message text.
type FieldError struct {
	// Field is the option, e.g. keep_active.
	Field string
	// Value is the value as the message shows it: text quoted, a number or
	// a duration as written; empty when the message does not show it (a
	// secret, or a value that is missing).
	Value string
	// Rule says what is wrong with the value and what is allowed.
	Rule string
	// Layout is how the three make a sentence.
	Layout Layout
}

// Layout is how a FieldError's option, value and rule make a sentence. The
// layouts are the ones this project's messages have always used.
type Layout int

const (
	// Subject: the option and its value are the subject of the rule:
	// `os "+" sanitises to nothing: ...`.
	Subject Layout = iota
	// Labelled: the option labels the value: `keep_active: -1 is negative: ...`.
	Labelled
	// Headed: the option and its value head the rule, after a colon:
	// `template "{os": "{os" has no closing "}"`.
	Headed
)

// Error writes the error with the option as Field names it.
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Field)
	if e.Layout == Labelled {
		b.WriteByte(':')
	}
	if e.Value != "" {
		b.WriteString(" " + e.Value)
	}
	if e.Layout == Headed {
		b.WriteByte(':')
	}
	b.WriteString(" " + e.Rule)
	return b.String()
}

// ConflictError is options that are set together although only one of them
// may be.
type ConflictError struct {
	// Fields are the options set, in the order the documentation gives them.
	Fields []string
	// Rule says what to do instead, e.g. "choose one way to authenticate".
	Rule string
}

func (e *ConflictError) Error() string {
	verb := "are both set"
	if len(e.Fields) > 2 {
		verb = "are all set"
	}
	return joinAnd(e.Fields) + " " + verb + ": " + e.Rule
}

func joinAnd(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// Spell lists the errors err holds (an errors.Join, at any depth) with every
// option of a FieldError or ConflictError spelled by name, for a front end
// that calls its options otherwise. A FieldError found inside a wrapping
// error ("naming: ...") stands alone: the spelled option says what the
// wrapper said. Other errors are kept as they are. Spell(nil, ...) is nil.
func Spell(err error, name func(field string) string) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Spell(e, name)...)
		}
		return out
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		spelled := *fe
		spelled.Field = name(fe.Field)
		return []error{&spelled}
	}
	var ce *ConflictError
	if errors.As(err, &ce) {
		fields := make([]string, len(ce.Fields))
		for i, f := range ce.Fields {
			fields[i] = name(f)
		}
		return []error{&ConflictError{Fields: fields, Rule: ce.Rule}}
	}
	return []error{err}
}

// AsIs is the spelling that keeps every option as the domain names it:
// Spell(err, AsIs) lists the errors err holds.
func AsIs(field string) string { return field }
