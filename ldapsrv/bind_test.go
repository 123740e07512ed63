package ldapsrv

import (
	"net"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/verify"
)

func TestBind(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.user(aliceName, alicePW, "", verify.LevelOff)
	f.user("o,hara@example.org", "pw-of-ohara", "", verify.LevelOff)
	f.user("locked", "right-pw", "", verify.LevelOff)
	s := f.serve(f.baseConfig(), nil)

	tests := []struct {
		name, dn, pw string
		want         int
	}{
		{"accepts the password by uid DN", aliceDN, alicePW, 0},
		{"accepts the password by mail DN", "mail=alice@example.org,ou=people,dc=example,dc=org", alicePW, 0},
		{"matches attribute names and suffix without regard to case", "UID=alice@example.org, OU=People,DC=Example,DC=ORG", alicePW, 0},
		{"accepts a bare user name", aliceName, alicePW, 0},
		{"unescapes an RFC 4514 escaped comma", `uid=o\,hara@example.org,ou=people,dc=example,dc=org`, "pw-of-ohara", 0},
		{"unescapes an RFC 4514 hex pair", `uid=o\2chara@example.org,ou=people,dc=example,dc=org`, "pw-of-ohara", 0},
		{"rejects a wrong password with 49", aliceDN, "wrong", 49},
		{"rejects an unknown user with 49", "uid=nobody,ou=people,dc=example,dc=org", "whatever", 49},
		{"rejects a DN outside the templates with 49", "uid=alice@example.org,ou=other,dc=example,dc=org", alicePW, 49},
		{"answers an empty password with 53", aliceDN, "", 53},
		{"accepts the service account", webmailDN, webmailPW, 0},
		{"rejects a wrong service account password with 49", webmailDN, "nope", 49},
		{"accepts an anonymous bind", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := s.dial(t)
			if got := bindCode(t, c, tt.dn, tt.pw); got != tt.want {
				t.Fatalf("result = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestBindPINPlusTOTPOnWebmail(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.totpUser("bob", "bobs-password", "ab12")
	cfg := f.baseConfig()
	cfg.Service = "webmail"
	s := f.serve(cfg, nil)
	c := s.dial(t)
	dn := "uid=bob,ou=people,dc=example,dc=org"

	t.Run("rejects the account password where the level needs PIN+OTP", func(t *testing.T) {
		if got := bindCode(t, c, dn, "bobs-password"); got != 49 {
			t.Fatalf("result = %d, want 49", got)
		}
	})
	code := f.code()
	t.Run("accepts PIN plus the current TOTP code", func(t *testing.T) {
		if got := bindCode(t, c, dn, "ab12"+code); got != 0 {
			t.Fatalf("result = %d, want 0", got)
		}
	})
	t.Run("rejects the same code again", func(t *testing.T) {
		if got := bindCode(t, c, dn, "ab12"+code); got != 49 {
			t.Fatalf("result = %d, want 49", got)
		}
	})
}

func TestBindLockedOutUserGets49(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.user(aliceName, alicePW, "", verify.LevelOff)
	s := f.serve(f.baseConfig(), nil)
	c := s.dial(t)
	for range 10 {
		if got := bindCode(t, c, aliceDN, "wrong"); got != 49 {
			t.Fatalf("failed bind = %d", got)
		}
	}
	if got := bindCode(t, c, aliceDN, alicePW); got != 49 {
		t.Fatalf("locked-out bind with the right password = %d, want 49", got)
	}
}

func TestBindWithTheStoreClosedGets52(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.user(aliceName, alicePW, "", verify.LevelOff)
	s := f.serve(f.baseConfig(), nil)
	c := s.dial(t)
	f.store.Close()
	if got := bindCode(t, c, aliceDN, alicePW); got != 52 {
		t.Fatalf("result = %d, want 52", got)
	}
	if got := bindCode(t, c, webmailDN, webmailPW); got != 0 {
		t.Fatalf("the connection must stay usable: service bind = %d", got)
	}
	if _, err := c.Search(goldap.NewSearchRequest(baseDN, goldap.ScopeWholeSubtree, 0, 0, 0, false,
		"(uid=alice@example.org)", nil, nil)); codeOf(t, err) != 52 {
		t.Fatalf("search with the store closed: %v, want 52", err)
	}
}

func TestRebindOnOneConnection(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.user(aliceName, alicePW, "", verify.LevelOff)
	s := f.serve(f.baseConfig(), nil)
	c := s.dial(t)
	steps := []struct {
		dn, pw string
		want   int
		whoami string
	}{
		{webmailDN, webmailPW, 0, "dn:" + webmailDN},
		{aliceDN, alicePW, 0, "dn:" + aliceDN},
		{aliceName, alicePW, 0, "dn:" + aliceDN},
		{webmailDN, webmailPW, 0, "dn:" + webmailDN},
		{"", "", 0, ""},
	}
	for i, st := range steps {
		if got := bindCode(t, c, st.dn, st.pw); got != st.want {
			t.Fatalf("step %d: bind = %d", i, got)
		}
		if got := whoami(t, c); got != st.whoami {
			t.Fatalf("step %d: whoami = %q, want %q", i, got, st.whoami)
		}
	}
}

func TestFailedBindLeavesTheConnectionAnonymous(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.user(aliceName, alicePW, "", verify.LevelOff)
	s := f.serve(f.baseConfig(), nil)
	c := s.dial(t)
	if got := bindCode(t, c, webmailDN, webmailPW); got != 0 {
		t.Fatalf("service bind = %d", got)
	}
	if got := bindCode(t, c, aliceDN, "wrong"); got != 49 {
		t.Fatalf("failed bind = %d", got)
	}
	if got := whoami(t, c); got != "" {
		t.Fatalf("whoami after a failed bind = %q, want anonymous", got)
	}
	_, err := c.Search(goldap.NewSearchRequest(baseDN, goldap.ScopeWholeSubtree, 0, 0, 0, false,
		"(uid=alice@example.org)", nil, nil))
	if got := codeOf(t, err); got != 50 {
		t.Fatalf("search after a failed bind = %d, want 50", got)
	}
}

func TestPlainBindFromANonLoopbackClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.user(aliceName, alicePW, "", verify.LevelOff)
	remote := func(ln net.Listener) net.Listener { return remoteListener{Listener: ln, from: "192.0.2.7"} }
	s := f.serve(f.baseConfig(), remote)

	t.Run("is refused with confidentialityRequired", func(t *testing.T) {
		t.Parallel()
		c := s.dial(t)
		if got := bindCode(t, c, aliceDN, alicePW); got != 13 {
			t.Fatalf("result = %d, want 13", got)
		}
		if got := bindCode(t, c, webmailDN, webmailPW); got != 13 {
			t.Fatalf("service account result = %d, want 13", got)
		}
	})
	t.Run("is accepted after StartTLS", func(t *testing.T) {
		t.Parallel()
		c := s.dial(t)
		if err := c.StartTLS(clientTLS()); err != nil {
			t.Fatal(err)
		}
		if got := bindCode(t, c, aliceDN, alicePW); got != 0 {
			t.Fatalf("result = %d, want 0", got)
		}
	})
	t.Run("is accepted when the policy allows plain binds", func(t *testing.T) {
		t.Parallel()
		cfg := f.baseConfig()
		cfg.AllowPlainBinds = PlainAlways
		s2 := f.serve(cfg, remote)
		if got := bindCode(t, s2.dial(t), aliceDN, alicePW); got != 0 {
			t.Fatalf("result = %d, want 0", got)
		}
	})
	t.Run("from loopback is refused when the policy says never", func(t *testing.T) {
		t.Parallel()
		cfg := f.baseConfig()
		cfg.AllowPlainBinds = PlainNever
		s3 := f.serve(cfg, nil)
		if got := bindCode(t, s3.dial(t), aliceDN, alicePW); got != 13 {
			t.Fatalf("result = %d, want 13", got)
		}
	})
}

func TestResultCodeMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dec  verify.Decision
		want int
	}{
		{"maps accept to success", verify.Decision{Outcome: verify.Accept}, 0},
		{"maps reject to invalidCredentials", verify.Decision{Outcome: verify.Reject, Reason: verify.ReasonBadPassword}, 49},
		{"maps a lockout to invalidCredentials", verify.Decision{Outcome: verify.Reject, Reason: verify.ReasonLocked}, 49},
		{"maps unavailable to 52", verify.Decision{Outcome: verify.Unavailable}, 52},
		{"maps challenge to invalidCredentials", verify.Decision{Outcome: verify.Challenge}, 49},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := resultCode(tt.dec); got != tt.want {
				t.Fatalf("resultCode = %d, want %d", got, tt.want)
			}
		})
	}
}

