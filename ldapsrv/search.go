package ldapsrv

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/otpgate/otpgate/verify"
)

// Search scopes (RFC 4511 §4.5.1.2).
const (
	scopeBase = 0
	scopeOne  = 1
	scopeSub  = 2
)

// searchRequest is a decoded SearchRequest; derefAliases and timeLimit are
// ignored (we have no aliases and searches are bounded by SizeLimit).
type searchRequest struct {
	base      []rdn
	rootDSE   bool
	scope     int
	sizeLimit int
	typesOnly bool
	filter    filter
	attrs     []string
}

// entry is one search result.
type entry struct {
	dn    string
	rdns  []rdn
	attrs []attribute
}

type attribute struct {
	name  string   // as published
	canon string   // canonicalAttr(name)
	vals  []string // never nil
}

// values returns the values of the attribute with canonical name canon, or
// nil if e has none.
func (e entry) values(canon string) []string {
	for _, a := range e.attrs {
		if a.canon == canon {
			return a.vals
		}
	}
	return nil
}

// search answers a SearchRequest itself: the library would ignore a
// result code unless the handler returned an error, and then close the
// connection. Every outcome here is a SearchResultDone with the right
// code on a connection that stays open.
func (s *Server) search(c *guardConn, m message) (frames [][]byte) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("ldap: search handler panicked", "panic", r)
			frames = [][]byte{result(m.id, opSearchDone, codeOperationsError, "")}
		}
	}()
	if m.unsupportedCritical() {
		return [][]byte{result(m.id, opSearchDone, codeUnavailableCriticalExtension, "")}
	}
	req, err := decodeSearch(m.op)
	switch {
	case errors.Is(err, errDN):
		return [][]byte{result(m.id, opSearchDone, codeInvalidDNSyntax, "invalid base DN")}
	case err != nil:
		return [][]byte{result(m.id, opSearchDone, codeProtocolError, "malformed search request")}
	}
	paging, paged, err := findPaging(m)
	if err != nil {
		return [][]byte{result(m.id, opSearchDone, codeProtocolError, "malformed paged results control")}
	}
	ctx, cancel := context.WithTimeout(c.l.ctx, s.cfg.MessageTimeout)
	defer cancel()
	entries, code := s.runSearch(ctx, c.id, req)
	var cookie string
	if paged {
		entries, code, cookie = page(entries, code, paging)
	}
	for _, e := range entries {
		frames = append(frames, encodeEntry(m.id, e, req))
	}
	done := resultOp(opSearchDone, code, "")
	if paged {
		return append(frames, envelope(m.id, done, pagingControl(cookie)))
	}
	return append(frames, envelope(m.id, done))
}

func decodeSearch(op node) (searchRequest, error) {
	c := op.children // shape checked by checkSearch
	var req searchRequest
	var err error
	if req.base, err = parseDN(string(c[0].value)); err != nil {
		return req, err
	}
	req.rootDSE = len(req.base) == 0
	if req.scope, err = intValue(c[1]); err != nil || req.scope > scopeSub {
		return req, invalidf("scope")
	}
	if req.sizeLimit, err = intValue(c[3]); err != nil {
		return req, err
	}
	req.typesOnly = c[5].value[0] != 0
	if req.filter, err = decodeFilter(c[6]); err != nil {
		return req, err
	}
	for _, a := range c[7].children {
		req.attrs = append(req.attrs, string(a.value))
	}
	return req, nil
}

// runSearch applies the access rules and returns the entries and the
// result code. RootDSE is open to everyone; the subtree to service
// accounts, to a user for their own entry, and to anonymous only with
// AllowAnonymousSearch.
func (s *Server) runSearch(ctx context.Context, id identity, req searchRequest) ([]entry, int) {
	if req.rootDSE {
		if req.scope != scopeBase {
			return nil, codeNoSuchObject
		}
		root := s.rootDSE()
		if req.filter.match(root) != triTrue {
			return nil, codeSuccess
		}
		return []entry{root}, codeSuccess
	}
	if id.kind == anonymous && !s.cfg.AllowAnonymousSearch {
		return nil, codeInsufficientAccessRights
	}
	if !under(req.base, s.baseDN) {
		return nil, codeNoSuchObject
	}
	users, all, code := s.candidates(ctx, id, req)
	if code != codeSuccess {
		return nil, code
	}
	c := collector{s: s, req: req, limit: s.cfg.SizeLimit}
	if req.sizeLimit > 0 && req.sizeLimit < c.limit {
		c.limit = req.sizeLimit
	}
	if all {
		code = c.scan(ctx)
	} else {
		code = c.add(ctx, users)
	}
	if code != codeSuccess && code != codeSizeLimitExceeded && code != codeAdminLimitExceeded {
		return nil, code // no partial answer on errors
	}
	return c.out, code
}

