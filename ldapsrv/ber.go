package ldapsrv

import (
	"errors"
	"fmt"
	"io"
)

// BER identifier classes (X.690 §8.1.2).
const (
	classUniversal   = 0x00
	classApplication = 0x40
	classContext     = 0x80
	constructedBit   = 0x20
)

// Universal tags the LDAP grammar uses (RFC 4511 §5.1).
const (
	tagBoolean     = 0x01
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagNull        = 0x05
	tagEnumerated  = 0x0a
	tagSequence    = 0x10
	tagSet         = 0x11
)

// errInvalid is the root of every guard rejection; the connection that sent
// the offending bytes is closed and nothing else happens.
var errInvalid = errors.New("ldapsrv: invalid message")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errInvalid, fmt.Sprintf(format, args...))
}

// node is one decoded BER element. For a constructed element children holds
// its elements and value its whole content; for a primitive one value holds
// the content octets. value aliases the message buffer.
type node struct {
	ident    byte // the identifier octet as sent (class | constructed | tag)
	value    []byte
	children []node
}

func (n node) constructed() bool { return n.ident&constructedBit != 0 }

// is reports whether n has exactly the given identifier octet.
func (n node) is(ident byte) bool { return n.ident == ident }

// parseLength decodes a definite length at b (X.690 §8.1.3) and returns the
// length and the number of octets it took. The indefinite form and more
// than four length octets are refused; the length is not checked against
// any buffer here.
func parseLength(b []byte) (length, size int, err error) {
	if len(b) == 0 {
		return 0, 0, invalidf("missing length")
	}
	first := b[0]
	if first < 0x80 {
		return int(first), 1, nil
	}
	n := int(first & 0x7f)
	switch {
	case n == 0:
		return 0, 0, invalidf("indefinite length")
	case n > 4:
		return 0, 0, invalidf("length of %d octets", n)
	case len(b) < 1+n:
		return 0, 0, invalidf("truncated length")
	}
	var l uint64
	for _, c := range b[1 : 1+n] {
		l = l<<8 | uint64(c)
	}
	if l > 1<<30 {
		return 0, 0, invalidf("length %d", l)
	}
	return int(l), 1 + n, nil
}

// parseElement decodes one element at the start of b. Children must fill
// their parent exactly, depth is bounded by maxDepth, the high-tag form is
// refused, and universal elements must have the form X.690 prescribes
// (SEQUENCE and SET constructed, everything else primitive) with sane
// lengths for BOOLEAN, INTEGER and ENUMERATED.
func parseElement(b []byte, depth, maxDepth int) (n node, rest []byte, err error) {
	if depth > maxDepth {
		return node{}, nil, invalidf("nesting deeper than %d", maxDepth)
	}
	if len(b) < 2 {
		return node{}, nil, invalidf("truncated element")
	}
	n.ident = b[0]
	if n.ident&0x1f == 0x1f {
		return node{}, nil, invalidf("high-tag-number form")
	}
	length, size, err := parseLength(b[1:])
	if err != nil {
		return node{}, nil, err
	}
	start := 1 + size
	if length > len(b)-start {
		return node{}, nil, invalidf("element length %d exceeds its parent", length)
	}
	n.value = b[start : start+length]
	rest = b[start+length:]
	if err := checkUniversal(n); err != nil {
		return node{}, nil, err
	}
	if n.constructed() {
		n.children, err = parseChildren(n.value, depth+1, maxDepth)
	}
	return n, rest, err
}

func parseChildren(b []byte, depth, maxDepth int) ([]node, error) {
	var out []node
	for len(b) > 0 {
		child, rest, err := parseElement(b, depth, maxDepth)
		if err != nil {
			return nil, err
		}
		out = append(out, child)
		b = rest
	}
	return out, nil
}

