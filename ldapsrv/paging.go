package ldapsrv

import "strconv"

// oidPagedResults is the Simple Paged Results control (RFC 2696), which
// address-book code in webmail servers and go-ldap's SearchWithPaging use.
const oidPagedResults = "1.2.840.113556.1.4.319"

// pageRequest is a decoded paged-results control.
type pageRequest struct {
	size   int
	offset int // decoded from our cookie: the number of entries already sent
}

// findPaging returns the paged-results control of m, if any. A malformed
// value is an error (answered with protocolError).
func findPaging(m message) (pageRequest, bool, error) {
	for _, c := range m.controls {
		if c.oid != oidPagedResults {
			continue
		}
		p, err := parsePaging(c.value)
		return p, true, err
	}
	return pageRequest{}, false, nil
}

// parsePaging decodes realSearchControlValue ::= SEQUENCE { size INTEGER,
// cookie OCTET STRING }. Our cookies are the decimal offset of the next
// entry; the server keeps no state, so a cookie only selects among
// entries the client may see anyway.
func parsePaging(value []byte) (pageRequest, error) {
	n, rest, err := parseElement(value, 0, 2)
	if err != nil || len(rest) != 0 || !n.is(identSequence) || len(n.children) != 2 ||
		!n.children[0].is(identInteger) || !n.children[1].is(identOctets) {
		return pageRequest{}, invalidf("paged results control value")
	}
	var p pageRequest
	if p.size, err = intValue(n.children[0]); err != nil {
		return pageRequest{}, err
	}
	if cookie := string(n.children[1].value); cookie != "" {
		if p.offset, err = strconv.Atoi(cookie); err != nil || p.offset < 0 {
			return pageRequest{}, invalidf("paged results cookie")
		}
	}
	return p, nil
}

// page cuts one page out of a complete result and returns the page, the
// result code for this page and the cookie for the next one ("" at the
// end). A page size of 0 abandons the paged search (RFC 2696 §3).
func page(entries []entry, code int, p pageRequest) ([]entry, int, string) {
	if p.size == 0 || p.offset >= len(entries) {
		if p.size == 0 {
			return nil, codeSuccess, ""
		}
		return nil, code, ""
	}
	end := p.offset + p.size
	if end >= len(entries) {
		return entries[p.offset:], code, ""
	}
	return entries[p.offset:end], codeSuccess, strconv.Itoa(end)
}

// pagingControl encodes the response control carrying the next cookie.
func pagingControl(cookie string) []byte {
	value := tlv(identSequence, encInt(identInteger, 0), encString(identOctets, cookie))
	return tlv(identSequence, encString(identOctets, oidPagedResults), tlv(identOctets, value))
}
