package lifecycle

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultTemplate is the naming template used when a Convention names none.
const DefaultTemplate = "{os}-{software}-{version}-v{timestamp}"

// part identifies one placeholder of a naming template.
type part int

const (
	partLiteral part = iota
	partOS
	partSoftware
	partVersion
	partTimestamp
)

var partNames = map[string]part{
	"os":        partOS,
	"software":  partSoftware,
	"version":   partVersion,
	"timestamp": partTimestamp,
}

func (p part) String() string {
	switch p {
	case partOS:
		return "os"
	case partSoftware:
		return "software"
	case partVersion:
		return "version"
	case partTimestamp:
		return "timestamp"
	}
	return "literal"
}

// segment is one piece of a parsed template: a placeholder or literal text.
type segment struct {
	part part
	text string // the literal text, for partLiteral
}

// parseTemplate splits a template into segments and rejects templates that
// could never produce a valid name, so that errors point at the template
// rather than at whichever build first trips over it.
func parseTemplate(tpl string) ([]segment, error) {
	if tpl == "" {
		tpl = DefaultTemplate
	}
	var segs []segment
	seen := map[part]bool{}
	rest := tpl
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if open != 0 {
			lit := rest
			if open > 0 {
				lit = rest[:open]
			}
			for _, r := range lit {
				if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
					return nil, templateError(tpl, Headed, fmt.Sprintf("literal text %q may hold only a-z, 0-9 and \"-\" (image names are lower-case RFC 1035 names); placeholders are {os}, {software}, {version} and {timestamp}", lit))
				}
			}
			segs = append(segs, segment{part: partLiteral, text: lit})
			rest = rest[len(lit):]
			continue
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return nil, templateError(tpl, Headed, fmt.Sprintf("%q has no closing \"}\"", rest))
		}
		name := rest[1:end]
		p, ok := partNames[name]
		if !ok {
			return nil, templateError(tpl, Headed, fmt.Sprintf("unknown placeholder {%s}: use {os}, {software}, {version} and {timestamp}", name))
		}
		if seen[p] {
			return nil, templateError(tpl, Subject, fmt.Sprintf("uses {%s} twice: each placeholder may appear at most once", name))
		}
		seen[p] = true
		segs = append(segs, segment{part: p})
		rest = rest[end+1:]
	}
	if len(seen) == 0 {
		return nil, templateError(tpl, Subject, "has no placeholder: every image would get the same name; use at least {timestamp}")
	}
	first, last := segs[0], segs[len(segs)-1]
	switch {
	case first.part == partTimestamp:
		return nil, templateError(tpl, Subject, "starts with {timestamp}, which starts with a digit: a name must start with a letter (add a literal prefix such as \"v\")")
	case first.part == partLiteral && !(first.text[0] >= 'a' && first.text[0] <= 'z'):
		return nil, templateError(tpl, Subject, fmt.Sprintf("starts with %q: a name must start with a letter", first.text[:1]))
	case last.part == partLiteral && strings.HasSuffix(last.text, "-"):
		return nil, templateError(tpl, Subject, "ends with \"-\": a name must end with a letter or digit")
	}
	return segs, nil
}

// namingError is a FieldError of the naming convention, under the
// "naming: " its messages have always started with; Spell finds the
// FieldError inside.
func namingError(fe *FieldError) error { return fmt.Errorf("naming: %w", fe) }

func templateError(tpl string, layout Layout, rule string) error {
	return namingError(&FieldError{Field: FieldTemplate, Value: strconv.Quote(tpl), Layout: layout, Rule: rule})
}

// The convention's options as the domain names them in a FieldError.
const (
	FieldOS        = "os"
	FieldSoftware  = "software"
	FieldVersion   = "version"
	FieldTemplate  = "template"
	FieldTimestamp = "timestamp"
)

// has reports whether the template uses the placeholder.
func hasPart(segs []segment, p part) bool {
	for _, s := range segs {
		if s.part == p {
			return true
		}
	}
	return false
}