func checkUniversal(n node) error {
	if n.ident&0xc0 != classUniversal {
		return nil
	}
	tag := n.ident & 0x1f
	wantConstructed := tag == tagSequence || tag == tagSet
	if n.constructed() != wantConstructed {
		return invalidf("universal tag %d in the wrong form", tag)
	}
	switch tag {
	case tagBoolean:
		if len(n.value) != 1 {
			return invalidf("BOOLEAN of %d octets", len(n.value))
		}
	case tagInteger, tagEnumerated:
		if len(n.value) < 1 || len(n.value) > 8 {
			return invalidf("INTEGER of %d octets", len(n.value))
		}
	case tagNull:
		if len(n.value) != 0 {
			return invalidf("NULL with content")
		}
	}
	return nil
}

// intValue decodes a non-negative INTEGER or ENUMERATED that fits in 31
// bits; anything else is invalid for LDAP's messageID, version, scope and
// limits (RFC 4511 §4.1.1: MessageID ::= INTEGER (0 .. maxInt)).
func intValue(n node) (int, error) {
	if n.constructed() || len(n.value) < 1 || len(n.value) > 4 || n.value[0]&0x80 != 0 {
		return 0, invalidf("integer out of range")
	}
	v := 0
	for _, c := range n.value {
		v = v<<8 | int(c)
	}
	return v, nil
}

// readFrame reads one whole LDAPMessage envelope from r without trusting
// its length: the claimed length is checked against limit before anything
// is allocated, so a 6-byte claim of 2 GiB costs nothing.
// firstByte is called after the first octet arrived, so the caller can
// switch from the idle deadline to the per-message deadline.
func readFrame(r io.Reader, limit int, firstByte func()) ([]byte, error) {
	var hdr [6]byte
	if _, err := io.ReadFull(r, hdr[:1]); err != nil {
		return nil, err
	}
	if firstByte != nil {
		firstByte()
	}
	if hdr[0] != classUniversal|constructedBit|tagSequence {
		return nil, invalidf("message tag %#x", hdr[0])
	}
	if _, err := io.ReadFull(r, hdr[1:2]); err != nil {
		return nil, err
	}
	n := 0
	if hdr[1] > 0x80 && hdr[1] <= 0x84 {
		n = int(hdr[1] & 0x7f)
		if _, err := io.ReadFull(r, hdr[2:2+n]); err != nil {
			return nil, err
		}
	}
	length, _, err := parseLength(hdr[1 : 2+n])
	if err != nil {
		return nil, err
	}
	total := 2 + n + length
	if total > limit {
		return nil, invalidf("message of %d octets exceeds the limit %d", total, limit)
	}
	buf := make([]byte, total)
	copy(buf, hdr[:2+n])
	if _, err := io.ReadFull(r, buf[2+n:]); err != nil {
		return nil, err
	}
	return buf, nil
}

// Encoding. The encoders build definite-length BER as LDAP requires
// (RFC 4511 §5.1): only the definite form and minimal lengths.

func appendLength(dst []byte, l int) []byte {
	switch {
	case l < 0x80:
		return append(dst, byte(l))
	case l < 0x100:
		return append(dst, 0x81, byte(l))
	case l < 0x10000:
		return append(dst, 0x82, byte(l>>8), byte(l))
	case l < 0x1000000:
		return append(dst, 0x83, byte(l>>16), byte(l>>8), byte(l))
	}
	return append(dst, 0x84, byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
}

// tlv encodes one element with the given identifier and content.
func tlv(ident byte, content ...[]byte) []byte {
	size := 0
	for _, c := range content {
		size += len(c)
	}
	out := make([]byte, 0, size+6)
	out = append(out, ident)
	out = appendLength(out, size)
	for _, c := range content {
		out = append(out, c...)
	}
	return out
}

// encInt encodes a non-negative integer with the minimal number of octets.
func encInt(ident byte, v int) []byte {
	var b []byte
	for {
		b = append([]byte{byte(v)}, b...)
		v >>= 8
		if v == 0 {
			break
		}
	}
	if b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	return tlv(ident, b)
}

func encString(ident byte, s string) []byte { return tlv(ident, []byte(s)) }
