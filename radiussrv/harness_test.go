package radiussrv

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/otpgate/otpgate/backend"
	"github.com/otpgate/otpgate/backend/passwd"
	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
	"github.com/otpgate/otpgate/verify/otp"
	"github.com/otpgate/otpgate/verify/verifytest"
)

// waitTimeout bounds every wait for an event or a reply; a test that needs
// it has failed.
const waitTimeout = 10 * time.Second

// clock and lockedBuffer come from verifytest, shared with the other
// packages that test against the engine.
type (
	clock        = verifytest.Clock
	lockedBuffer = verifytest.LogBuffer
)

// engineFixture is the real engine over a real SQLite store in a temp dir,
// built as verify's own tests build it.
type engineFixture struct {
	t       testing.TB
	env     *verifytest.Env
	clock   *clock
	store   *backend.SQLite
	engine  *verify.Engine
	manager *manage.Manager
	calls   atomic.Int64 // Verify calls through auth()
	logs    *lockedBuffer
}

var cheapArgon2 = passwd.Argon2Params{Time: 1, Memory: 8192, Threads: 1}

// testPolicy is the default policy plus a vpn class that needs
// password+otp at every level.
func testPolicy() verify.Policy {
	p := verify.DefaultPolicy()
	p.Services["vpn"] = "vpn"
	for _, lvl := range []string{verify.LevelOff, verify.LevelWebOTP, verify.LevelWebOTPOnly} {
		p.Modes[lvl]["vpn"] = verify.ModePasswordOTP
	}
	return p
}

func newEngineFixture(t testing.TB) *engineFixture {
	t.Helper()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := verifytest.New(t, verifytest.Options{Argon2: cheapArgon2, Engine: verify.Options{
		Policy: testPolicy(), Tokens: verify.TokenOptions{TOTPSkew: 1}, Audit: logger, Log: logger}})
	f := &engineFixture{t: t, env: env, clock: env.Clock, store: env.Store, engine: env.Engine, manager: env.Manager, logs: logs}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("engine log and audit:\n%s", f.logs)
		}
	})
	return f
}

// user creates a user with password, optional PIN and level.
func (f *engineFixture) user(name, password, pin, level string) {
	f.t.Helper()
	f.env.User(f.t, name, password, pin, level)
}

var rfcKey = []byte("12345678901234567890")

// token gives name an active token of type typ with rfcKey.
func (f *engineFixture) token(name string, typ verify.TokenType) {
	f.t.Helper()
	u, err := f.store.UserByName(context.Background(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	tok := verify.Token{UserID: u.ID, Type: typ, Serial: string(typ) + "-" + name, Key: rfcKey,
		Digits: 6, Algorithm: "SHA1", Enabled: true, LastStep: verify.NoStep}
	if typ == verify.TypeTOTP {
		tok.Period = 30
	}
	if _, err := f.store.CreateToken(context.Background(), tok); err != nil {
		f.t.Fatal(err)
	}
}

// totp returns the current TOTP code of rfcKey on the fixture clock.
func (f *engineFixture) totp() string {
	f.t.Helper()
	code, err := otp.HOTP(rfcKey, uint64(f.clock.Now().Unix()/30), otp.SHA1, 6)
	if err != nil {
		f.t.Fatal(err)
	}
	return code
}

func (f *engineFixture) hotp(counter uint64) string {
	f.t.Helper()
	code, err := otp.HOTP(rfcKey, counter, otp.SHA1, 6)
	if err != nil {
		f.t.Fatal(err)
	}
	return code
}

// failCount reads name's stored failure counter.
func (f *engineFixture) failCount(name string) int {
	f.t.Helper()
	u, err := f.store.UserByName(context.Background(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	return u.FailCount
}

// auth returns the engine wrapped with a call counter.
func (f *engineFixture) auth() Authenticator {
	return AuthFunc(func(ctx context.Context, r verify.Request) verify.Decision {
		f.calls.Add(1)
		return f.engine.Verify(ctx, r)
	})
}

// AuthFunc adapts a function to Authenticator (tests only).
type AuthFunc func(context.Context, verify.Request) verify.Decision

func (fn AuthFunc) Verify(ctx context.Context, r verify.Request) verify.Decision { return fn(ctx, r) }

// events counts the server's events so tests can wait for one instead of
// sleeping.
type events struct {
	mu      sync.Mutex
	counts  [numEvents]int
	changed chan struct{}
}

func newEvents() *events { return &events{changed: make(chan struct{})} }

func (e *events) record(ev event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.counts[ev]++
	close(e.changed)
	e.changed = make(chan struct{})
}

// waitFor blocks until ev has happened n times in total.
func (e *events) waitFor(t testing.TB, ev event, n int) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		e.mu.Lock()
		got, changed := e.counts[ev], e.changed
		e.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("event %d happened %d times, want %d", ev, got, n)
		}
	}
}

// testServer is a Server serving on 127.0.0.1:0.
type testServer struct {
	*Server
	addr   string
	events *events
	logs   *lockedBuffer
	stop   func() error // cancels Serve and returns its result
}

// startServer builds a Server from cfg and serves it until the test ends.
func startServer(t testing.TB, cfg Config, auth Authenticator) *testServer {
	t.Helper()
	logs := &lockedBuffer{}
	srv, err := New(cfg, auth, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ev := newEvents()
	srv.onEvent = ev.record
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, pc) }()
	var once sync.Once
	var serveErr error
	stop := func() error {
		once.Do(func() { cancel(); serveErr = <-done })
		return serveErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return &testServer{Server: srv, addr: pc.LocalAddr().String(), events: ev, logs: logs, stop: stop}
}

// request builds an Access-Request for user and password.
func request(t testing.TB, secret, user, password string) *radius.Packet {
	t.Helper()
	p := radius.New(radius.CodeAccessRequest, []byte(secret))
	if err := rfc2865.UserName_SetString(p, user); err != nil {
		t.Fatal(err)
	}
	if err := rfc2865.UserPassword_SetString(p, password); err != nil {
		t.Fatal(err)
	}
	return p
}

// signRequest adds a Message-Authenticator computed with the packet's
// secret (RFC 2869 §5.14); call it after setting all other attributes.
func signRequest(t testing.TB, p *radius.Packet) *radius.Packet {
	t.Helper()
	rfc2869.MessageAuthenticator_Del(p)
	ma := make([]byte, 16)
	p.Add(rfc2869.MessageAuthenticator_Type, ma)
	wire, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(md5.New, p.Secret)
	mac.Write(wire)
	copy(ma, mac.Sum(nil))
	return p
}

// checkReplyMA asserts that reply (answering a request with requestAuth)
// carries a Message-Authenticator as its first attribute and that it
// verifies with secret (RFC 3579 §3.2).
func checkReplyMA(t testing.TB, reply *radius.Packet, requestAuth [16]byte, secret string) {
	t.Helper()
	if len(reply.Attributes) == 0 || reply.Attributes[0].Type != rfc2869.MessageAuthenticator_Type {
		t.Fatalf("first reply attribute is not Message-Authenticator: %v", reply.Attributes)
	}
	got := reply.Attributes[0].Attribute
	zeroed := *reply
	zeroed.Authenticator = requestAuth
	zeroed.Attributes = append(radius.Attributes{{Type: rfc2869.MessageAuthenticator_Type, Attribute: make([]byte, 16)}}, reply.Attributes[1:]...)
	wire, err := zeroed.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(md5.New, []byte(secret))
	mac.Write(wire)
	if !hmac.Equal(got, mac.Sum(nil)) {
		t.Fatal("reply Message-Authenticator does not verify")
	}
}

// peer is a UDP socket bound to a chosen loopback address, so that tests
// can speak as different clients.
type peer struct {
	t    testing.TB
	conn *net.UDPConn
}

func newPeer(t testing.TB, local, server string) *peer {
	t.Helper()
	raddr, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(local)}, raddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &peer{t: t, conn: conn}
}

