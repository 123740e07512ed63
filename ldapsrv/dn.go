package ldapsrv

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// rdn is one attribute=value pair of a DN with the type lower-cased and
// the value unescaped (RFC 4514). Multi-valued RDNs are not supported.
type rdn struct {
	typ string
	val string
}

var errDN = errors.New("invalid dn")

// parseDN parses an RFC 4514 string DN. The empty string is the empty DN.
// Unescaped spaces around types and values are ignored; '+' (multi-valued
// RDN) and '#' hex values are refused, as are values that are not UTF-8.
func parseDN(s string) ([]rdn, error) {
	var out []rdn
	for i := 0; i < len(s); {
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return nil, errDN
		}
		typ := strings.ToLower(strings.TrimSpace(s[i : i+eq]))
		if !validType(typ) {
			return nil, errDN
		}
		val, n, err := parseValue(s[i+eq+1:])
		if err != nil {
			return nil, err
		}
		out = append(out, rdn{typ: typ, val: val})
		i += eq + 1 + n
		if i < len(s) { // parseValue stopped at a ','
			i++
			if i == len(s) {
				return nil, errDN
			}
		}
	}
	return out, nil
}

func validType(t string) bool {
	if t == "" {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// parseValue reads an escaped value up to an unescaped ',' or the end and
// returns the unescaped value and the number of input bytes consumed
// (excluding the ',').
func parseValue(s string) (string, int, error) {
	var b strings.Builder
	significant := 0 // length of b without trailing unescaped spaces
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i < len(s) && s[i] == '#' {
		return "", 0, errDN
	}
	for ; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ',':
			return finishValue(b.String()[:significant], i)
		case ch == '+' || ch == '"' || ch == ';' || ch == '<' || ch == '>' || ch == 0:
			return "", 0, errDN
		case ch == '\\':
			c, n, err := unescapePair(s[i+1:])
			if err != nil {
				return "", 0, err
			}
			b.WriteByte(c)
			significant = b.Len()
			i += n
		default:
			b.WriteByte(ch)
			if ch != ' ' {
				significant = b.Len()
			}
		}
	}
	return finishValue(b.String()[:significant], i)
}

func finishValue(v string, n int) (string, int, error) {
	if v == "" || !utf8.ValidString(v) {
		return "", 0, errDN
	}
	return v, n, nil
}

// unescapePair decodes what follows a backslash: one special character or
// two hex digits (RFC 4514 §3 pair).
func unescapePair(s string) (byte, int, error) {
	if len(s) == 0 {
		return 0, 0, errDN
	}
	if strings.IndexByte(` "#+,;<=>\`, s[0]) >= 0 {
		return s[0], 1, nil
	}
	if len(s) >= 2 {
		hi, ok1 := unhex(s[0])
		lo, ok2 := unhex(s[1])
		if ok1 && ok2 {
			return hi<<4 | lo, 2, nil
		}
	}
	return 0, 0, errDN
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// escapeDNValue escapes v for use as an attribute value in a string DN
// (RFC 4514 §2.4): the specials anywhere, '#' or space at the start, space
// at the end, and NUL as \00.
func escapeDNValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		ch := v[i]
		switch {
		case ch == 0:
			b.WriteString(`\00`)
		case strings.IndexByte(`"+,;<=>\`, ch) >= 0,
			i == 0 && (ch == ' ' || ch == '#'),
			i == len(v)-1 && ch == ' ':
			b.WriteByte('\\')
			b.WriteByte(ch)
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// sameRDNs reports whether a and b name the same entry: equal types and
// values equal without regard to case (the naming attributes we use,
// uid/mail/cn/ou/dc, all match case-insensitively).
func sameRDNs(a, b []rdn) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].typ != b[i].typ || !strings.EqualFold(a[i].val, b[i].val) {
			return false
		}
	}
	return true
}

// under reports whether dn is base or below it.
func under(dn, base []rdn) bool {
	return len(dn) >= len(base) && sameRDNs(dn[len(dn)-len(base):], base)
}

const userPlaceholder = "{user}"

// dnTemplate is a configured user DN such as uid={user},ou=people,dc=x.
type dnTemplate struct {
	raw      string
	userType string
	suffix   []rdn
}

func parseTemplate(t string) (dnTemplate, error) {
	rdns, err := parseDN(t)
	if err != nil {
		return dnTemplate{}, err
	}
	if len(rdns) < 2 || rdns[0].val != userPlaceholder || strings.Count(t, userPlaceholder) != 1 {
		return dnTemplate{}, errors.New("the first RDN's value must be {user}, followed by a suffix")
	}
	return dnTemplate{raw: t, userType: rdns[0].typ, suffix: rdns[1:]}, nil
}

// match returns the user name if dn has this template's shape.
func (t dnTemplate) match(dn []rdn) (string, bool) {
	if len(dn) != 1+len(t.suffix) || dn[0].typ != t.userType || !sameRDNs(dn[1:], t.suffix) {
		return "", false
	}
	return dn[0].val, true
}

// format returns the DN of user under this template, value escaped.
func (t dnTemplate) format(user string) string {
	return strings.Replace(t.raw, userPlaceholder, escapeDNValue(user), 1)
}
