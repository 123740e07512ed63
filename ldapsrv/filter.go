package ldapsrv

import "strings"

// Filter choices (RFC 4511 §4.5.1.7), as identifier octets.
const (
	filterAnd        = classContext | constructedBit | 0
	filterOr         = classContext | constructedBit | 1
	filterNot        = classContext | constructedBit | 2
	filterEquality   = classContext | constructedBit | 3
	filterSubstrings = classContext | constructedBit | 4
	filterGreater    = classContext | constructedBit | 5
	filterLess       = classContext | constructedBit | 6
	filterPresent    = classContext | 7
	filterApprox     = classContext | constructedBit | 8
	filterExtensible = classContext | constructedBit | 9
)

// filter is a decoded search filter. Values are raw octets: the string
// form's RFC 4515 escapes were resolved by the client.
type filter struct {
	kind    byte
	attr    string // canonical lower-case name (see canonicalAttr)
	value   string
	initial string
	any     []string
	final   string
	subs    []filter
}

// decodeFilter decodes a filter element already checked by parseElement
// (so its depth is bounded). A shape error gives errInvalid, answered
// with protocolError.
func decodeFilter(n node) (filter, error) {
	f := filter{kind: n.ident}
	switch n.ident {
	case filterAnd, filterOr, filterNot:
		if n.ident == filterNot && len(n.children) != 1 {
			return filter{}, invalidf("not filter with %d children", len(n.children))
		}
		for _, c := range n.children {
			sub, err := decodeFilter(c)
			if err != nil {
				return filter{}, err
			}
			f.subs = append(f.subs, sub)
		}
	case filterEquality, filterGreater, filterLess, filterApprox:
		if len(n.children) != 2 || !n.children[0].is(identOctets) || !n.children[1].is(identOctets) {
			return filter{}, invalidf("attribute value assertion shape")
		}
		f.attr, f.value = canonicalAttr(string(n.children[0].value)), string(n.children[1].value)
	case filterPresent:
		f.attr = canonicalAttr(string(n.value))
	case filterSubstrings:
		return decodeSubstrings(n)
	case filterExtensible:
		// Not supported: evaluates to Undefined.
	default:
		return filter{}, invalidf("filter choice %#x", n.ident)
	}
	return f, nil
}

func decodeSubstrings(n node) (filter, error) {
	if len(n.children) != 2 || !n.children[0].is(identOctets) || !n.children[1].is(identSequence) ||
		len(n.children[1].children) == 0 {
		return filter{}, invalidf("substrings filter shape")
	}
	f := filter{kind: filterSubstrings, attr: canonicalAttr(string(n.children[0].value))}
	parts := n.children[1].children
	for i, p := range parts {
		switch {
		case p.is(classContext|0) && i == 0:
			f.initial = string(p.value)
		case p.is(classContext | 1):
			f.any = append(f.any, string(p.value))
		case p.is(classContext|2) && i == len(parts)-1:
			f.final = string(p.value)
		default:
			return filter{}, invalidf("substrings filter part %#x", p.ident)
		}
	}
	return f, nil
}

// attrOIDs maps the numeric forms of the attributes we serve to names.
var attrOIDs = map[string]string{
	"2.5.4.0":                    "objectclass",
	"2.5.4.3":                    "cn",
	"0.9.2342.19200300.100.1.1":  "uid",
	"0.9.2342.19200300.100.1.3":  "mail",
	"1.2.840.113549.1.9.1":       "mail",
	"2.5.4.49":                   "distinguishedname",
	"0.9.2342.19200300.100.1.25": "dc",
}

// canonicalAttr lower-cases an attribute description, drops options
// (";lang-en") and maps OIDs to names.
func canonicalAttr(desc string) string {
	if i := strings.IndexByte(desc, ';'); i >= 0 {
		desc = desc[:i]
	}
	desc = strings.ToLower(desc)
	if name, ok := attrOIDs[desc]; ok {
		return name
	}
	return desc
}

// tri is three-valued filter logic (RFC 4511 §4.5.1.7).
type tri int

const (
	triFalse tri = iota
	triTrue
	triUndefined
)

// match evaluates f against e. All our attributes use case-insensitive
// matching rules (caseIgnoreMatch, caseIgnoreIA5Match, objectIdentifier
// names).
func (f filter) match(e entry) tri {
	switch f.kind {
	case filterAnd:
		return f.matchAll(e)
	case filterOr:
		return f.matchAny(e)
	case filterNot:
		switch f.subs[0].match(e) {
		case triTrue:
			return triFalse
		case triFalse:
			return triTrue
		}
		return triUndefined
	case filterPresent:
		return boolTri(e.values(f.attr) != nil)
	case filterExtensible:
		return triUndefined
	}
	vals := e.values(f.attr)
	if vals == nil {
		return triFalse
	}
	for _, v := range vals {
		if f.matchValue(v) {
			return triTrue
		}
	}
	return triFalse
}

func (f filter) matchAll(e entry) tri {
	out := triTrue
	for _, s := range f.subs {
		switch s.match(e) {
		case triFalse:
			return triFalse
		case triUndefined:
			out = triUndefined
		}
	}
	return out
}

func (f filter) matchAny(e entry) tri {
	out := triFalse
	for _, s := range f.subs {
		switch s.match(e) {
		case triTrue:
			return triTrue
		case triUndefined:
			out = triUndefined
		}
	}
	return out
}

func (f filter) matchValue(v string) bool {
	lv, want := strings.ToLower(v), strings.ToLower(f.value)
	switch f.kind {
	case filterEquality, filterApprox:
		return lv == want
	case filterGreater:
		return lv >= want
	case filterLess:
		return lv <= want
	case filterSubstrings:
		return matchSubstrings(lv, strings.ToLower(f.initial), f.any, strings.ToLower(f.final))
	}
	return false
}

func matchSubstrings(v, initial string, anys []string, final string) bool {
	if !strings.HasPrefix(v, initial) {
		return false
	}
	v = v[len(initial):]
	for _, a := range anys {
		la := strings.ToLower(a)
		i := strings.Index(v, la)
		if i < 0 {
			return false
		}
		v = v[i+len(la):]
	}
	return len(v) >= len(final) && strings.HasSuffix(v, final)
}

func boolTri(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

// equalityKey returns the value of an equality on uid, mail or cn that f
// requires (f itself or a conjunct of an AND), so the search can look the
// user up directly instead of listing everyone.
func (f filter) equalityKey() (string, bool) {
	switch f.kind {
	case filterEquality:
		if f.attr == "uid" || f.attr == "mail" || f.attr == "cn" {
			return f.value, true
		}
	case filterAnd:
		for _, s := range f.subs {
			if v, ok := s.equalityKey(); ok {
				return v, true
			}
		}
	}
	return "", false
}

// extraEquality returns an equality on one of the extra attributes that f
// requires (f itself or a conjunct of an AND), so the search can use
// UsersByAttribute instead of listing everyone.
func (f filter) extraEquality(extra map[string]string) (attr, value string, ok bool) {
	switch f.kind {
	case filterEquality:
		if _, ok := extra[f.attr]; ok {
			return f.attr, f.value, true
		}
	case filterAnd:
		for _, s := range f.subs {
			if a, v, ok := s.extraEquality(extra); ok {
				return a, v, true
			}
		}
	}
	return "", "", false
}