func (p *peer) send(b []byte) {
	p.t.Helper()
	if _, err := p.conn.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

func (p *peer) recv() []byte {
	p.t.Helper()
	raw, err := p.recvWithin(waitTimeout)
	if err != nil {
		p.t.Fatalf("no reply: %v", err)
	}
	return raw
}

func (p *peer) recvWithin(d time.Duration) ([]byte, error) {
	buf := make([]byte, radius.MaxPacketLength)
	if err := p.conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		return nil, err
	}
	n, err := p.conn.Read(buf)
	return buf[:n], err
}

// retransmitInterval is the test NAS's retransmission timer.
const retransmitInterval = 500 * time.Millisecond

// sendUntilReply behaves like a NAS: it sends wire and retransmits the
// identical bytes until a reply arrives. Retransmitting matters because
// layeh.com/radius drops, without a trace, a datagram whose (address,
// Identifier) is still registered as in flight, and it unregisters a
// request only after our handler has returned, i.e. after the reply was
// written: a request sent the instant the previous reply arrives can be
// lost in that window.
func (p *peer) sendUntilReply(wire []byte) []byte {
	p.t.Helper()
	for range int(waitTimeout / retransmitInterval) {
		p.send(wire)
		raw, err := p.recvWithin(retransmitInterval)
		if err == nil {
			return raw
		}
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			p.t.Fatal(err)
		}
	}
	p.t.Fatal("no reply")
	return nil
}

// exchange sends pkt (retransmitting like a NAS) and returns the reply
// bytes and the parsed reply.
func (p *peer) exchange(pkt *radius.Packet) ([]byte, *radius.Packet) {
	p.t.Helper()
	wire, err := pkt.Encode()
	if err != nil {
		p.t.Fatal(err)
	}
	raw := p.sendUntilReply(wire)
	reply, err := radius.Parse(raw, pkt.Secret)
	if err != nil {
		p.t.Fatal(err)
	}
	if reply.Identifier != pkt.Identifier {
		p.t.Fatalf("reply identifier %d, want %d", reply.Identifier, pkt.Identifier)
	}
	if !radius.IsAuthenticResponse(raw, wire, pkt.Secret) {
		p.t.Fatal("reply authenticator does not verify")
	}
	return raw, reply
}

// expectNoReply proves that the server sent nothing for an earlier
// datagram from this peer that it has already finished with (the caller
// waited for its drop event): a Status-Server sent now must be the next
// datagram to arrive.
func (p *peer) expectNoReply(secret string) {
	p.t.Helper()
	status := signRequest(p.t, radius.New(radius.CodeStatusServer, []byte(secret)))
	_, reply := p.exchange(status)
	if reply.Code != radius.CodeAccessAccept {
		p.t.Fatalf("status reply code %v", reply.Code)
	}
}

// netPrefix parses a prefix or fails the test.
func netPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
