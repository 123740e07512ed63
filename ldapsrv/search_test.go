package ldapsrv

import (
	"fmt"
	"slices"
	"sort"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/verify"
)

// searchFixture has alice, bob, carol@example.org and o,hara@example.org
// and a server for service imap.
func searchFixture(t *testing.T, mutate func(*Config)) (*fixture, *testServer) {
	t.Helper()
	f := newFixture(t)
	for _, name := range []string{aliceName, "bob", "carol@example.org", "o,hara@example.org"} {
		f.user(name, alicePW, "", verify.LevelOff)
	}
	cfg := f.baseConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	return f, f.serve(cfg, nil)
}

func search(t *testing.T, c *goldap.Conn, base string, scope, size int, filter string, attrs ...string) ([]*goldap.Entry, int) {
	t.Helper()
	res, err := c.Search(goldap.NewSearchRequest(base, scope, goldap.NeverDerefAliases, size, 0, false, filter, attrs, nil))
	code := codeOf(t, err)
	if res == nil {
		return nil, code
	}
	return res.Entries, code
}

func dns(es []*goldap.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.DN)
	}
	sort.Strings(out)
	return out
}

func TestServiceAccountSearch(t *testing.T) {
	t.Parallel()
	_, s := searchFixture(t, nil)
	c := s.dial(t)
	if got := bindCode(t, c, webmailDN, webmailPW); got != 0 {
		t.Fatalf("bind = %d", got)
	}
	bobDN := "uid=bob,ou=people,dc=example,dc=org"
	carolDN := "uid=carol@example.org,ou=people,dc=example,dc=org"
	oharaDN := `uid=o\,hara@example.org,ou=people,dc=example,dc=org`
	tests := []struct {
		name   string
		base   string
		scope  int
		filter string
		want   []string
	}{
		{"finds a user by uid equality", baseDN, goldap.ScopeWholeSubtree, "(uid=alice@example.org)", []string{aliceDN}},
		{"finds a user by mail equality ignoring case", baseDN, goldap.ScopeWholeSubtree, "(mail=ALICE@example.org)", []string{aliceDN}},
		{"finds a user by cn inside an AND with objectClass", baseDN, goldap.ScopeWholeSubtree, "(&(objectClass=inetOrgPerson)(cn=bob))", []string{bobDN}},
		{"finds nobody for an unknown uid", baseDN, goldap.ScopeWholeSubtree, "(uid=nobody)", nil},
		{"escapes the DN of a name with a comma", baseDN, goldap.ScopeWholeSubtree, "(uid=o,hara@example.org)", []string{oharaDN}},
		{"matches an RFC 4515 escaped filter value", baseDN, goldap.ScopeWholeSubtree, `(uid=o\2chara@example.org)`, []string{oharaDN}},
		{"lists everyone by presence", baseDN, goldap.ScopeWholeSubtree, "(objectClass=*)", []string{aliceDN, bobDN, carolDN, oharaDN}},
		{"lists only users with mail by presence of mail", baseDN, goldap.ScopeWholeSubtree, "(mail=*)", []string{aliceDN, carolDN, oharaDN}},
		{"matches substrings", baseDN, goldap.ScopeWholeSubtree, "(uid=*@EXAMPLE.org)", []string{aliceDN, carolDN, oharaDN}},
		{"matches initial and any substrings", baseDN, goldap.ScopeWholeSubtree, "(uid=c*ol*)", []string{carolDN}},
		{"evaluates OR", baseDN, goldap.ScopeWholeSubtree, "(|(uid=bob)(mail=carol@example.org))", []string{bobDN, carolDN}},
		{"evaluates NOT", baseDN, goldap.ScopeWholeSubtree, "(&(objectClass=person)(!(mail=*)))", []string{bobDN}},
		{"returns entries one level below ou=people", testPeople, goldap.ScopeSingleLevel, "(uid=bob)", []string{bobDN}},
		{"returns no entries one level below the base DN", baseDN, goldap.ScopeSingleLevel, "(uid=bob)", nil},
		{"reads one entry by base scope", bobDN, goldap.ScopeBaseObject, "(objectClass=*)", []string{bobDN}},
		{"finds nothing for a non-matching filter", baseDN, goldap.ScopeWholeSubtree, "(uid=zz*)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, code := search(t, c, tt.base, tt.scope, 0, tt.filter)
			if code != 0 || !slices.Equal(dns(got), tt.want) {
				t.Fatalf("search = %v (code %d), want %v", dns(got), code, tt.want)
			}
		})
	}
}

