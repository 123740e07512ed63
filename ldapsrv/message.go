package ldapsrv

// Protocol operations the guard lets through (RFC 4511 §4.2–§4.12), as
// identifier octets: APPLICATION class, constructed or primitive.
const (
	opBindRequest      = classApplication | constructedBit | 0
	opBindResponse     = classApplication | constructedBit | 1
	opUnbindRequest    = classApplication | 2
	opSearchRequest    = classApplication | constructedBit | 3
	opSearchEntry      = classApplication | constructedBit | 4
	opSearchDone       = classApplication | constructedBit | 5
	opAbandonRequest   = classApplication | 16
	opExtendedRequest  = classApplication | constructedBit | 23
	opExtendedResponse = classApplication | constructedBit | 24
)

const (
	identSequence = classUniversal | constructedBit | tagSequence
	identSet      = classUniversal | constructedBit | tagSet
	identOctets   = classUniversal | tagOctetString
	identInteger  = classUniversal | tagInteger
	identEnum     = classUniversal | tagEnumerated
	identBoolean  = classUniversal | tagBoolean
	identControls = classContext | constructedBit | 0
)

// oidManageDsaIT is honoured by doing nothing: with no referral objects in
// our tree it changes nothing (RFC 3296), and `ldapsearch -M` sends it.
// The other control we implement is paged results (paging.go).
const oidManageDsaIT = "2.16.840.1.113730.3.4.2"

// control is one decoded Control (RFC 4511 §4.1.11).
type control struct {
	oid      string
	critical bool
	value    []byte
	hasValue bool
}

// message is one validated LDAPMessage.
type message struct {
	id       int
	op       node
	opRaw    []byte // the protocolOp element as sent
	controls []control
}

// unsupportedCritical reports whether m carries a critical control the
// server does not implement (RFC 4511 §4.1.11: then the operation fails
// with unavailableCriticalExtension).
func (m message) unsupportedCritical() bool {
	for _, c := range m.controls {
		if c.critical && c.oid != oidManageDsaIT && c.oid != oidPagedResults {
			return true
		}
	}
	return false
}

// withoutControls re-encodes m with its controls removed, which is what
// the library sees: its control decoder panics on valid input.
func (m message) withoutControls() []byte {
	return tlv(identSequence, encInt(identInteger, m.id), m.opRaw)
}

// parseMessage validates a whole LDAPMessage envelope as read by
// readFrame: BER well-formedness (see parseElement), a messageID of 1–4
// octets, 2–3 elements, an operation we serve in the shape RFC 4511 gives
// it, and well-formed controls. Any violation returns an error wrapping
// errInvalid; the parsed result is then never shown to the library.
func parseMessage(frame []byte, maxDepth int) (message, error) {
	env, rest, err := parseElement(frame, 0, maxDepth)
	if err != nil {
		return message{}, err
	}
	if len(rest) != 0 || !env.is(identSequence) {
		return message{}, invalidf("envelope")
	}
	if len(env.children) < 2 || len(env.children) > 3 {
		return message{}, invalidf("message has %d elements", len(env.children))
	}
	var m message
	idNode := env.children[0]
	if !idNode.is(identInteger) {
		return message{}, invalidf("messageID is not an INTEGER")
	}
	if m.id, err = intValue(idNode); err != nil {
		return message{}, err
	}
	m.op = env.children[1]
	m.opRaw = opBytes(env.value)
	if err := checkOp(m.op); err != nil {
		return message{}, err
	}
	if len(env.children) == 3 {
		if m.controls, err = parseControls(env.children[2]); err != nil {
			return message{}, err
		}
	}
	return m, nil
}

// opBytes returns the second element of an already validated envelope's
// content.
func opBytes(content []byte) []byte {
	_, rest, _ := parseElement(content, 0, 1<<30) // validated before
	_, after, _ := parseElement(rest, 0, 1<<30)
	return rest[:len(rest)-len(after)]
}

