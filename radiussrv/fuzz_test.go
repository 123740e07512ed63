package radiussrv

import (
	"context"
	"crypto/hmac"
	"net/netip"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/otpgate/otpgate/verify"
)

// fuzzSources maps the fuzzer's first byte to a source: a client that
// requires Message-Authenticator, an MAOff client, and an unknown address.
var fuzzSources = []netip.AddrPort{
	netip.MustParseAddrPort(ipIMAP + ":1812"),
	netip.MustParseAddrPort(ipLegacy + ":1812"),
	netip.MustParseAddrPort("192.0.2.1:1812"),
}

// FuzzRequest hands arbitrary datagrams to the per-packet path. It must
// never panic, and it must never answer a datagram that fails
// authentication: from a client requiring Message-Authenticator a reply
// implies a valid one; from the MAOff client it implies no unauthenticated
// Proxy-State; an unknown source is never answered. Every reply must carry
// a valid Message-Authenticator first and a valid Response Authenticator.
func FuzzRequest(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed.source, seed.wire)
	}
	auth := AuthFunc(func(_ context.Context, r verify.Request) verify.Decision {
		switch r.User {
		case "accept":
			return verify.Decision{Outcome: verify.Accept}
		case "challenge":
			return verify.Decision{Outcome: verify.Challenge}
		case "down":
			return verify.Decision{Outcome: verify.Unavailable}
		}
		return verify.Decision{Outcome: verify.Reject}
	})
	clients := testClients()
	for i := range clients {
		clients[i].Challenge = true
	}
	srv, err := New(Config{Clients: clients, ReplyCacheSize: 64, MaxChallenges: 64}, auth, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, source byte, wire []byte) {
		src := fuzzSources[int(source)%len(fuzzSources)]
		reply := srv.handlePacket(context.Background(), wire, src)
		if reply == nil {
			return
		}
		checkFuzzReply(t, src, wire, reply)
	})
}

func checkFuzzReply(t *testing.T, src netip.AddrPort, wire, reply []byte) {
	if src == fuzzSources[2] {
		t.Fatal("answered an unknown source")
	}
	secret := []byte(secretOf(src.Addr().String()))
	req, err := radius.Parse(wire, secret)
	if err != nil {
		t.Fatalf("answered an unparsable datagram: %v", err)
	}
	ma, n := messageAuthenticator(req)
	switch {
	case n == 1 && !hmac.Equal(ma, requestMAC(req, secret)):
		t.Fatal("answered a request with an invalid Message-Authenticator")
	case n == 0 && src == fuzzSources[0]:
		t.Fatal("answered an unsigned request from a client that requires signing")
	case n == 0 && hasAttr(req, rfc2865.ProxyState_Type):
		t.Fatal("answered unsigned Proxy-State")
	case n > 1:
		t.Fatal("answered a request with several Message-Authenticators")
	}
	resp, err := radius.Parse(reply, secret)
	if err != nil {
		t.Fatalf("unparsable reply: %v", err)
	}
	if !radius.IsAuthenticResponse(reply, wire, secret) {
		t.Fatal("reply authenticator does not verify")
	}
	checkReplyMA(t, resp, req.Authenticator, string(secret))
}

type fuzzSeed struct {
	source byte
	wire   []byte
}

func fuzzSeeds(tb testing.TB) []fuzzSeed {
	enc := func(p *radius.Packet) []byte {
		b, err := p.Encode()
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	imap, legacy := secretOf(ipIMAP), secretOf(ipLegacy)
	withState := request(tb, imap, "accept", "123456")
	_ = rfc2865.State_Set(withState, make([]byte, 16))
	proxied := request(tb, legacy, "accept", "pw")
	_ = rfc2865.ProxyState_Add(proxied, []byte("p"))
	twoMA := signRequest(tb, request(tb, imap, "accept", "pw"))
	_ = rfc2869.MessageAuthenticator_Add(twoMA, make([]byte, 16))
	return []fuzzSeed{
		{0, enc(signRequest(tb, request(tb, imap, "accept", "pw")))},
		{0, enc(signRequest(tb, request(tb, imap, "reject", "pw")))},
		{0, enc(signRequest(tb, request(tb, imap, "challenge", "ab12")))},
		{0, enc(signRequest(tb, request(tb, imap, "down", "pw")))},
		{0, enc(signRequest(tb, withState))},
		{0, enc(signRequest(tb, radius.New(radius.CodeStatusServer, []byte(imap))))},
		{0, enc(twoMA)},
		{0, enc(request(tb, imap, "accept", "pw"))},
		{1, enc(request(tb, legacy, "accept", "pw"))},
		{1, enc(proxied)},
		{1, enc(radius.New(radius.CodeAccountingRequest, []byte(legacy)))},
		{2, enc(signRequest(tb, request(tb, imap, "accept", "pw")))},
		{0, []byte{1, 0, 0, 20}},
		{0, []byte{1, 0, 0, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1}},
	}
}

// TestRequestPathSurvivesKnownShapes runs the fuzz seeds and some garbage
// under plain go test, so the properties are checked on every run.
func TestRequestPathSurvivesKnownShapes(t *testing.T) {
	t.Parallel()
	srv, err := New(Config{Clients: testClients(), Now: func() time.Time { return time.Unix(0, 0) }},
		AuthFunc(func(context.Context, verify.Request) verify.Decision { return verify.Decision{Outcome: verify.Accept} }), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range fuzzSeeds(t) {
		src := fuzzSources[int(seed.source)%len(fuzzSources)]
		if reply := srv.handlePacket(t.Context(), seed.wire, src); reply != nil {
			checkFuzzReply(t, src, seed.wire, reply)
		}
	}
}