func TestSearchEntryContents(t *testing.T) {
	t.Parallel()
	_, s := searchFixture(t, nil)
	c := s.dial(t)
	bindCode(t, c, webmailDN, webmailPW)

	t.Run("has objectClass, uid, cn and mail", func(t *testing.T) {
		es, _ := search(t, c, baseDN, goldap.ScopeWholeSubtree, 0, "(uid=alice@example.org)")
		e := es[0]
		if got := e.GetAttributeValues("objectClass"); !slices.Equal(got, []string{"top", "person", "organizationalPerson", "inetOrgPerson"}) {
			t.Fatalf("objectClass = %v", got)
		}
		for _, a := range []string{"uid", "cn", "mail"} {
			if got := e.GetAttributeValue(a); got != aliceName {
				t.Fatalf("%s = %q", a, got)
			}
		}
	})
	t.Run("has no mail without an @ in the name", func(t *testing.T) {
		es, _ := search(t, c, baseDN, goldap.ScopeWholeSubtree, 0, "(uid=bob)")
		if got := es[0].GetAttributeValues("mail"); len(got) != 0 {
			t.Fatalf("mail = %v", got)
		}
	})
	t.Run("returns only the requested attributes", func(t *testing.T) {
		es, _ := search(t, c, baseDN, goldap.ScopeWholeSubtree, 0, "(uid=alice@example.org)", "MAIL")
		if len(es[0].Attributes) != 1 || es[0].Attributes[0].Name != "mail" {
			t.Fatalf("attributes = %+v", es[0].Attributes)
		}
	})
	t.Run("returns no attributes for 1.1", func(t *testing.T) {
		es, _ := search(t, c, baseDN, goldap.ScopeWholeSubtree, 0, "(uid=alice@example.org)", "1.1")
		if len(es) != 1 || len(es[0].Attributes) != 0 {
			t.Fatalf("entries = %+v", es)
		}
	})
}

func TestSearchSizeLimit(t *testing.T) {
	t.Parallel()
	_, s := searchFixture(t, func(c *Config) { c.SizeLimit = 3 })
	c := s.dial(t)
	bindCode(t, c, webmailDN, webmailPW)

	t.Run("stops at the client's limit with sizeLimitExceeded", func(t *testing.T) {
		es, code := search(t, c, baseDN, goldap.ScopeWholeSubtree, 2, "(objectClass=*)")
		if code != 4 || len(es) != 2 {
			t.Fatalf("got %d entries, code %d; want 2, 4", len(es), code)
		}
	})
	t.Run("stops at the server's limit with sizeLimitExceeded", func(t *testing.T) {
		es, code := search(t, c, baseDN, goldap.ScopeWholeSubtree, 0, "(objectClass=*)")
		if code != 4 || len(es) != 3 {
			t.Fatalf("got %d entries, code %d; want 3, 4", len(es), code)
		}
	})
	t.Run("keeps the connection usable afterwards", func(t *testing.T) {
		es, code := search(t, c, baseDN, goldap.ScopeWholeSubtree, 0, "(uid=bob)")
		if code != 0 || len(es) != 1 {
			t.Fatalf("got %d entries, code %d", len(es), code)
		}
	})
}

