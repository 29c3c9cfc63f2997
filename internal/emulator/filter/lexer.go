package filter

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// scanner reads the filter on demand. The parser drives it rather than
// consuming a token stream because the two dialects tokenise values
// differently: an AIP bare value may hold ':' (timestamps), a bare regex
// may hold '(' and '|', and neither can be told apart without knowing which
// comparator came before.
type scanner struct {
	src string
	pos int
}

func (s *scanner) eof() bool { return s.pos >= len(s.src) }

// peek returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.pos]
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isQuote(c byte) bool { return c == '"' || c == '\'' }

func (s *scanner) skipSpace() {
	for !s.eof() && isSpace(s.src[s.pos]) {
		s.pos++
	}
}

// isWordRune says what may appear in a field name or keyword. Label keys
// allow lower-case letters of any script, digits, '_' and '-'; '.' separates
// path segments.
func isWordRune(r rune) bool {
	return r == '_' || r == '-' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// word scans a field name or keyword; "" if none starts here.
func (s *scanner) word() string {
	start := s.pos
	for !s.eof() {
		r, n := utf8.DecodeRuneInString(s.src[s.pos:])
		if r == utf8.RuneError || !isWordRune(r) {
			break
		}
		s.pos += n
	}
	return s.src[start:s.pos]
}

// peekWord returns the word at the current position without consuming it.
func (s *scanner) peekWord() string {
	save := s.pos
	w := s.word()
	s.pos = save
	return w
}

// quoted scans a '...' or "..." string starting at the opening quote and
// returns its content with escapes left as written: the AIP dialect decodes
// them, the regex dialect hands them to RE2 untouched (gcloud escapes the
// regex itself: `\bweb\-v1\b`).
func (s *scanner) quoted() (raw string, ok bool) {
	q := s.src[s.pos]
	start := s.pos + 1
	for i := start; i < len(s.src); i++ {
		switch s.src[i] {
		case '\\':
			i++ // the escaped byte never closes the string
		case q:
			s.pos = i + 1
			return s.src[start:i], true
		}
	}
	return "", false
}

// bareAIP scans an unquoted AIP value: everything up to white space, a
// parenthesis, a quote or a comparator character. ':' is allowed so that
// `creationTimestamp > 2026-01-01T00:00:00Z` works.
func (s *scanner) bareAIP() string {
	start := s.pos
	for !s.eof() {
		c := s.src[s.pos]
		if isSpace(c) || isQuote(c) || strings.IndexByte("()=<>!", c) >= 0 {
			break
		}
		s.pos++
	}
	return s.src[start:s.pos]
}

// bareRegex scans an unquoted regex: everything up to white space or a ')'
// that closes a parenthesis opened before the regex, so that
// `(name eq (web|db)-.*)(status eq READY)` splits where a reader expects.
func (s *scanner) bareRegex() string {
	start, depth := s.pos, 0
scan:
	for !s.eof() {
		switch c := s.src[s.pos]; {
		case isSpace(c):
			break scan
		case c == '\\':
			s.pos++ // keep the escaped byte, whatever it is
		case c == '(':
			depth++
		case c == ')':
			if depth == 0 {
				break scan
			}
			depth--
		}
		s.pos++
	}
	if s.pos > len(s.src) { // a trailing backslash stepped past the end
		s.pos = len(s.src)
	}
	return s.src[start:s.pos]
}

// comparator scans an operator: the AIP symbols or the regex words eq/ne.
// The words must be followed by white space or a quote (or the end, which
// then fails as a missing value) so that a field named "equal" is not one.
func (s *scanner) comparator() (op, bool) {
	for _, c := range [...]struct {
		text string
		op   op
	}{{"<=", opLE}, {">=", opGE}, {"!=", opNE}, {"=", opEQ}, {"<", opLT}, {">", opGT}, {":", opHas}} {
		if strings.HasPrefix(s.src[s.pos:], c.text) {
			s.pos += len(c.text)
			return c.op, true
		}
	}
	switch w := s.peekWord(); w {
	case "eq", "ne":
		if end := s.pos + len(w); end == len(s.src) || isSpace(s.src[end]) || isQuote(s.src[end]) {
			s.pos = end
			if w == "eq" {
				return opREq, true
			}
			return opRNe, true
		}
	}
	return 0, false
}