// scanPage is how many users a search that must look at everyone reads at
// a time: memory stays bounded however many users the store holds.
const scanPage = 500

// collector gathers the entries of one search up to the size limit.
type collector struct {
	s     *Server
	req   searchRequest
	limit int
	out   []entry
}

// add filters users by scope and filter into c.out. It returns
// codeSuccess to go on, or the code that ends the search.
func (c *collector) add(ctx context.Context, users []verify.User) int {
	for _, u := range users {
		e, err := c.s.userEntry(ctx, u)
		if err != nil {
			c.s.log.Error("ldap: user attributes failed", "user", u.Name, "err", err)
			return codeUnavailable
		}
		if !inScope(e.rdns, c.req.base, c.req.scope) || c.req.filter.match(e) != triTrue {
			continue
		}
		if len(c.out) == c.limit {
			return codeSizeLimitExceeded
		}
		c.out = append(c.out, e)
	}
	return codeSuccess
}

// scan walks all users page by page, stopping at the size limit, or with
// adminLimitExceeded when there are more than ScanLimit users to examine
// (a search by a bound service account must not cost seconds of CPU on a
// large store).
func (c *collector) scan(ctx context.Context) int {
	after := ""
	for left := c.s.cfg.ScanLimit; ; {
		want := min(scanPage, left+1) // one past the limit tells whether there are more
		page, err := c.s.dir.UsersAfter(ctx, after, want)
		if err != nil {
			c.s.log.Error("ldap: list users failed", "err", err)
			return codeUnavailable
		}
		over := len(page) > left
		if over {
			page = page[:left]
		}
		left -= len(page)
		if code := c.add(ctx, page); code != codeSuccess {
			return code
		}
		if over {
			c.s.log.Warn("ldap: search ended at the scan limit", "scan_limit", c.s.cfg.ScanLimit)
			return codeAdminLimitExceeded
		}
		if len(page) < want {
			return codeSuccess // that was the last page
		}
		after = page[len(page)-1].Name
	}
}

func inScope(dn, base []rdn, scope int) bool {
	switch scope {
	case scopeBase:
		return sameRDNs(dn, base)
	case scopeOne:
		return len(dn) == len(base)+1 && under(dn, base)
	}
	return under(dn, base)
}

// candidates returns the users a search may return before scope and
// filter: the user's own entry for a user, the entry named by a
// base-scope DN, a direct lookup for an equality on uid/mail/cn, else
// all = true: every user (read page by page by the caller).
func (s *Server) candidates(ctx context.Context, id identity, req searchRequest) (users []verify.User, all bool, code int) {
	if id.kind == userIdentity {
		users, code = s.lookup(ctx, id.user, codeSuccess)
		return users, false, code
	}
	if req.scope == scopeBase {
		if name, ok := s.userFromDN(req.base); ok {
			users, code = s.lookup(ctx, name, codeNoSuchObject)
			return users, false, code
		}
		return nil, false, codeSuccess // a container: it has no entry of its own here
	}
	if name, ok := req.filter.equalityKey(); ok {
		users, code = s.lookup(ctx, name, codeSuccess)
		return users, false, code
	}
	if attr, value, ok := req.filter.extraEquality(s.extra); ok {
		users, code = s.byAttribute(ctx, attr, value)
		return users, false, code
	}
	return nil, true, codeSuccess
}

// byAttribute finds the users with an extra attribute value (the store
// ignores case; the filter still decides).
func (s *Server) byAttribute(ctx context.Context, attr, value string) ([]verify.User, int) {
	users, err := s.dir.UsersByAttribute(ctx, attr, value)
	if err != nil {
		s.log.Error("ldap: attribute lookup failed", "attribute", attr, "err", err)
		return nil, codeUnavailable
	}
	return users, codeSuccess
}

