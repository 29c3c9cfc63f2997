package filter

import (
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
)

// The grammar, after AIP-160 (https://google.aip.dev/160), which Compute
// Engine follows for its newer dialect:
//
//	expression = sequence { "AND" sequence }
//	sequence   = factor { factor }               (implicit AND)
//	factor     = term { "OR" term }              (OR binds tighter than AND)
//	term       = [ "NOT" | "-" ] simple
//	simple     = "(" expression ")" | field comparator value
//
// The regex dialect reuses the same skeleton with `eq`/`ne` comparators,
// joined by white space, adjacent parentheses (gcloud emits `(a eq x)(b ne
// y)`) or AND. OR, NOT, '-' and the AIP comparators belong to AIP-160 only;
// meeting both dialects in one filter is an error, as on Compute Engine.

type parser struct {
	s     scanner
	depth int
	aip   bool // saw something that only AIP-160 has
	regex bool // saw an eq/ne comparison
}

// parseError carries the reason up to parse, which adds the filter text.
type parseError string

func (e parseError) Error() string { return string(e) }

func parse(src string) (node, error) {
	fail := func(reason string) error { return &Error{Filter: src, Reason: reason} }
	if len(src) > MaxLength {
		return nil, fail("filter longer than the limit")
	}
	p := &parser{s: scanner{src: src}}
	p.s.skipSpace()
	if p.s.eof() {
		return nil, nil // a blank filter lists everything
	}
	root, err := p.expression()
	if err != nil {
		return nil, fail(err.Error())
	}
	p.s.skipSpace()
	if !p.s.eof() {
		if p.s.peek() == ')' {
			return nil, fail("unbalanced ')'")
		}
		return nil, fail("unexpected text at offset " + strconv.Itoa(p.s.pos))
	}
	if p.aip && p.regex {
		return nil, fail("eq/ne (regex) terms cannot be mixed with AIP-160 operators")
	}
	return root, nil
}

// keyword consumes the upper-case keyword kw if it comes next as a whole
// word. Keywords are upper case only, as AIP-160 specifies.
func (p *parser) keyword(kw string) bool {
	p.s.skipSpace()
	if p.s.peekWord() != kw {
		return false
	}
	p.s.pos += len(kw)
	return true
}

func isKeyword(w string) bool { return w == "AND" || w == "OR" || w == "NOT" }

// enter counts one level of nesting; every call is paired with leave.
func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return parseError("nested too deeply")
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) expression() (node, error) {
	var parts []node
	for {
		n, err := p.sequence()
		if err != nil {
			return nil, err
		}
		parts = append(parts, n)
		if !p.keyword("AND") {
			return and(parts), nil
		}
	}
}

func (p *parser) sequence() (node, error) {
	var parts []node
	for {
		n, err := p.factor()
		if err != nil {
			return nil, err
		}
		parts = append(parts, n)
		p.s.skipSpace()
		if p.s.eof() || p.s.peek() == ')' || p.s.peekWord() == "AND" {
			return and(parts), nil
		}
	}
}

func (p *parser) factor() (node, error) {
	var parts []node
	for {
		n, err := p.term()
		if err != nil {
			return nil, err
		}
		parts = append(parts, n)
		if !p.keyword("OR") {
			return or(parts), nil
		}
		p.aip = true
	}
}

func (p *parser) term() (node, error) {
	p.s.skipSpace()
	negated := false
	if p.s.peek() == '-' {
		p.s.pos++
		negated = true
	} else if p.keyword("NOT") {
		negated = true
	}
	if !negated {
		return p.simple()
	}
	p.aip = true
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	n, err := p.term() // NOT NOT x and -NOT x are silly but harmless
	if err != nil {
		return nil, err
	}
	return notNode{n}, nil
}

func (p *parser) simple() (node, error) {
	p.s.skipSpace()
	if p.s.peek() != '(' {
		return p.restriction()
	}
	p.s.pos++
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.s.skipSpace()
	if p.s.peek() == ')' {
		return nil, parseError("empty parentheses")
	}
	n, err := p.expression()
	if err != nil {
		return nil, err
	}
	p.s.skipSpace()
	if p.s.peek() != ')' {
		return nil, parseError("missing ')'")
	}
	p.s.pos++
	return n, nil
}

