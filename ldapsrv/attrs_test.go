package ldapsrv

import (
	"slices"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
)

func TestSearchExtraAttributes(t *testing.T) {
	t.Parallel()
	f, s := searchFixture(t, func(c *Config) { c.Attributes = []string{"displayName", "mailAlternateAddress"} })
	for user, attrs := range map[string]map[string][]string{
		aliceName: {"displayName": {"Alice Liddell"}, "mailAlternateAddress": {"alice@example.net", "al@example.org"}},
		"bob":     {"mailAlternateAddress": {"Bob@Example.net"}, "homePhone": {"555"}},
	} {
		for name, vals := range attrs {
			if err := f.manager.SetAttribute(t.Context(), user, name, vals); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := s.dial(t)
	bindCode(t, c, webmailDN, webmailPW)
	bobDN := "uid=bob,ou=people,dc=example,dc=org"
	tests := []struct {
		name, filter string
		want         []string
	}{
		{"finds a user by an alternate address", "(mailAlternateAddress=al@example.org)", []string{aliceDN}},
		{"finds a user by an alternate address ignoring case", "(mailAlternateAddress=bob@example.net)", []string{bobDN}},
		{"finds users by an OR over mail and the alternate address", "(|(mail=alice@example.net)(mailAlternateAddress=alice@example.net))", []string{aliceDN}},
		{"matches a substring of displayName", "(displayName=*Liddell)", []string{aliceDN}},
		{"does not match an attribute that is not configured", "(homePhone=555)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, code := search(t, c, baseDN, goldap.ScopeWholeSubtree, 0, tt.filter)
			if code != 0 || !slices.Equal(dns(got), tt.want) {
				t.Fatalf("search = %v (code %d), want %v", dns(got), code, tt.want)
			}
		})
	}
	t.Run("publishes configured attributes with their configured names", func(t *testing.T) {
		es, _ := search(t, c, baseDN, goldap.ScopeWholeSubtree, 0, "(uid=alice@example.org)")
		if got := es[0].GetAttributeValues("mailAlternateAddress"); !slices.Equal(got, []string{"al@example.org", "alice@example.net"}) {
			t.Fatalf("mailAlternateAddress = %v", got)
		}
		if got := es[0].GetAttributeValue("displayName"); got != "Alice Liddell" {
			t.Fatalf("displayName = %q", got)
		}
		for _, a := range es[0].Attributes {
			if a.Name == "homePhone" || a.Name == "homephone" {
				t.Fatalf("published an attribute that is not configured: %v", a.Name)
			}
		}
	})
}

func TestNewRefusesComputedExtraAttributes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.baseConfig()
	cfg.Attributes = []string{"Mail"}
	if _, err := New(cfg, f.engine, f.store, f.keyring, nil); err == nil {
		t.Fatal("New accepted mail as an extra attribute")
	}
}