func TestSearchAccessRules(t *testing.T) {
	t.Parallel()
	_, s := searchFixture(t, nil)

	t.Run("refuses anonymous subtree search with 50 and keeps the connection", func(t *testing.T) {
		t.Parallel()
		c := s.dial(t)
		if _, code := search(t, c, baseDN, goldap.ScopeWholeSubtree, 0, "(uid=bob)"); code != 50 {
			t.Fatalf("code %d, want 50", code)
		}
		if got := bindCode(t, c, webmailDN, webmailPW); got != 0 {
			t.Fatalf("bind after the refusal = %d", got)
		}
	})
	t.Run("lets a user read only their own entry", func(t *testing.T) {
		t.Parallel()
		c := s.dial(t)
		bindCode(t, c, aliceDN, alicePW)
		es, code := search(t, c, baseDN, goldap.ScopeWholeSubtree, 0, "(objectClass=*)")
		if code != 0 || !slices.Equal(dns(es), []string{aliceDN}) {
			t.Fatalf("got %v, code %d", dns(es), code)
		}
		if es, _ := search(t, c, baseDN, goldap.ScopeWholeSubtree, 0, "(uid=bob)"); len(es) != 0 {
			t.Fatalf("a user saw %v", dns(es))
		}
	})
	t.Run("answers noSuchObject outside the base DN", func(t *testing.T) {
		t.Parallel()
		c := s.dial(t)
		bindCode(t, c, webmailDN, webmailPW)
		if _, code := search(t, c, "dc=other,dc=org", goldap.ScopeWholeSubtree, 0, "(uid=bob)"); code != 32 {
			t.Fatalf("code %d, want 32", code)
		}
	})
	t.Run("answers noSuchObject for a missing user's DN", func(t *testing.T) {
		t.Parallel()
		c := s.dial(t)
		bindCode(t, c, webmailDN, webmailPW)
		if _, code := search(t, c, "uid=nobody,ou=people,dc=example,dc=org", goldap.ScopeBaseObject, 0, "(objectClass=*)"); code != 32 {
			t.Fatalf("code %d, want 32", code)
		}
	})
	t.Run("allows anonymous search when configured", func(t *testing.T) {
		t.Parallel()
		_, open := searchFixture(t, func(c *Config) { c.AllowAnonymousSearch = true })
		c := open.dial(t)
		if es, code := search(t, c, baseDN, goldap.ScopeWholeSubtree, 0, "(uid=bob)"); code != 0 || len(es) != 1 {
			t.Fatalf("got %d entries, code %d", len(es), code)
		}
	})
	t.Run("answers a critical unknown control with 12", func(t *testing.T) {
		t.Parallel()
		c := s.dial(t)
		bindCode(t, c, webmailDN, webmailPW)
		req := goldap.NewSearchRequest(baseDN, goldap.ScopeWholeSubtree, 0, 0, 0, false, "(uid=bob)", nil,
			[]goldap.Control{goldap.NewControlString("1.2.3.4.5", true, "")})
		_, err := c.Search(req)
		if got := codeOf(t, err); got != 12 {
			t.Fatalf("code %d, want 12", got)
		}
	})
	t.Run("ignores a non-critical unknown control", func(t *testing.T) {
		t.Parallel()
		c := s.dial(t)
		bindCode(t, c, webmailDN, webmailPW)
		req := goldap.NewSearchRequest(baseDN, goldap.ScopeWholeSubtree, 0, 0, 0, false, "(uid=bob)", nil,
			[]goldap.Control{goldap.NewControlString("1.2.3.4.5", false, "x")})
		if res, err := c.Search(req); err != nil || len(res.Entries) != 1 {
			t.Fatalf("search: %v", err)
		}
	})
}

func TestRootDSE(t *testing.T) {
	t.Parallel()
	_, s := searchFixture(t, nil)
	c := s.dial(t)
	es, code := search(t, c, "", goldap.ScopeBaseObject, 0, "(objectClass=*)")
	if code != 0 || len(es) != 1 {
		t.Fatalf("got %d entries, code %d", len(es), code)
	}
	e := es[0]
	if got := e.GetAttributeValue("namingContexts"); got != baseDN {
		t.Fatalf("namingContexts = %q", got)
	}
	if got := e.GetAttributeValue("supportedLDAPVersion"); got != "3" {
		t.Fatalf("supportedLDAPVersion = %q", got)
	}
	ext := e.GetAttributeValues("supportedExtension")
	if !slices.Contains(ext, oidStartTLS) || !slices.Contains(ext, oidWhoAmI) {
		t.Fatalf("supportedExtension = %v", ext)
	}
}

func TestSearchWithAnInvalidBaseDNGets34(t *testing.T) {
	t.Parallel()
	_, s := searchFixture(t, nil)
	c := s.dial(t)
	bindCode(t, c, webmailDN, webmailPW)
	if _, code := search(t, c, "uid=a+cn=b,dc=example,dc=org", goldap.ScopeWholeSubtree, 0, "(uid=bob)"); code != 34 {
		t.Fatalf("code %d, want 34", code)
	}
	if es, code := search(t, c, baseDN, goldap.ScopeWholeSubtree, 0, "(uid=bob)"); code != 0 || len(es) != 1 {
		t.Fatalf("the connection must stay usable: %d entries, code %d", len(es), code)
	}
}

