package radiussrv

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/otpgate/otpgate/verify"
)

// Source addresses of the test clients (all on loopback).
const (
	ipIMAP    = "127.0.0.2" // imap, Message-Authenticator required
	ipWeb     = "127.0.0.3" // webmail, required
	ipVPN     = "127.0.0.4" // vpn, challenges, Class and Reply-Message
	ipLegacy  = "127.0.0.5" // imap, MAOff
	ipAuto    = "127.0.0.6" // imap, MAAuto
	ipWebCh   = "127.0.0.7" // webmail, challenges
	ipWebCh2  = "127.0.0.8" // webmail, challenges, another client
	ipLabWide = "127.0.1.10"
	ipLabHost = "127.0.1.9"
)

func testClients() []Client {
	c := func(name, network, service string, ma MAPolicy) Client {
		return Client{Name: name, Network: netPrefix(network), Secret: verify.Secret("secret-" + name), Service: service, RequireMA: ma}
	}
	vpn := c("vpn-nas", ipVPN+"/32", "vpn", MARequired)
	vpn.Challenge, vpn.ReplyClass, vpn.ReplyMessage = true, "vpn-users", "Welcome"
	webCh := c("webmail-challenge", ipWebCh+"/32", "webmail", MARequired)
	webCh.Challenge = true
	webCh2 := c("webmail-challenge-2", ipWebCh2+"/32", "webmail", MARequired)
	webCh2.Challenge = true
	return []Client{
		c("imap-nas", ipIMAP+"/32", "imap", MARequired),
		c("webmail-nas", ipWeb+"/32", "webmail", MARequired),
		vpn, webCh, webCh2,
		c("legacy-nas", ipLegacy+"/32", "imap", MAOff),
		c("auto-nas", ipAuto+"/32", "imap", MAAuto),
		c("lab-wide", "127.0.1.0/24", "imap", MAOff),
		c("lab-host", ipLabHost+"/32", "imap", MARequired),
	}
}

// secretOf returns the shared secret of the client at ip.
func secretOf(ip string) string {
	for _, c := range testClients() {
		if c.Network.Contains(netip.MustParseAddr(ip)) && c.Network.Bits() == 32 {
			return c.Secret.Reveal()
		}
	}
	return "secret-lab-wide"
}

// env is a server with the test clients over a real engine with users:
// bob (level off, password), alice (web-otp, PIN ab12, TOTP), dave
// (web-otp, TOTP; uses vpn).
type env struct {
	*engineFixture
	srv *testServer
}

func newEnv(t testing.TB, mutate func(*Config)) *env {
	t.Helper()
	f := newEngineFixture(t)
	f.user("bob", "bob password", "", verify.LevelOff)
	f.user("alice", "correct horse", "ab12", verify.LevelWebOTP)
	f.token("alice", verify.TypeTOTP)
	f.user("dave", "dave password", "", verify.LevelWebOTP)
	f.token("dave", verify.TypeTOTP)
	cfg := Config{Clients: testClients(), Now: f.clock.Now}
	if mutate != nil {
		mutate(&cfg)
	}
	return &env{engineFixture: f, srv: startServer(t, cfg, f.auth())}
}

// from returns a peer speaking as the client at ip.
func (e *env) from(t testing.TB, ip string) *peer { return newPeer(t, ip, e.srv.addr) }

// ask sends a signed Access-Request from the client at ip and returns the
// reply.
func (e *env) ask(t testing.TB, ip, user, password string) *radius.Packet {
	t.Helper()
	req := signRequest(t, request(t, secretOf(ip), user, password))
	_, reply := e.from(t, ip).exchange(req)
	checkReplyMA(t, reply, req.Authenticator, secretOf(ip))
	return reply
}

func wantCode(t testing.TB, reply *radius.Packet, code radius.Code) {
	t.Helper()
	if reply.Code != code {
		t.Fatalf("reply code %v, want %v (Reply-Message %q)", reply.Code, code, rfc2865.ReplyMessage_GetString(reply))
	}
}

