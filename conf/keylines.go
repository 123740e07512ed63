package conf

import (
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// keyLines maps key paths, in [toml.Key.String] form, to the 1-based line
// where each first appears. The TOML library keeps positions private, so
// errors about keys (unknown, wrong case, bad value) find their line here.
type keyLines struct {
	exact  map[string]int
	folded map[string]int // lower-cased paths, for keys written in the wrong case
}

// lineOf returns the line of key or, when key is absent from the file (a
// default value, a missing entry), of its nearest ancestor; 0 if none.
func (kl keyLines) lineOf(key toml.Key) int {
	for n := len(key); n > 0; n-- {
		path := key[:n].String()
		if line, ok := kl.exact[path]; ok {
			return line
		}
		if line, ok := kl.folded[strings.ToLower(path)]; ok {
			return line
		}
	}
	return 0
}

// scanKeyLines finds the lines of the table headers ([a.b], [[a]]) and keys
// (bare, quoted, dotted, inside inline tables) of a TOML document. It skips
// values, including multi-line strings and arrays, without interpreting them.
// On anything it does not understand it stops and keeps what it found, so
// lines may be missing but are never wrong for well-formed input.
func scanKeyLines(src string) keyLines {
	s := &lineScanner{src: src, line: 1, kl: keyLines{exact: map[string]int{}, folded: map[string]int{}}}
	s.document()
	return s.kl
}

type lineScanner struct {
	src   string
	pos   int
	line  int
	depth int // nesting of arrays and inline tables
	kl    keyLines
}

// maxScanDepth bounds the nesting the scanner follows, and so its recursion.
const maxScanDepth = 100

func (s *lineScanner) document() {
	var table toml.Key
	for s.skipBlank(true); s.pos < len(s.src); s.skipBlank(true) {
		ok := false
		if s.peek() == '[' {
			table, ok = s.header()
		} else {
			ok = s.keyValue(table, true)
		}
		if !ok {
			return
		}
	}
}

// header reads "[a.b]" or "[[a.b]]" and records its key.
func (s *lineScanner) header() (toml.Key, bool) {
	line := s.line
	s.pos++
	double := s.peek() == '['
	if double {
		s.pos++
	}
	s.skipBlank(false)
	key, ok := s.key()
	s.skipBlank(false)
	if !ok || !s.consume(']') || (double && !s.consume(']')) {
		return nil, false
	}
	s.record(key, line)
	return key, true
}

// keyValue reads "key = value", recording table+key when record is set.
func (s *lineScanner) keyValue(table toml.Key, record bool) bool {
	line := s.line
	key, ok := s.key()
	s.skipBlank(false)
	if !ok || !s.consume('=') {
		return false
	}
	s.skipBlank(false)
	full := append(append(toml.Key{}, table...), key...)
	if record {
		s.record(full, line)
	}
	return s.value(full, record)
}

// record notes line for key and for every implicit parent table.
func (s *lineScanner) record(key toml.Key, line int) {
	for n := 1; n <= len(key); n++ {
		path := key[:n].String()
		if _, seen := s.kl.exact[path]; !seen {
			s.kl.exact[path] = line
		}
		if _, seen := s.kl.folded[strings.ToLower(path)]; !seen {
			s.kl.folded[strings.ToLower(path)] = line
		}
	}
}

// key reads a dotted key of bare and quoted parts.
func (s *lineScanner) key() (toml.Key, bool) {
	var key toml.Key
	for {
		part, ok := s.simpleKey()
		if !ok {
			return nil, false
		}
		key = append(key, part)
		s.skipBlank(false)
		if !s.consume('.') {
			return key, true
		}
		s.skipBlank(false)
	}
}

func (s *lineScanner) simpleKey() (string, bool) {
	start := s.pos
	switch s.peek() {
	case '"':
		if !s.skipString('"') {
			return "", false
		}
		raw := s.src[start:s.pos]
		if unquoted, err := strconv.Unquote(raw); err == nil {
			return unquoted, true
		}
		return raw[1 : len(raw)-1], true
	case '\'':
		if !s.skipString('\'') {
			return "", false
		}
		return s.src[start+1 : s.pos-1], true
	}
	for s.pos < len(s.src) && isBareKeyChar(s.src[s.pos]) {
		s.pos++
	}
	return s.src[start:s.pos], s.pos > start
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// value skips one value; the keys of an inline table are recorded under
// path when record is set.
func (s *lineScanner) value(path toml.Key, record bool) bool {
	switch c := s.peek(); c {
	case '"', '\'':
		return s.skipString(c)
	case '[', '{':
		if s.depth >= maxScanDepth {
			return false
		}
		s.depth++
		defer func() { s.depth-- }()
		if c == '[' {
			return s.array()
		}
		return s.inlineTable(path, record)
	}
	start := s.pos
	for s.pos < len(s.src) && !strings.ContainsRune(",]}#\r\n", rune(s.src[s.pos])) {
		s.pos++
	}
	return strings.TrimSpace(s.src[start:s.pos]) != ""
}

// array skips "[v, v, ...]"; tables inside arrays are not recorded.
func (s *lineScanner) array() bool {
	s.pos++
	for {
		s.skipBlank(true)
		if s.consume(']') {
			return true
		}
		if !s.value(nil, false) {
			return false
		}
		s.skipBlank(true)
		if !s.consume(',') {
			s.skipBlank(true)
			return s.consume(']')
		}
	}
}

func (s *lineScanner) inlineTable(path toml.Key, record bool) bool {
	s.pos++
	for {
		s.skipBlank(true)
		if s.consume('}') {
			return true
		}
		if !s.keyValue(path, record) {
			return false
		}
		s.skipBlank(true)
		if !s.consume(',') {
			s.skipBlank(true)
			return s.consume('}')
		}
	}
}

// skipString skips a basic or literal string, single- or multi-line.
func (s *lineScanner) skipString(quote byte) bool {
	delim := string(quote)
	if strings.HasPrefix(s.src[s.pos:], strings.Repeat(delim, 3)) {
		delim = strings.Repeat(delim, 3)
	}
	s.pos += len(delim)
	for s.pos < len(s.src) {
		switch c := s.src[s.pos]; {
		case c == '\\' && quote == '"':
			s.advance()
			if s.pos < len(s.src) {
				s.advance()
			}
		case strings.HasPrefix(s.src[s.pos:], delim):
			s.pos += len(delim)
			for n := 0; len(delim) == 3 && n < 2 && s.peek() == quote; n++ {
				s.pos++ // up to two quotes may end a multi-line string: """a"""""
			}
			return true
		case c == '\n' && len(delim) == 1:
			return false
		default:
			s.advance()
		}
	}
	return false
}

// skipBlank skips spaces and tabs, and with newlines also line ends and
// comments.
func (s *lineScanner) skipBlank(newlines bool) {
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\t':
			s.pos++
		case '\r', '\n', '#':
			if !newlines {
				return
			}
			if s.src[s.pos] == '#' {
				for s.pos < len(s.src) && s.src[s.pos] != '\n' {
					s.pos++
				}
				continue
			}
			s.advance()
		default:
			return
		}
	}
}

func (s *lineScanner) advance() {
	if s.src[s.pos] == '\n' {
		s.line++
	}
	s.pos++
}

func (s *lineScanner) peek() byte {
	if s.pos < len(s.src) {
		return s.src[s.pos]
	}
	return 0
}

func (s *lineScanner) consume(c byte) bool {
	if s.peek() == c && s.pos < len(s.src) {
		s.pos++
		return true
	}
	return false
}
