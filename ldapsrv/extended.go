package ldapsrv

// Extended operations answered by the guard (RFC 4511 §4.12).
const (
	oidStartTLS = "1.3.6.1.4.1.1466.20037"  // RFC 4511 §4.14
	oidWhoAmI   = "1.3.6.1.4.1.4203.1.11.3" // RFC 4532
)

const (
	identResponseName  = classContext | 10
	identResponseValue = classContext | 11
)

// extended answers an ExtendedRequest. Unknown operations get
// protocolError, as RFC 4511 §4.12 requires.
func (c *guardConn) extended(m message) (err error) {
	defer c.l.s.recoverOp("extended", &err)
	if m.unsupportedCritical() {
		return c.reply(result(m.id, opExtendedResponse, codeUnavailableCriticalExtension, ""))
	}
	switch string(m.op.children[0].value) {
	case oidWhoAmI:
		return c.reply(result(m.id, opExtendedResponse, codeSuccess, "",
			encString(identResponseValue, c.whoAmI())))
	case oidStartTLS:
		return c.answerStartTLS(m.id)
	}
	return c.reply(result(m.id, opExtendedResponse, codeProtocolError, "unsupported extended operation"))
}

// whoAmI is the authzId of RFC 4532 §2: "dn:" and the bound DN, or empty
// for anonymous.
func (c *guardConn) whoAmI() string {
	if c.id.kind == anonymous {
		return ""
	}
	return "dn:" + c.id.dn
}

func (c *guardConn) answerStartTLS(id int) error {
	switch {
	case c.tlsActive: // RFC 4511 §4.14.1
		return c.reply(result(id, opExtendedResponse, codeOperationsError, "TLS already established"))
	case c.l.s.tls == nil: // RFC 4511 §4.14.2
		return c.reply(result(id, opExtendedResponse, codeUnavailable, "TLS not configured"))
	}
	ok := result(id, opExtendedResponse, codeSuccess, "", encString(identResponseName, oidStartTLS))
	if err := c.reply(ok); err != nil {
		return err
	}
	return c.startTLS()
}

// recoverOp turns a panic in an operation the guard answers into a closed
// connection and an error log instead of a dead process.
func (s *Server) recoverOp(op string, err *error) {
	if r := recover(); r != nil {
		s.log.Error("ldap: handler panicked", "op", op, "panic", r)
		*err = invalidf("%s handler panicked", op)
	}
}