func TestSearchWithPagedResults(t *testing.T) {
	t.Parallel()
	_, s := searchFixture(t, nil)
	c := s.dial(t)
	bindCode(t, c, webmailDN, webmailPW)

	t.Run("returns every entry across pages of one", func(t *testing.T) {
		req := goldap.NewSearchRequest(baseDN, goldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=*)", []string{"uid"}, nil)
		res, err := c.SearchWithPaging(req, 1)
		if err != nil || len(res.Entries) != 4 {
			t.Fatalf("paged search: %v, %d entries", err, len(res.Entries))
		}
	})
	t.Run("returns a cookie after a partial first page", func(t *testing.T) {
		ctl := goldap.NewControlPaging(3)
		req := goldap.NewSearchRequest(baseDN, goldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=*)", nil, []goldap.Control{ctl})
		res, err := c.Search(req)
		if err != nil || len(res.Entries) != 3 {
			t.Fatalf("first page: %v, %d entries", err, len(res.Entries))
		}
		pc, ok := goldap.FindControl(res.Controls, oidPagedResults).(*goldap.ControlPaging)
		if !ok || len(pc.Cookie) == 0 {
			t.Fatalf("no cookie in %v", res.Controls)
		}
	})
}

// A filter that is not an equality makes the server look at every user;
// it reads them a page (scanPage) at a time, so entries on later pages
// are found, and memory does not grow with the store.
func TestSearchOverAllUsersWalksEveryPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const n = 2*scanPage + 7
	for i := range n { // created directly: no password hash per user
		if _, err := f.store.CreateUser(t.Context(), verify.User{Name: fmt.Sprintf("u%04d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	s := f.serve(f.baseConfig(), nil)
	c := s.dial(t)
	bindCode(t, c, webmailDN, webmailPW)
	// One match on each page and one past the last full page.
	es, code := search(t, c, baseDN, goldap.ScopeWholeSubtree, 0, "(|(uid=u0007*)(uid=*0507)(uid=u1006*))")
	if got, want := dns(es), []string{
		"uid=u0007,ou=people,dc=example,dc=org", "uid=u0507,ou=people,dc=example,dc=org",
		"uid=u1006,ou=people,dc=example,dc=org"}; code != 0 || !slices.Equal(got, want) {
		t.Fatalf("code %d, entries %q; want 0, %q", code, got, want)
	}
	es, code = search(t, c, baseDN, goldap.ScopeWholeSubtree, 0, "(uid=u*)")
	if code != 4 || len(es) != 500 { // the default SizeLimit
		t.Fatalf("code %d with %d entries; want sizeLimitExceeded with 500", code, len(es))
	}
}

// A search that must look at every user stops after ScanLimit of them with
// adminLimitExceeded (11), returning what it found until then; a store of
// exactly ScanLimit users is searched whole.
func TestSearchOverAllUsersStopsAtTheScanLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const n = scanPage + 100
	for i := range n {
		if _, err := f.store.CreateUser(t.Context(), verify.User{Name: fmt.Sprintf("u%04d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		limit, code int
		want        []string
	}{
		{scanPage + 50, 11, []string{"uid=u0007,ou=people,dc=example,dc=org"}},
		{n, 0, []string{"uid=u0007,ou=people,dc=example,dc=org", "uid=u0580,ou=people,dc=example,dc=org"}},
		{5, 11, nil},
	} {
		cfg := f.baseConfig()
		cfg.ScanLimit = tc.limit
		c := f.serve(cfg, nil).dial(t)
		bindCode(t, c, webmailDN, webmailPW)
		es, code := search(t, c, baseDN, goldap.ScopeWholeSubtree, 0, "(|(uid=u0007*)(uid=u0580*))")
		if got := dns(es); code != tc.code || !slices.Equal(got, tc.want) {
			t.Errorf("scan limit %d: code %d, entries %q; want %d, %q", tc.limit, code, got, tc.code, tc.want)
		}
	}
}