func checkOp(op node) error {
	switch op.ident {
	case opBindRequest:
		return checkBind(op)
	case opUnbindRequest:
		if len(op.value) != 0 {
			return invalidf("unbind with content")
		}
		return nil
	case opAbandonRequest:
		if len(op.value) < 1 || len(op.value) > 4 {
			return invalidf("abandon of %d octets", len(op.value))
		}
		return nil
	case opSearchRequest:
		return checkSearch(op)
	case opExtendedRequest:
		return checkExtended(op)
	}
	return invalidf("operation %#x not served", op.ident)
}

// checkBind: BindRequest ::= [APPLICATION 0] SEQUENCE { version INTEGER,
// name LDAPDN, authentication CHOICE { simple [0], sasl [3] } }.
func checkBind(op node) error {
	c := op.children
	if len(c) != 3 || !c[0].is(identInteger) || !c[1].is(identOctets) {
		return invalidf("bind request shape")
	}
	switch c[2].ident {
	case classContext | 0: // simple
		return nil
	case classContext | constructedBit | 3: // sasl: the library answers 48
		if len(c[2].children) < 1 || len(c[2].children) > 2 || !c[2].children[0].is(identOctets) {
			return invalidf("sasl credentials shape")
		}
		return nil
	}
	return invalidf("bind authentication %#x", c[2].ident)
}

// checkSearch checks the eight fields of a SearchRequest (RFC 4511 §4.5.1)
// for type; the filter is decoded, depth-bounded, by decodeFilter.
func checkSearch(op node) error {
	c := op.children
	if len(c) != 8 || !c[0].is(identOctets) || !c[1].is(identEnum) || !c[2].is(identEnum) ||
		!c[3].is(identInteger) || !c[4].is(identInteger) || !c[5].is(identBoolean) ||
		!c[7].is(identSequence) {
		return invalidf("search request shape")
	}
	for _, a := range c[7].children {
		if !a.is(identOctets) {
			return invalidf("search attribute is not an OCTET STRING")
		}
	}
	return nil
}

// checkExtended: ExtendedRequest ::= [APPLICATION 23] SEQUENCE {
// requestName [0] LDAPOID, requestValue [1] OCTET STRING OPTIONAL }.
func checkExtended(op node) error {
	c := op.children
	if len(c) < 1 || len(c) > 2 || !c[0].is(classContext|0) || (len(c) == 2 && !c[1].is(classContext|1)) {
		return invalidf("extended request shape")
	}
	return nil
}

// parseControls: Controls ::= [0] SEQUENCE OF Control { controlType
// LDAPOID, criticality BOOLEAN DEFAULT FALSE, controlValue OCTET STRING
// OPTIONAL }.
func parseControls(n node) ([]control, error) {
	if !n.is(identControls) {
		return nil, invalidf("third element is not controls")
	}
	out := make([]control, 0, len(n.children))
	for _, cn := range n.children {
		c, err := parseControl(cn)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func parseControl(n node) (control, error) {
	if !n.is(identSequence) || len(n.children) < 1 || len(n.children) > 3 || !n.children[0].is(identOctets) {
		return control{}, invalidf("control shape")
	}
	c := control{oid: string(n.children[0].value)}
	rest := n.children[1:]
	if len(rest) > 0 && rest[0].is(identBoolean) {
		c.critical = rest[0].value[0] != 0
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0].is(identOctets) {
		c.value, c.hasValue = rest[0].value, true
		rest = rest[1:]
	}
	if len(rest) != 0 {
		return control{}, invalidf("control shape")
	}
	return c, nil
}

// Response encoders (RFC 4511 §4.1.9 LDAPResult).

func envelope(id int, op []byte, controls ...[]byte) []byte {
	if len(controls) == 0 {
		return tlv(identSequence, encInt(identInteger, id), op)
	}
	return tlv(identSequence, encInt(identInteger, id), op, tlv(identControls, controls...))
}

// result encodes an LDAPResult-shaped response with extra trailing fields.
func result(id int, opIdent byte, code int, diagnostic string, extra ...[]byte) []byte {
	return envelope(id, resultOp(opIdent, code, diagnostic, extra...))
}

func resultOp(opIdent byte, code int, diagnostic string, extra ...[]byte) []byte {
	fields := [][]byte{encInt(identEnum, code), encString(identOctets, ""), encString(identOctets, diagnostic)}
	return tlv(opIdent, append(fields, extra...)...)
}
