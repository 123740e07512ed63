package bench

import (
	"errors"
	"net"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/verify"
)

// ldapClient is one worker's LDAP client. With persistent connections it
// keeps one connection and binds on it again and again (as a webmail
// server's pool does), redialling after an error; otherwise every bind
// dials, binds and unbinds.
type ldapClient struct {
	o    *Options
	conn *goldap.Conn // nil between binds, or after an error
}

func newLDAPClient(o *Options) *ldapClient { return &ldapClient{o: o} }

// Close closes the persistent connection, if any.
func (c *ldapClient) Close() error {
	if c.conn != nil {
		err := c.conn.Close()
		c.conn = nil
		return err
	}
	return nil
}

func (c *ldapClient) dial() error {
	d := &net.Dialer{Timeout: c.o.Timeout}
	conn, err := goldap.DialURL("ldap://"+c.o.Addr, goldap.DialWithDialer(d))
	if err != nil {
		return err
	}
	conn.SetTimeout(c.o.Timeout)
	c.conn = conn
	return nil
}

// do binds as user with password and classifies the result: 0 accept, 49
// reject, any other result code or a network failure an error.
func (c *ldapClient) do(user string, password verify.Secret) outcome {
	if c.conn == nil {
		if err := c.dial(); err != nil {
			return classifyLDAPErr(err)
		}
	}
	dn := strings.ReplaceAll(c.o.BindDNTemplate, "{user}", goldap.EscapeDN(user))
	_, err := c.conn.SimpleBind(&goldap.SimpleBindRequest{Username: dn, Password: password.Reveal()})
	res := classifyLDAPErr(err)
	if c.o.NewConnPerBind || res == outcomeError || res == outcomeTimeout {
		if c.o.NewConnPerBind && res != outcomeError && res != outcomeTimeout {
			_ = c.conn.Unbind() // the polite "quit"; it closes the connection
		} else {
			_ = c.conn.Close()
		}
		c.conn = nil
	}
	return res
}

// classifyLDAPErr maps a bind's error to an outcome.
func classifyLDAPErr(err error) outcome {
	if err == nil {
		return outcomeAccept
	}
	var le *goldap.Error
	if errors.As(err, &le) && le.ResultCode == goldap.LDAPResultInvalidCredentials {
		return outcomeReject
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || strings.Contains(err.Error(), "timed out") {
		return outcomeTimeout
	}
	return outcomeError
}
