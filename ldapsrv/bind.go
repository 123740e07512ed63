package ldapsrv

import (
	"net"
	"net/netip"
	"strings"

	"github.com/nmcclain/ldap"

	"github.com/otpgate/otpgate/verify"
)

// LDAP result codes we send (RFC 4511 Appendix A).
const (
	codeSuccess                      = 0
	codeOperationsError              = 1
	codeProtocolError                = 2
	codeSizeLimitExceeded            = 4
	codeAdminLimitExceeded           = 11
	codeUnavailableCriticalExtension = 12
	codeConfidentialityRequired      = 13
	codeNoSuchObject                 = 32
	codeInvalidDNSyntax              = 34
	codeInvalidCredentials           = 49
	codeInsufficientAccessRights     = 50
	codeUnavailable                  = 52
	codeUnwillingToPerform           = 53
)

// identityKind is who a connection is bound as.
type identityKind int

const (
	anonymous identityKind = iota
	serviceIdentity
	userIdentity
)

// identity is a connection's authorization state. The zero value is
// anonymous, which is what every bind starts from (RFC 4511 §4.2.1).
type identity struct {
	kind identityKind
	dn   string // canonical DN: the configured one or the first template's
	user string // the verify user name for userIdentity
}

// resultCode maps an engine decision to an LDAP bind result. It is the one
// place this mapping exists. Every refusal, including a locked-out user,
// is invalidCredentials so that the answer is no oracle; a decision the
// engine could not make is unavailable so that the webmail server does not
// tell the user the password was wrong.
func resultCode(d verify.Decision) int {
	switch d.Outcome {
	case verify.Accept:
		return codeSuccess
	case verify.Unavailable:
		return codeUnavailable
	}
	return codeInvalidCredentials // Reject, and Challenge: LDAP cannot ask again
}

// binder is the library's Bind handler.
type binder struct{ s *Server }

// Bind implements ldap.Binder. It never returns an error (the library
// would turn it into operationsError and log it) and recovers panics.
func (b binder) Bind(dn, password string, conn net.Conn) (code ldap.LDAPResultCode, _ error) {
	defer func() {
		if r := recover(); r != nil {
			b.s.log.Error("ldap: bind handler panicked", "panic", r)
			code = codeOperationsError
		}
	}()
	c, ok := conn.(*guardConn)
	if !ok {
		return codeOperationsError, nil
	}
	return ldap.LDAPResultCode(b.s.bind(c, dn, verify.Secret(password))), nil
}

// bind runs one simple bind on c and returns the result code. The
// connection is anonymous unless the bind succeeds.
func (s *Server) bind(c *guardConn, dn string, pw verify.Secret) int {
	c.id = identity{}
	switch {
	case dn == "" && pw.Len() == 0:
		return codeSuccess // RFC 4513 §5.1.1 anonymous
	case pw.Len() == 0:
		return codeUnwillingToPerform // RFC 4513 §5.1.2 unauthenticated bind
	case !c.tlsActive && !s.plainAllowed(c.remote):
		return codeConfidentialityRequired // RFC 4513 §6.3.1
	}
	if acct, ok := s.serviceAccount(dn); ok {
		if !s.creds.CheckPassword(acct.hash, pw) {
			s.audit(c, dn, "service-account", "reject")
			return codeInvalidCredentials
		}
		c.id = identity{kind: serviceIdentity, dn: acct.dn}
		s.audit(c, dn, "service-account", "accept")
		return codeSuccess
	}
	user, ok := s.userFromBindName(dn)
	if !ok {
		s.audit(c, dn, "unknown-dn", "reject")
		return codeInvalidCredentials
	}
	dec := s.auth.Verify(c.l.ctx, verify.Request{User: user, Password: pw, Service: s.serviceFor(c.remote),
		Protocol: verify.ProtoLDAP, Client: c.remote, Stage: verify.StageFull})
	code := resultCode(dec)
	if code == codeSuccess {
		c.id = identity{kind: userIdentity, dn: s.templates[0].format(user), user: user}
	}
	return code
}

// audit logs binds the engine does not see (service accounts, unusable
// DNs); user binds are audited by the engine.
func (s *Server) audit(c *guardConn, dn, kind, outcome string) {
	s.log.Info("ldap bind", "proto", verify.ProtoLDAP, "service", s.cfg.Service, "remote", c.remote.String(),
		"dn", dn, "kind", kind, "outcome", outcome)
}

// plainAllowed applies AllowPlainBinds to a client without TLS.
func (s *Server) plainAllowed(addr netip.Addr) bool {
	switch s.cfg.AllowPlainBinds {
	case PlainAlways:
		return true
	case PlainNever:
		return false
	}
	return addr.IsLoopback()
}

func (s *Server) serviceAccount(dn string) (serviceAccount, bool) {
	rdns, err := parseDN(dn)
	if err != nil || len(rdns) == 0 {
		return serviceAccount{}, false
	}
	for _, a := range *s.accounts.Load() {
		if sameRDNs(rdns, a.rdns) {
			return a, true
		}
	}
	return serviceAccount{}, false
}

// userFromBindName returns the user a bind name designates: the value of
// a DN matching a user template, or a bare name or address (no '=').
func (s *Server) userFromBindName(name string) (string, bool) {
	if !strings.Contains(name, "=") {
		return name, name != ""
	}
	rdns, err := parseDN(name)
	if err != nil {
		return "", false
	}
	return s.userFromDN(rdns)
}

func (s *Server) userFromDN(rdns []rdn) (string, bool) {
	for _, t := range s.templates {
		if user, ok := t.match(rdns); ok {
			return user, true
		}
	}
	return "", false
}