func TestAccessRequestsPerMode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := []struct {
		name     string
		ip, user string
		password func() string
		want     radius.Code
	}{
		{"accepts the account password on imap", ipIMAP, "bob", func() string { return "bob password" }, radius.CodeAccessAccept},
		{"rejects a wrong password on imap", ipIMAP, "bob", func() string { return "bob passw0rd" }, radius.CodeAccessReject},
		{"rejects an unknown user like a wrong password", ipIMAP, "nobody", func() string { return "x" }, radius.CodeAccessReject},
		{"accepts PIN plus TOTP on webmail", ipWeb, "alice", func() string { return "ab12" + e.totp() }, radius.CodeAccessAccept},
		{"rejects the PIN with a wrong TOTP on webmail", ipWeb, "alice", func() string { return "ab12000000" }, radius.CodeAccessReject},
		{"rejects the account password on webmail for a web-otp user", ipWeb, "alice", func() string { return "correct horse" }, radius.CodeAccessReject},
		{"accepts password plus TOTP on vpn", ipVPN, "dave", func() string { return "dave password" + e.totp() }, radius.CodeAccessAccept},
		{"rejects a wrong password plus TOTP on vpn", ipVPN, "dave", func() string { return "dave passw0rd" + e.totp() }, radius.CodeAccessReject},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Advance(30 * time.Second) // a fresh TOTP step per case
			reply := e.ask(t, tc.ip, tc.user, tc.password())
			wantCode(t, reply, tc.want)
			if tc.want == radius.CodeAccessReject && rfc2865.ReplyMessage_GetString(reply) != rejectMessage {
				t.Fatalf("reject Reply-Message %q, want the generic one", rfc2865.ReplyMessage_GetString(reply))
			}
		})
	}
	t.Run("sends the client's Class and Reply-Message with an Accept", func(t *testing.T) {
		e.clock.Advance(30 * time.Second)
		reply := e.ask(t, ipVPN, "dave", "dave password"+e.totp())
		wantCode(t, reply, radius.CodeAccessAccept)
		if got := rfc2865.Class_GetString(reply); got != "vpn-users" {
			t.Fatalf("Class %q", got)
		}
		if got := rfc2865.ReplyMessage_GetString(reply); got != "Welcome" {
			t.Fatalf("Reply-Message %q", got)
		}
	})
	t.Run("writes no password, PIN or secret to its log", func(t *testing.T) {
		logs := e.srv.logs.String()
		for _, secret := range []string{"bob password", "correct horse", "ab12", "dave password", "secret-imap-nas"} {
			if strings.Contains(logs, secret) {
				t.Fatalf("log contains %q:\n%s", secret, logs)
			}
		}
	})
}

func TestWrongSharedSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	t.Run("drops a request signed with the wrong secret without calling the engine", func(t *testing.T) {
		p := e.from(t, ipIMAP)
		req := signRequest(t, request(t, "not-the-secret", "bob", "bob password"))
		wire, _ := req.Encode()
		p.send(wire)
		e.srv.events.waitFor(t, evBadAuthenticator, 1)
		p.expectNoReply(secretOf(ipIMAP))
		if n := e.calls.Load(); n != 0 {
			t.Fatalf("engine called %d times", n)
		}
		if n := e.failCount("bob"); n != 0 {
			t.Fatalf("bob's fail_count = %d, want 0", n)
		}
		if s := e.srv.Stats(); s.DroppedBadAuthenticator != 1 {
			t.Fatalf("stats %+v", s)
		}
		if !strings.Contains(e.srv.logs.String(), "wrong shared secret") {
			t.Fatalf("the wrong secret was not logged as such:\n%s", e.srv.logs)
		}
	})
	t.Run("rejects the garbled password of an unsigned request on an MAOff client", func(t *testing.T) {
		p := e.from(t, ipLegacy)
		req := request(t, "not-the-secret", "bob", "bob password")
		wire, _ := req.Encode()
		p.send(wire)
		reply, err := radius.Parse(p.recv(), []byte(secretOf(ipLegacy)))
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, reply, radius.CodeAccessReject)
	})
}

func TestMessageAuthenticatorPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	unsigned := func(ip string) []byte {
		wire, err := request(t, secretOf(ip), "bob", "bob password").Encode()
		if err != nil {
			t.Fatal(err)
		}
		return wire
	}
	t.Run("drops a request without Message-Authenticator when the client requires it", func(t *testing.T) {
		p := e.from(t, ipIMAP)
		p.send(unsigned(ipIMAP))
		e.srv.events.waitFor(t, evMissingMA, 1)
		p.expectNoReply(secretOf(ipIMAP))
	})
	t.Run("drops a request whose Message-Authenticator does not verify", func(t *testing.T) {
		p := e.from(t, ipIMAP)
		wire, _ := signRequest(t, request(t, secretOf(ipIMAP), "bob", "bob password")).Encode()
		wire[len(wire)-1] ^= 0x01 // last byte of the Message-Authenticator
		before := e.srv.Stats().DroppedBadAuthenticator
		p.send(wire)
		e.srv.events.waitFor(t, evBadAuthenticator, int(before)+1)
		p.expectNoReply(secretOf(ipIMAP))
	})
	t.Run("drops Proxy-State without Message-Authenticator even on an MAOff client", func(t *testing.T) {
		p := e.from(t, ipLegacy)
		req := request(t, secretOf(ipLegacy), "bob", "bob password")
		_ = rfc2865.ProxyState_Add(req, []byte("proxy"))
		wire, _ := req.Encode()
		p.send(wire)
		e.srv.events.waitFor(t, evProxyStateNoMA, 1)
		p.expectNoReply(secretOf(ipLegacy))
	})
	t.Run("accepts an unsigned request on an MAOff client", func(t *testing.T) {
		_, reply := e.from(t, ipLegacy).exchange(request(t, secretOf(ipLegacy), "bob", "bob password"))
		wantCode(t, reply, radius.CodeAccessAccept)
	})
	t.Run("requires Message-Authenticator on an auto client once one was seen", func(t *testing.T) {
		_, reply := e.from(t, ipAuto).exchange(request(t, secretOf(ipAuto), "bob", "bob password"))
		wantCode(t, reply, radius.CodeAccessAccept)
		wantCode(t, e.ask(t, ipAuto, "bob", "bob password"), radius.CodeAccessAccept)
		p := e.from(t, ipAuto)
		before := e.srv.Stats().DroppedMissingMA
		p.send(unsigned(ipAuto))
		e.srv.events.waitFor(t, evMissingMA, int(before)+1)
		p.expectNoReply(secretOf(ipAuto))
	})
	t.Run("matches the most specific client network", func(t *testing.T) {
		_, reply := e.from(t, ipLabWide).exchange(request(t, secretOf(ipLabWide), "bob", "bob password"))
		wantCode(t, reply, radius.CodeAccessAccept)
		p := e.from(t, ipLabHost)
		before := e.srv.Stats().DroppedMissingMA
		p.send(unsigned(ipLabHost))
		e.srv.events.waitFor(t, evMissingMA, int(before)+1)
		p.expectNoReply(secretOf(ipLabHost))
	})
}