func (p *parser) restriction() (node, error) {
	p.s.skipSpace()
	if p.s.eof() {
		return nil, parseError("missing term at the end")
	}
	field := p.s.word()
	switch {
	case field == "":
		return nil, parseError("expected a field name at offset " + strconv.Itoa(p.s.pos))
	case isKeyword(field):
		return nil, parseError("operator " + field + " without an operand")
	}
	path, ok := splitField(field)
	if !ok {
		return nil, parseError("malformed field name " + field)
	}
	p.s.skipSpace()
	o, ok := p.s.comparator()
	if !ok {
		// A bare value (AIP-160's global restriction, free-text search) is
		// something Compute Engine does not support.
		return nil, parseError("expected a comparison operator after " + field)
	}
	p.s.skipSpace()
	if o == opREq || o == opRNe {
		p.regex = true
		return p.regexTerm(field, path, o == opRNe)
	}
	p.aip = true
	var lit literal
	if isQuote(p.s.peek()) {
		raw, ok := p.s.quoted()
		if !ok {
			return nil, parseError("unterminated string")
		}
		lit = newLiteral(decodeQuoted(raw))
	} else {
		text := p.s.bareAIP()
		if text == "" || isKeyword(text) {
			return nil, parseError("missing value after " + field + " " + o.String())
		}
		lit = newLiteral(strings.Split(text, "*"))
	}
	return &cmpNode{field: field, path: path, op: o, lit: lit}, nil
}

func (p *parser) regexTerm(field string, path []string, ne bool) (node, error) {
	var raw string
	quoted := isQuote(p.s.peek())
	if quoted {
		var ok bool
		if raw, ok = p.s.quoted(); !ok {
			return nil, parseError("unterminated string")
		}
	} else if raw = p.s.bareRegex(); raw == "" {
		return nil, parseError("missing regular expression after " + field)
	}
	// Check the pattern alone first: wrapped in ^(?:...)$ an unbalanced
	// "a)|(b" would otherwise compile into something else entirely.
	if _, err := syntax.Parse(raw, syntax.Perl); err != nil {
		return nil, parseError("invalid regular expression: " + err.Error())
	}
	re, err := regexp.Compile(`^(?:` + raw + `)$`)
	if err != nil {
		return nil, parseError("invalid regular expression: " + err.Error())
	}
	n := &reNode{field: field, path: path, ne: ne, raw: raw, quoted: quoted, re: re, literals: literalAlternation(raw)}
	if !quoted {
		// gcloud sends numbers, enums, bools and timestamps unquoted; an
		// int64 field arrives as a JSON string, so also compare these as
		// values, not only as text.
		n.num, n.isNum = parseNumber(raw)
		n.tm, n.isTime = parseTime(raw)
	}
	return n, nil
}

// plainWords is a regex that is nothing but words of a-z, 0-9 and "-" (each
// a literal in RE2) joined by "|", optionally in one group.
var plainWords = regexp.MustCompile(`^\(?([a-z0-9-]+(\|[a-z0-9-]+)*)\)?$`)

// literalAlternation is the set of words a plain alternation matches whole
// (see plainWords); nil for any other pattern.
func literalAlternation(raw string) map[string]bool {
	m := plainWords.FindStringSubmatch(raw)
	if m == nil || strings.Count(raw, "(") != strings.Count(raw, ")") {
		return nil
	}
	set := map[string]bool{}
	for _, w := range strings.Split(m[1], "|") {
		set[w] = true
	}
	return set
}

// splitField splits a dotted field name, rejecting empty segments and names
// that cannot be fields (a leading digit or '-').
func splitField(field string) ([]string, bool) {
	c := field[0]
	if c == '-' || c == '.' || (c >= '0' && c <= '9') {
		return nil, false
	}
	path := strings.Split(field, ".")
	for _, seg := range path {
		if seg == "" {
			return nil, false
		}
	}
	return path, true
}

// decodeQuoted resolves the escapes of an AIP string and splits it at its
// unescaped '*' wildcards; `\*` is a literal star.
func decodeQuoted(raw string) []string {
	var segs []string
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '*':
			segs = append(segs, b.String())
			b.Reset()
			continue
		case c == '\\' && i+1 < len(raw):
			i++
			switch c = raw[i]; c {
			case 'n':
				c = '\n'
			case 't':
				c = '\t'
			case 'r':
				c = '\r'
			}
		}
		b.WriteByte(c)
	}
	return append(segs, b.String())
}

// and and or build n-ary nodes, flattening nested ones of the same kind so
// that evaluation is a loop, not a recursion, and String is canonical.
func and(parts []node) node {
	if len(parts) == 1 {
		return parts[0]
	}
	var out andNode
	for _, n := range parts {
		if a, ok := n.(andNode); ok {
			out = append(out, a...)
		} else {
			out = append(out, n)
		}
	}
	return out
}

func or(parts []node) node {
	if len(parts) == 1 {
		return parts[0]
	}
	var out orNode
	for _, n := range parts {
		if o, ok := n.(orNode); ok {
			out = append(out, o...)
		} else {
			out = append(out, n)
		}
	}
	return out
}
