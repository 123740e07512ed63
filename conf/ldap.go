package conf

import (
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// LDAP configures the LDAP listener webmail servers bind to.
type LDAP struct {
	// Listen lists plain TCP addresses (StartTLS available when [ldap.tls]
	// is set); default ["127.0.0.1:1389"]; [] turns plain LDAP off.
	Listen []string `toml:"listen"`
	// LDAPSListen lists TCP addresses for LDAP over TLS; needs [ldap.tls].
	LDAPSListen []string `toml:"ldaps_listen"`
	// Service is the policy service binds are checked for; default webmail.
	Service string `toml:"service"`
	// BaseDN is the naming context; default "dc=example,dc=org".
	BaseDN string `toml:"base_dn"`
	// UserDNTemplates map bind DNs to user names; {user} marks the name.
	// The first one also names the entries searches return.
	UserDNTemplates []string `toml:"user_dn_templates"`
	// PlainBinds says who may bind without TLS: "loopback" (default),
	// "always" or "never".
	PlainBinds string `toml:"plain_binds"`
	// AnonymousSearch lets unbound clients search the user subtree.
	AnonymousSearch bool `toml:"anonymous_search"`
	// Networks narrow the service by client address, e.g. the IMAP
	// servers' network binds for service imap; default none.
	Networks []LDAPNetwork `toml:"networks"`
	// Attributes are extra per-user attributes ("otpgate user set-attr")
	// that entries publish and filters match; default none.
	Attributes []string `toml:"attributes"`

	MaxMessageSize int           `toml:"max_message_size"` // bytes, 1 KiB..1 MiB; default 16384
	MaxConns       int           `toml:"max_conns"`        // default 4096
	MaxConnsPerIP  int           `toml:"max_conns_per_ip"` // default 256
	IdleTimeout    time.Duration `toml:"idle_timeout"`     // default 2m
	MessageTimeout time.Duration `toml:"message_timeout"`  // time to finish one message; default 10s
	SizeLimit      int           `toml:"size_limit"`       // entries per search; default 500
	// ScanLimit bounds the users one search examines when its filter is
	// not an equality on uid, mail or cn, 1..10,000,000; default 100,000.
	ScanLimit int `toml:"scan_limit"`

	TLS             LDAPTLS              `toml:"tls"`
	ServiceAccounts []LDAPServiceAccount `toml:"service_accounts"`
}

// LDAPNetwork is one [[ldap.networks]] entry.
type LDAPNetwork struct {
	Network string `toml:"network"` // CIDR of the clients
	Service string `toml:"service"` // policy service their binds are checked for
}

// LDAPTLS names the certificate for StartTLS and LDAPS.
type LDAPTLS struct {
	CertFile string `toml:"cert_file"` // PEM chain
	KeyFile  string `toml:"key_file"`  // PEM key
}

// LDAPServiceAccount is a DN that may bind with a fixed password and search.
type LDAPServiceAccount struct {
	DN           string `toml:"dn"`
	PasswordHash string `toml:"password_hash"` // $argon2id$, $2b$, $6$ or {SSHA}
}

// Enabled reports whether TLS material is configured.
func (t LDAPTLS) Enabled() bool { return t.CertFile != "" }

var attrNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,63}$`)

func defaultLDAP() LDAP {
	return LDAP{
		Listen: []string{"127.0.0.1:1389"}, LDAPSListen: []string{}, Service: "webmail",
		BaseDN: "dc=example,dc=org", UserDNTemplates: []string{"uid={user},ou=people,dc=example,dc=org"},
		PlainBinds: "loopback", MaxMessageSize: 16384, MaxConns: 4096, MaxConnsPerIP: 256,
		IdleTimeout: 2 * time.Minute, MessageTimeout: 10 * time.Second, SizeLimit: 500, ScanLimit: 100000,
		ServiceAccounts: []LDAPServiceAccount{}, Attributes: []string{}, Networks: []LDAPNetwork{},
	}
}

func (ch *checker) ldap(l LDAP, services map[string]Service) {
	key := func(k ...string) toml.Key { return append(toml.Key{"ldap"}, k...) }
	for name, addrs := range map[string][]string{"listen": l.Listen, "ldaps_listen": l.LDAPSListen} {
		for i, addr := range addrs {
			if _, err := netip.ParseAddrPort(addr); err != nil {
				ch.addf(key(name), `entry %d (%q) is not an address:port such as "127.0.0.1:389"`, i+1, addr)
			}
		}
	}
	if len(l.LDAPSListen) > 0 && !l.TLS.Enabled() {
		ch.addf(key("ldaps_listen"), "needs [ldap.tls] cert_file and key_file")
	}
	if _, ok := services[l.Service]; !ok && (len(l.Listen) > 0 || len(l.LDAPSListen) > 0) {
		ch.addf(key("service"), "unknown service %q (see [services])", l.Service)
	}
	ch.nonEmpty(key("base_dn"), l.BaseDN)
	if len(l.UserDNTemplates) == 0 {
		ch.addf(key("user_dn_templates"), `needs at least one template such as "uid={user},ou=people,%s"`, l.BaseDN)
	}
	for i, tmpl := range l.UserDNTemplates {
		if strings.Count(tmpl, "{user}") != 1 || !strings.HasSuffix(strings.ToLower(tmpl), strings.ToLower(l.BaseDN)) {
			ch.addf(key("user_dn_templates"), "entry %d (%q) must contain {user} once and end with base_dn", i+1, tmpl)
		}
	}
	ch.oneOf(key("plain_binds"), l.PlainBinds, "loopback", "always", "never")
	for i, n := range l.Networks {
		k := func(f string) toml.Key { return toml.Key{"ldap", "networks", fmt.Sprint(i + 1), f} }
		if _, err := netip.ParsePrefix(n.Network); err != nil {
			ch.addf(k("network"), `%q is not a prefix such as "10.1.0.0/16"`, n.Network)
		}
		if _, ok := services[n.Service]; !ok {
			ch.addf(k("service"), "unknown service %q (see [services])", n.Service)
		}
	}
	for i, a := range l.Attributes {
		switch low := strings.ToLower(a); {
		case !attrNameRE.MatchString(a):
			ch.addf(key("attributes"), "entry %d (%q) is not an attribute name such as \"displayName\"", i+1, a)
		case low == "uid" || low == "cn" || low == "mail" || low == "objectclass" || low == "userpassword":
			ch.addf(key("attributes"), "entry %d (%q) is computed by otpgate and cannot be configured", i+1, a)
		}
	}
	ch.intRange(key("max_message_size"), int64(l.MaxMessageSize), 1024, 1<<20)
	ch.intRange(key("max_conns"), int64(l.MaxConns), 1, 1000000)
	ch.intRange(key("max_conns_per_ip"), int64(l.MaxConnsPerIP), 1, int64(max(l.MaxConns, 1)))
	ch.durRange(key("idle_timeout"), l.IdleTimeout, time.Second, 24*time.Hour)
	ch.durRange(key("message_timeout"), l.MessageTimeout, 100*time.Millisecond, 10*time.Minute)
	ch.intRange(key("size_limit"), int64(l.SizeLimit), 1, 100000)
	ch.intRange(key("scan_limit"), int64(l.ScanLimit), 1, 10_000_000)
	ch.ldapTLS(l.TLS)
	for i, sa := range l.ServiceAccounts {
		k := func(f string) toml.Key { return toml.Key{"ldap", "service_accounts", fmt.Sprint(i + 1), f} }
		ch.nonEmpty(k("dn"), sa.DN)
		if !strings.HasPrefix(sa.PasswordHash, "$") && !strings.HasPrefix(sa.PasswordHash, "{") {
			ch.addf(k("password_hash"), "must be a hash ($argon2id$..., $2b$..., $6$..., {SSHA}...), never a clear-text password")
		}
	}
}

func (ch *checker) ldapTLS(t LDAPTLS) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		ch.addf(toml.Key{"ldap", "tls", "cert_file"}, "set both cert_file and key_file, or neither")
		return
	}
	for field, path := range map[string]string{"cert_file": t.CertFile, "key_file": t.KeyFile} {
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			ch.addf(toml.Key{"ldap", "tls", field}, "%v", err)
		}
	}
}