// lookup finds one user by exact name, then by its lower-case form (the
// store compares byte-wise, LDAP matching ignores case). missing is the
// code when there is no such user.
func (s *Server) lookup(ctx context.Context, name string, missing int) ([]verify.User, int) {
	u, err := s.dir.UserByName(ctx, name)
	if errors.Is(err, verify.ErrNotFound) && strings.ToLower(name) != name {
		u, err = s.dir.UserByName(ctx, strings.ToLower(name))
	}
	switch {
	case errors.Is(err, verify.ErrNotFound):
		return nil, missing
	case err != nil:
		s.log.Error("ldap: user lookup failed", "user", name, "err", err)
		return nil, codeUnavailable
	}
	return []verify.User{u}, codeSuccess
}

// computedAttrs are built from the user record, never stored.
var computedAttrs = map[string]bool{"objectclass": true, "uid": true, "cn": true, "mail": true, "userpassword": true}

// userEntry is the directory entry of u: DN from the first template,
// inetOrgPerson, uid and cn = name, mail = name when it has an '@', plus
// the configured extra attributes the user has.
func (s *Server) userEntry(ctx context.Context, u verify.User) (entry, error) {
	t := s.templates[0]
	e := entry{dn: t.format(u.Name), rdns: append([]rdn{{typ: t.userType, val: u.Name}}, t.suffix...)}
	e.attrs = []attribute{
		{name: "objectClass", canon: "objectclass", vals: []string{"top", "person", "organizationalPerson", "inetOrgPerson"}},
		{name: "uid", canon: "uid", vals: []string{u.Name}},
		{name: "cn", canon: "cn", vals: []string{u.Name}},
	}
	if strings.Contains(u.Name, "@") {
		e.attrs = append(e.attrs, attribute{name: "mail", canon: "mail", vals: []string{u.Name}})
	}
	if len(s.extra) == 0 {
		return e, nil
	}
	stored, err := s.dir.UserAttributes(ctx, u.ID)
	if err != nil {
		return entry{}, err
	}
	for _, canon := range slices.Sorted(maps.Keys(s.extra)) {
		if vals := stored[canon]; len(vals) > 0 {
			e.attrs = append(e.attrs, attribute{name: s.extra[canon], canon: canon, vals: vals})
		}
	}
	return e, nil
}

// rootDSE describes the server (RFC 4512 §5.1).
func (s *Server) rootDSE() entry {
	ext := []string{oidWhoAmI}
	if s.tls != nil {
		ext = append([]string{oidStartTLS}, ext...)
	}
	return entry{attrs: []attribute{
		{name: "objectClass", canon: "objectclass", vals: []string{"top"}},
		{name: "namingContexts", canon: "namingcontexts", vals: []string{s.cfg.BaseDN}},
		{name: "supportedLDAPVersion", canon: "supportedldapversion", vals: []string{"3"}},
		{name: "supportedExtension", canon: "supportedextension", vals: ext},
		{name: "supportedControl", canon: "supportedcontrol", vals: []string{oidManageDsaIT, oidPagedResults}},
	}}
}

// encodeEntry encodes a SearchResultEntry with the requested attributes
// (RFC 4511 §4.5.1.8: none listed or "*" means all user attributes; "1.1"
// means none).
func encodeEntry(id int, e entry, req searchRequest) []byte {
	var attrs [][]byte
	for _, a := range selectAttrs(e.attrs, req.attrs) {
		var vals [][]byte
		if !req.typesOnly {
			for _, v := range a.vals {
				vals = append(vals, encString(identOctets, v))
			}
		}
		attrs = append(attrs, tlv(identSequence, encString(identOctets, a.name), tlv(identSet, vals...)))
	}
	return envelope(id, tlv(opSearchEntry, encString(identOctets, e.dn), tlv(identSequence, attrs...)))
}

func selectAttrs(all []attribute, requested []string) []attribute {
	want := map[string]bool{}
	for _, r := range requested {
		if r == "1.1" {
			continue
		}
		want[canonicalAttr(r)] = true
	}
	if len(requested) == 0 || want["*"] || want["+"] {
		return all
	}
	var out []attribute
	for _, a := range all {
		if want[a.canon] {
			out = append(out, a)
		}
	}
	return out
}
