package filter

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
)

type op byte

const (
	opEQ op = iota + 1
	opNE
	opLT
	opLE
	opGT
	opGE
	opHas
	opREq // regex dialect "eq"
	opRNe // regex dialect "ne"
)

func (o op) String() string {
	return [...]string{"?", "=", "!=", "<", "<=", ">", ">=", ":", "eq", "ne"}[o]
}

// node is a parsed filter. write prints the canonical form (Expr.String).
type node interface {
	eval(r map[string]any) bool
	write(b *strings.Builder)
}

type (
	andNode []node
	orNode  []node
	notNode struct{ x node }
)

func (n andNode) eval(r map[string]any) bool {
	for _, x := range n {
		if !x.eval(r) {
			return false
		}
	}
	return true
}

func (n orNode) eval(r map[string]any) bool {
	for _, x := range n {
		if x.eval(r) {
			return true
		}
	}
	return false
}

func (n notNode) eval(r map[string]any) bool { return !n.x.eval(r) }

// leafTest is applied to each value found at a field path.
type leafTest interface{ test(v any) bool }

// anyLeaf reports whether t holds for any value at path below v. Arrays met
// on the way (or at the end) are searched element by element, so that
// `storageLocations = us` and `disks.deviceName = boot` mean "some element".
func anyLeaf(t leafTest, v any, path []string) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if anyLeaf(t, e, path) {
				return true
			}
		}
		return false
	case []string:
		for _, e := range x {
			if anyLeaf(t, e, path) {
				return true
			}
		}
		return false
	}
	if len(path) == 0 {
		return v != nil && t.test(v)
	}
	switch m := v.(type) {
	case map[string]any:
		if child, ok := m[path[0]]; ok {
			return anyLeaf(t, child, path[1:])
		}
	case map[string]string:
		if s, ok := m[path[0]]; ok && len(path) == 1 {
			return t.test(s)
		}
	}
	return false
}

// scalar turns a JSON scalar into its text, and its number when it is one
// natively. Maps, arrays and nil are not scalars.
func scalar(v any) (s string, n number, isNum, ok bool) {
	switch x := v.(type) {
	case string:
		return x, number{}, false, true
	case bool:
		return strconv.FormatBool(x), number{}, false, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), number{kind: 'f', f: x}, true, true
	case json.Number:
		n, isNum := parseNumber(string(x))
		return string(x), n, isNum, true
	}
	return "", number{}, false, false
}

// cmpNode is an AIP-160 comparison. `!=` is stored as itself but evaluated
// as the negation of `=`, so a missing field satisfies it and a repeated
// field satisfies it only when no element equals the value.
type cmpNode struct {
	field string
	path  []string
	op    op
	lit   literal
}

func (c *cmpNode) eval(r map[string]any) bool {
	hit := anyLeaf(c, r, c.path)
	if c.op == opNE {
		return !hit
	}
	return hit
}

func (c *cmpNode) test(v any) bool {
	if c.op == opHas && c.lit.anything() {
		return present(v)
	}
	switch x := v.(type) {
	case bool:
		if !c.lit.isBool {
			return false
		}
		return (c.op == opEQ || c.op == opNE || c.op == opHas) && x == c.lit.b
	case map[string]any:
		return c.op == opHas && hasKey(x, c.lit.segs)
	case map[string]string:
		return c.op == opHas && hasKey(x, c.lit.segs)
	}
	s, n, isNum, ok := scalar(v)
	if !ok {
		return false
	}
	l := &c.lit
	// numeric yields the value as a number when the literal is one.
	numeric := func() (number, bool) {
		if !l.isNum {
			return number{}, false
		}
		if isNum {
			return n, true
		}
		return parseNumber(s)
	}
	switch c.op {
	case opHas: // substring for strings; equality for numbers, as on Compute Engine
		if num, ok := numeric(); ok {
			return cmpNumber(num, l.num) == 0
		}
		return globContains(s, l.segs)
	case opEQ, opNE:
		if l.wild() {
			return globMatch(s, l.segs)
		}
		if s == l.text {
			return true
		}
		if num, ok := numeric(); ok {
			return cmpNumber(num, l.num) == 0
		}
		if l.isTime {
			t, ok := parseTime(s)
			return ok && t.Equal(l.tm)
		}
		return false
	}
	// Ordering: as numbers, else as instants, else as text (RFC 3339 in
	// one zone orders lexically too).
	r, done := 0, false
	if num, ok := numeric(); ok {
		r, done = cmpNumber(num, l.num), true
	} else if l.isTime {
		if t, ok := parseTime(s); ok {
			r, done = t.Compare(l.tm), true
		}
	}
	if !done {
		r = strings.Compare(s, l.text)
	}
	switch c.op {
	case opLT:
		return r < 0
	case opLE:
		return r <= 0
	case opGT:
		return r > 0
	}
	return r >= 0 // opGE
}

