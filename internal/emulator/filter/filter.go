// Package filter parses and evaluates Compute Engine list filters in both of
// their dialects: AIP-160 style comparisons and the older regex style
// (`field eq RE2`). The two do not mix within one expression.
//
// AIP-160 dialect (what people type against the API):
//
//	name = web-v1            status != READY        diskSizeGb > 10
//	labels.env:*             family:web             name = "web-*"
//	(family = web) (deprecated.state != DEPRECATED)
//	a = 1 OR b = 2 AND NOT c = 3     // OR binds tighter: (a OR b) AND NOT c
//
// Regex dialect (what gcloud sends, see gcloud's
// googlecloudsdk/api_lib/compute/filter_rewrite.py):
//
//	family eq ".*\bweb\b.*"          name ne .*-test
//	(family eq ".*\bweb\b.*")(status eq READY)
//
// The resource is the generic JSON object the API returns. Fields are
// addressed with dots; arrays met on the way are searched element by element
// ("any element matches"). A negative comparison (`!=`, `ne`, NOT, `-`) is the
// negation of the positive one, so it is true for an absent field.
package filter

import (
	"fmt"
	"slices"
	"strings"
)

// Limits that keep a hostile filter from costing more than a cheap parse.
const (
	// MaxLength bounds the filter's size in bytes.
	MaxLength = 4096
	// MaxDepth bounds nesting of parentheses and negations, which is also
	// the recursion depth of the parser and of Match.
	MaxDepth = 100
)

// Error is a filter Compute Engine would reject. Its message is exactly the
// one Compute Engine returns (as a 400 `invalid`); Reason says what was
// wrong, for logs and tests, and is deliberately not part of the message.
type Error struct {
	Filter string
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("Invalid value for field 'filter': '%s'. Invalid list filter expression.", e.Filter)
}

// Expr is a parsed filter. An Expr from an empty (or blank) filter matches
// everything.
type Expr struct {
	root node // nil: match everything
}

// Parse parses a list filter in either dialect. Errors are *Error.
func Parse(expr string) (*Expr, error) {
	root, err := parse(expr)
	if err != nil {
		return nil, err
	}
	return &Expr{root: root}, nil
}

// Match reports whether a resource, as the generic JSON object the API
// returns (map[string]any from encoding/json), satisfies the filter.
func (e *Expr) Match(resource map[string]any) bool {
	if e == nil || e.root == nil {
		return true
	}
	return e.root.eval(resource)
}

// String returns a canonical form of the filter: it parses back to a filter
// that matches the same resources and prints the same way (quoting can make
// it longer than the original, possibly beyond MaxLength).
func (e *Expr) String() string {
	if e == nil || e.root == nil {
		return ""
	}
	var b strings.Builder
	e.root.write(&b)
	return b.String()
}

// PrefilterFields are the fields Prefilter yields a condition on, each
// once, in the order the expression names them.
func (e *Expr) PrefilterFields() []string {
	if e == nil || e.root == nil {
		return nil
	}
	terms := []node{e.root}
	if and, isAnd := e.root.(andNode); isAnd {
		terms = and
	}
	var fields []string
	for _, t := range terms {
		var path []string
		switch x := t.(type) {
		case *cmpNode:
			if x.op == opEQ {
				path = x.path
			}
		case *reNode:
			if !x.ne {
				path = x.path
			}
		}
		if f := strings.Join(path, "."); f != "" && !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	return fields
}

// Prefilter is a necessary condition of the expression on one string field
// (a dotted path: "family", "labels.team"), for a caller that can read that
// field cheaply and skip the resources that fail it before converting them
// for Match: Test(value, present) false means Match is false. Only the terms
// of a top-level AND (or a lone term) that compare the field for equality
// (`family = "web"`, `name eq "(a|b)"`, `labels.team = "web"`) qualify; ok is
// false when none does.
func (e *Expr) Prefilter(field string) (test func(value string, present bool) bool, ok bool) {
	if e == nil || e.root == nil {
		return nil, false
	}
	terms := []node{e.root}
	if and, isAnd := e.root.(andNode); isAnd {
		terms = and
	}
	var tests []func(string) bool
	for _, t := range terms {
		switch x := t.(type) {
		case *cmpNode:
			if x.op == opEQ && strings.Join(x.path, ".") == field {
				tests = append(tests, func(s string) bool { return x.test(s) })
			}
		case *reNode:
			if !x.ne && strings.Join(x.path, ".") == field {
				tests = append(tests, func(s string) bool { return x.test(s) })
			}
		}
	}
	if len(tests) == 0 {
		return nil, false
	}
	return func(value string, present bool) bool {
		if !present {
			return false
		}
		for _, t := range tests {
			if !t(value) {
				return false
			}
		}
		return true
	}, true
}