func TestRetransmits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	t.Run("answers a retransmit from the cache with identical bytes and one engine call", func(t *testing.T) {
		p := e.from(t, ipWeb)
		req := signRequest(t, request(t, secretOf(ipWeb), "alice", "ab12"+e.totp()))
		wire, _ := req.Encode()
		first := p.sendUntilReply(wire)
		second := p.sendUntilReply(wire)
		if !bytes.Equal(first, second) {
			t.Fatal("the retransmit got different bytes")
		}
		reply, _ := radius.Parse(first, req.Secret)
		wantCode(t, reply, radius.CodeAccessAccept)
		if n := e.calls.Load(); n != 1 {
			t.Fatalf("engine called %d times, want 1", n)
		}
		if s := e.srv.Stats(); s.DuplicatesFromCache < 1 || s.RepliesAccept != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("runs the engine again after the cache time, refusing the used OTP", func(t *testing.T) {
		e.clock.Advance(30 * time.Second)
		p := e.from(t, ipWeb)
		req := signRequest(t, request(t, secretOf(ipWeb), "alice", "ab12"+e.totp()))
		_, reply := p.exchange(req)
		wantCode(t, reply, radius.CodeAccessAccept)
		e.clock.Advance(31 * time.Second) // past ReplyCacheTTL, TOTP step within skew
		_, reply = p.exchange(req)
		wantCode(t, reply, radius.CodeAccessReject)
	})
}

func TestRetransmitWhileInFlight(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	auth := AuthFunc(func(context.Context, verify.Request) verify.Decision {
		entered <- struct{}{}
		<-release
		return verify.Decision{Outcome: verify.Accept}
	})
	srv, err := New(Config{Clients: testClients()}, auth, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddrPort(ipIMAP + ":4000")
	wire, _ := signRequest(t, request(t, secretOf(ipIMAP), "bob", "pw")).Encode()
	first := make(chan []byte)
	go func() { first <- srv.handlePacket(t.Context(), wire, src) }()
	<-entered
	if reply := srv.handlePacket(t.Context(), wire, src); reply != nil {
		t.Fatal("a copy of a request in the engine got a reply")
	}
	close(release)
	got := <-first
	if got == nil {
		t.Fatal("no reply to the first copy")
	}
	if again := srv.handlePacket(t.Context(), wire, src); !bytes.Equal(again, got) {
		t.Fatal("a later retransmit did not get the cached reply")
	}
	if s := srv.Stats(); s.DroppedInFlight != 1 || s.DuplicatesFromCache != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestStatusServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	t.Run("answers a signed Status-Server with a signed Access-Accept", func(t *testing.T) {
		req := signRequest(t, radius.New(radius.CodeStatusServer, []byte(secretOf(ipIMAP))))
		_, reply := e.from(t, ipIMAP).exchange(req)
		wantCode(t, reply, radius.CodeAccessAccept)
		checkReplyMA(t, reply, req.Authenticator, secretOf(ipIMAP))
	})
	t.Run("drops an unsigned Status-Server even from an MAOff client", func(t *testing.T) {
		p := e.from(t, ipLegacy)
		wire, _ := radius.New(radius.CodeStatusServer, []byte(secretOf(ipLegacy))).Encode()
		p.send(wire)
		e.srv.events.waitFor(t, evMissingMA, 1)
		p.expectNoReply(secretOf(ipLegacy))
	})
	if n := e.calls.Load(); n != 0 {
		t.Fatalf("Status-Server called the engine %d times", n)
	}
}

func TestUnavailableEngineSendsNoReply(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	p := e.from(t, ipIMAP)
	wire, _ := signRequest(t, request(t, secretOf(ipIMAP), "bob", "bob password")).Encode()
	p.send(wire)
	e.srv.events.waitFor(t, evUnavailable, 1)
	p.expectNoReply(secretOf(ipIMAP))
}

func TestUnknownClientIsDroppedAndCounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	p := e.from(t, "127.0.0.1")
	wire, _ := signRequest(t, request(t, "secret-imap-nas", "bob", "bob password")).Encode()
	p.send(wire)
	e.srv.events.waitFor(t, evUnknownClient, 1)
	if s := e.srv.Stats(); s.DroppedUnknownClient != 1 || e.calls.Load() != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestMalformedDatagramIsDroppedAndCounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	p := e.from(t, ipIMAP)
	p.send([]byte{1, 2, 0, 200, 9, 9, 9}) // shorter than a header
	e.srv.events.waitFor(t, evMalformed, 1)
	p.expectNoReply(secretOf(ipIMAP))
}

func TestJunkFloodIsCountedButLoggedRarely(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	p := e.from(t, ipIMAP)
	const junk = 100
	for i := range junk {
		p.send([]byte{99, byte(i), 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	}
	e.srv.events.waitFor(t, evMalformed, junk)
	if n := strings.Count(e.srv.logs.String(), "\n"); n > 3 {
		t.Fatalf("%d log lines for %d junk datagrams", n, junk)
	}
	if s := e.srv.Stats(); s.DroppedOverload != 0 {
		t.Fatalf("junk took workers: %+v", s)
	}
}

func TestUndecodableUserPasswordIsRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name  string
		value []byte
	}{
		{"rejects a User-Password of 17 bytes without calling the engine", bytes.Repeat([]byte{7}, 17)},
		{"rejects a User-Password of 144 bytes without calling the engine", bytes.Repeat([]byte{7}, 144)},
		{"rejects a request without User-Password without calling the engine", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := radius.New(radius.CodeAccessRequest, []byte(secretOf(ipIMAP)))
			_ = rfc2865.UserName_SetString(req, "bob")
			if tc.value != nil {
				req.Add(rfc2865.UserPassword_Type, tc.value)
			}
			signRequest(t, req)
			_, reply := e.from(t, ipIMAP).exchange(req)
			wantCode(t, reply, radius.CodeAccessReject)
			checkReplyMA(t, reply, req.Authenticator, secretOf(ipIMAP))
		})
	}
	if n := e.calls.Load(); n != 0 {
		t.Fatalf("engine called %d times", n)
	}
}