// hasKey is `map:key` (AIP-160: the map has that key).
func hasKey[V any](m map[string]V, segs []string) bool {
	for k := range m {
		if globMatch(k, segs) {
			return true
		}
	}
	return false
}

// present is `field:*`: the field exists with a value. An empty label value
// counts (labels may be ""); an empty map does not, as protojson omits it.
func present(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case map[string]any:
		return len(x) > 0
	case map[string]string:
		return len(x) > 0
	}
	return true
}

// reNode is a regex dialect term: the RE2 pattern must match the whole
// value. `ne` is the negation of `eq`.
type reNode struct {
	field  string
	path   []string
	ne     bool
	raw    string // the pattern as written, for String
	quoted bool
	re     *regexp.Regexp // anchored: ^(?:raw)$
	// literals, when the pattern is an alternation of plain words
	// (`(web-v1|web-v3)`, what a client re-reading chosen images sends), is
	// the set it matches: a lookup instead of running the regex.
	literals map[string]bool
	num      number // raw as a number, if it is one and unquoted
	isNum    bool
	tm       time.Time // raw as a timestamp, if it is one and unquoted
	isTime   bool
}

func (n *reNode) eval(r map[string]any) bool {
	return anyLeaf(n, r, n.path) != n.ne
}

func (n *reNode) test(v any) bool {
	s, num, isNum, ok := scalar(v)
	if !ok {
		return false
	}
	if n.literals != nil {
		if n.literals[s] {
			return true
		}
	} else if n.re.MatchString(s) {
		return true
	}
	if n.isNum {
		if !isNum {
			num, isNum = parseNumber(s)
		}
		if isNum && cmpNumber(num, n.num) == 0 {
			return true
		}
	}
	if n.isTime {
		if t, ok := parseTime(s); ok && t.Equal(n.tm) {
			return true
		}
	}
	return false
}

// Canonical printing. OR binds tighter than AND, so only an AND inside an
// OR and a compound inside NOT need parentheses.

func (n andNode) write(b *strings.Builder) {
	for i, x := range n {
		if i > 0 {
			b.WriteString(" AND ")
		}
		x.write(b)
	}
}

func (n orNode) write(b *strings.Builder) {
	for i, x := range n {
		if i > 0 {
			b.WriteString(" OR ")
		}
		writeGrouped(b, x, false)
	}
}

func (n notNode) write(b *strings.Builder) {
	b.WriteString("NOT ")
	writeGrouped(b, n.x, true)
}

func writeGrouped(b *strings.Builder, x node, groupOr bool) {
	_, isAnd := x.(andNode)
	_, isOr := x.(orNode)
	if isAnd || (groupOr && isOr) {
		b.WriteByte('(')
		x.write(b)
		b.WriteByte(')')
		return
	}
	x.write(b)
}

func (c *cmpNode) write(b *strings.Builder) {
	b.WriteString(c.field)
	if c.op == opHas {
		b.WriteByte(':')
		if c.lit.anything() {
			b.WriteByte('*')
			return
		}
	} else {
		b.WriteByte(' ')
		b.WriteString(c.op.String())
		b.WriteByte(' ')
	}
	b.WriteByte('"')
	for i, seg := range c.lit.segs {
		if i > 0 {
			b.WriteByte('*')
		}
		for j := 0; j < len(seg); j++ {
			if ch := seg[j]; ch == '\\' || ch == '"' || ch == '*' {
				b.WriteByte('\\')
			}
			b.WriteByte(seg[j])
		}
	}
	b.WriteByte('"')
}

func (n *reNode) write(b *strings.Builder) {
	b.WriteString(n.field)
	if n.ne {
		b.WriteString(" ne ")
	} else {
		b.WriteString(" eq ")
	}
	if !n.quoted {
		b.WriteString(n.raw)
		return
	}
	// Escape the quotes a single-quoted pattern may hold bare; to RE2 `\"`
	// is the same literal quote.
	b.WriteByte('"')
	for i := 0; i < len(n.raw); i++ {
		switch c := n.raw[i]; c {
		case '\\':
			b.WriteByte(c)
			if i+1 < len(n.raw) {
				i++
				b.WriteByte(n.raw[i])
			}
			continue
		case '"':
			b.WriteByte('\\')
		}
		b.WriteByte(n.raw[i])
	}
	b.WriteByte('"')
}
