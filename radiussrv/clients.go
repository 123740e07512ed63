package radiussrv

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/otpgate/otpgate/verify"
)

// MAPolicy says when a client's Access-Requests must carry a
// Message-Authenticator (RFC 3579 §3.2, RFC 2869 §5.14).
type MAPolicy int

// Message-Authenticator policies. A Message-Authenticator that is present is
// always verified, whatever the policy.
const (
	// MARequired (the zero value, the default) drops every Access-Request
	// without a Message-Authenticator: the BlastRADIUS (CVE-2024-3596)
	// mitigation.
	MARequired MAPolicy = iota
	// MAAuto behaves like FreeRADIUS 3.2.5+: requests without a
	// Message-Authenticator are accepted until the first valid one arrives
	// from this client; from then on it is required.
	MAAuto
	// MAOff never requires a Message-Authenticator (except with
	// Proxy-State and for Status-Server).
	MAOff
)

func (p MAPolicy) String() string {
	switch p {
	case MARequired:
		return "true"
	case MAAuto:
		return "auto"
	case MAOff:
		return "false"
	}
	return fmt.Sprintf("MAPolicy(%d)", int(p))
}

// Client is one RADIUS client (NAS) entry.
type Client struct {
	Name      string        // unique, non-empty; labels logs
	Network   netip.Prefix  // source addresses this entry covers
	Secret    verify.Secret // shared secret, non-empty
	Service   string        // policy service of requests from this client
	RequireMA MAPolicy      // Message-Authenticator policy
	// Challenge enables Access-Challenge (RFC 2865 §4.4): a right first
	// factor alone is answered with a challenge asking for the OTP, and a
	// request carrying State is the answer to one. Without it, State is
	// ignored and the password field must hold everything.
	Challenge bool
	// ReplyClass, when set, is sent as Class (RFC 2865 §5.25) in
	// Access-Accept.
	ReplyClass string
	// ReplyMessage, when set, is sent as Reply-Message in Access-Accept.
	ReplyMessage string
}

// maxAttrLen is the longest attribute value RFC 2865 §5 allows.
const maxAttrLen = 253

// clientEntry is a validated Client with its run-time state.
type clientEntry struct {
	Client
	secret []byte
	// seenMA is shared between client tables for the same name, so an
	// MAAuto client that has proved it sends Message-Authenticator stays
	// required across SetClients.
	seenMA *atomic.Bool
}

// requiresMA reports whether a request without Message-Authenticator must
// be dropped.
func (c *clientEntry) requiresMA() bool {
	switch c.RequireMA {
	case MAOff:
		return false
	case MAAuto:
		return c.seenMA.Load()
	}
	return true
}

// clientTable is an immutable list of clients, most specific network first.
type clientTable struct {
	clients []*clientEntry
}

// lookup returns the client whose network covers addr most specifically,
// or nil.
func (t *clientTable) lookup(addr netip.Addr) *clientEntry {
	addr = addr.Unmap()
	for _, c := range t.clients {
		if c.Network.Contains(addr) {
			return c
		}
	}
	return nil
}

// byName returns the entry named name, or nil.
func (t *clientTable) byName(name string) *clientEntry {
	if t == nil {
		return nil
	}
	for _, c := range t.clients {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// newClientTable validates clients and builds a table. Every problem is
// reported at once. prev (may be nil) donates the MAAuto state of clients
// whose name and secret are unchanged.
func newClientTable(clients []Client, prev *clientTable) (*clientTable, error) {
	var errs []error
	addErrorf := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	names := map[string]bool{}
	networks := map[netip.Prefix]string{}
	t := &clientTable{}
	for i, c := range clients {
		switch {
		case c.Name == "":
			addErrorf("client %d: empty name", i)
		case names[c.Name]:
			addErrorf("client %q: duplicate name", c.Name)
		}
		names[c.Name] = true
		if !checkClient(c, addErrorf) {
			continue
		}
		c.Network = normalPrefix(c.Network)
		if other, dup := networks[c.Network]; dup {
			addErrorf("client %q: network %s already belongs to client %q", c.Name, c.Network, other)
		}
		networks[c.Network] = c.Name
		e := &clientEntry{Client: c, secret: []byte(c.Secret.Reveal()), seenMA: new(atomic.Bool)}
		if old := prev.byName(c.Name); old != nil && old.Secret == c.Secret {
			e.seenMA = old.seenMA
		}
		t.clients = append(t.clients, e)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("radiussrv: clients: %w", errors.Join(errs...))
	}
	slices.SortStableFunc(t.clients, func(a, b *clientEntry) int {
		return cmp.Compare(b.Network.Bits(), a.Network.Bits())
	})
	return t, nil
}

// checkClient reports c's own problems (not those between clients) and
// whether its network is usable.
func checkClient(c Client, addErrorf func(string, ...any)) (networkOK bool) {
	if c.Secret.Len() == 0 {
		addErrorf("client %q: empty secret", c.Name)
	}
	if c.RequireMA < MARequired || c.RequireMA > MAOff {
		addErrorf("client %q: invalid require_message_authenticator %d", c.Name, int(c.RequireMA))
	}
	if len(c.ReplyClass) > maxAttrLen || len(c.ReplyMessage) > maxAttrLen {
		addErrorf("client %q: reply class and message must be at most %d bytes", c.Name, maxAttrLen)
	}
	if !c.Network.IsValid() {
		addErrorf("client %q: invalid network", c.Name)
		return false
	}
	return true
}

// normalPrefix masks p and turns an IPv4-mapped IPv6 prefix
// (::ffff:a.b.c.d/n, n ≥ 96) into its IPv4 form, since lookups unmap the
// source address.
func normalPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked()
	}
	return p.Masked()
}