func whoami(t testing.TB, c *goldap.Conn) string {
	t.Helper()
	r, err := c.WhoAmI(nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.AuthzID
}

func TestSASLBindIsRefusedAndLeavesTheConnectionAnonymous(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.serve(f.baseConfig(), nil)
	c := s.dial(t)
	if got := bindCode(t, c, webmailDN, webmailPW); got != 0 {
		t.Fatalf("service bind = %d", got)
	}
	if got := codeOf(t, c.ExternalBind()); got != 48 {
		t.Fatalf("SASL EXTERNAL bind = %d, want 48", got)
	}
	if got := whoami(t, c); got != "" {
		t.Fatalf("whoami after a refused SASL bind = %q, want anonymous", got)
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"rejects a missing service", func(c *Config) { c.Service = "" }},
		{"rejects a malformed base DN", func(c *Config) { c.BaseDN = "dc=example,,dc=org" }},
		{"rejects an empty base DN", func(c *Config) { c.BaseDN = "" }},
		{"rejects no user templates", func(c *Config) { c.UserDNTemplates = nil }},
		{"rejects a template without {user}", func(c *Config) { c.UserDNTemplates = []string{"ou=people,dc=example,dc=org"} }},
		{"rejects a service account without a hash", func(c *Config) { c.ServiceAccounts[0].PasswordHash = "" }},
		{"rejects a service account with a malformed DN", func(c *Config) { c.ServiceAccounts[0].DN = "cn" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := f.baseConfig()
			tt.mutate(&cfg)
			if _, err := New(cfg, f.engine, f.store, f.keyring, nil); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
	if _, err := New(f.baseConfig(), nil, f.store, f.keyring, nil); err == nil {
		t.Fatal("New without an authenticator succeeded")
	}
}
