package backend

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/otpgate/otpgate/verify"
)

// tcpProxy forwards 127.0.0.1:<port> to a target address and can simulate
// a database outage: cut closes every connection and refuses new ones,
// restore listens again on the same port, and blackhole keeps connections
// open but swallows everything (a database that stopped answering).
type tcpProxy struct {
	target string
	addr   string // fixed at the first listen, reused by restore

	mu        sync.Mutex
	ln        net.Listener
	conns     map[net.Conn]struct{}
	swallow   bool // drop traffic both ways
	mute      bool // drop only the server's replies
	closed    bool
	listeners sync.WaitGroup
}

// startProxy listens on 127.0.0.1:0; it is shut down when t ends.
func startProxy(t testing.TB, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.cut()
		p.listeners.Wait()
	})
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.listeners.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(client)
		}
	})
}

// forward connects client to the target and copies both ways until either
// side closes or cut closes both.
func (p *tcpProxy) forward(client net.Conn) {
	server, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		_ = client.Close()
		return
	}
	if !p.track(client, server) {
		return
	}
	go p.copy(server, client, false)
	p.copy(client, server, true)
}

// track registers the pair, or closes it when the proxy is cut or closed.
func (p *tcpProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil || p.closed {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

// copy moves bytes from src to dst, dropping them while swallowing (or,
// for the server's replies, while muted), and closes both when src fails.
func (p *tcpProxy) copy(dst, src net.Conn, fromServer bool) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		p.mu.Lock()
		swallow := p.swallow || (fromServer && p.mute)
		p.mu.Unlock()
		if swallow {
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

// cut closes the listener and every connection: new connections are
// refused until restore.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// restore listens again on the original port.
func (p *tcpProxy) restore(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// blackhole starts or stops swallowing all traffic.
func (p *tcpProxy) blackhole(on bool) {
	p.mu.Lock()
	p.swallow = on
	p.mu.Unlock()
}

// muteReplies starts or stops dropping the server's replies only: requests
// still reach the server and run there.
func (p *tcpProxy) muteReplies(on bool) {
	p.mu.Lock()
	p.mute = on
	p.mu.Unlock()
}

// outageFixture is a migrated store reached through a proxy, with one
// user and one TOTP token.
type outageFixture struct {
	proxy *tcpProxy
	store *MySQL
	user  verify.User
	token verify.Token
}

func newOutageFixture(t *testing.T) *outageFixture {
	t.Helper()
	srv := requireMySQL(t)
	if srv.cfg.Net == "unix" {
		t.Skip("outage tests need a TCP server address")
	}
	database := srv.createDatabase(t)
	proxy := startProxy(t, srv.cfg.Addr)
	opts := srv.options(t, database, proxy.addr, newGCMSealer(t))
	opts.DialTimeout = time.Second
	s := openStore(t, opts)
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(t.Context(), verify.User{Name: "alice", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.CreateToken(t.Context(), verify.Token{UserID: u.ID, Serial: "T1", Type: verify.TypeTOTP,
		Key: []byte("k"), Digits: 6, Period: 30, Enabled: true, LastStep: verify.NoStep})
	if err != nil {
		t.Fatal(err)
	}
	return &outageFixture{proxy: proxy, store: s, user: u, token: tok}
}

// storeCall is one store operation run during an outage.
type storeCall struct {
	name string
	run  func(ctx context.Context, f *outageFixture) error
}

// outageCalls cover reads, retried writes, the CAS and Ping. The CAS
// must fail with an error, never report success.
var outageCalls = []storeCall{
	{"UserByName", func(ctx context.Context, f *outageFixture) error {
		_, err := f.store.UserByName(ctx, "alice")
		return err
	}},
	{"Tokens", func(ctx context.Context, f *outageFixture) error {
		_, err := f.store.Tokens(ctx, f.user.ID)
		return err
	}},
	{"AdvanceStep", func(ctx context.Context, f *outageFixture) error {
		ok, err := f.store.AdvanceStep(ctx, f.token.ID, 1_000, time.Unix(1_700_000_000, 0))
		if ok {
			return errors.New("AdvanceStep reported success during the outage")
		}
		return err
	}},
	{"RecordFailure", func(ctx context.Context, f *outageFixture) error {
		return f.store.RecordFailure(ctx, f.user.ID, time.Unix(1_700_000_000, 0))
	}},
	{"CreateToken", func(ctx context.Context, f *outageFixture) error {
		_, err := f.store.CreateToken(ctx, verify.Token{UserID: f.user.ID, Serial: "OUTAGE",
			Type: verify.TypeHOTP, Key: []byte("k"), LastStep: verify.NoStep})
		return err
	}},
	{"Ping", func(ctx context.Context, f *outageFixture) error { return f.store.Ping(ctx) }},
}

// wantFailsWithin runs every outage call with a deadline and checks that
// each fails, and returns no later than the deadline plus slack.
func (f *outageFixture) wantFailsWithin(t *testing.T, deadline, slack time.Duration) {
	t.Helper()
	for _, c := range outageCalls {
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		start := time.Now()
		err := c.run(ctx, f)
		elapsed := time.Since(start)
		cancel()
		t.Logf("%s during the outage: %v after %v", c.name, err, elapsed.Round(time.Millisecond))
		if err == nil {
			t.Errorf("%s during the outage succeeded; want an error", c.name)
		}
		if elapsed > deadline+slack {
			t.Errorf("%s during the outage took %v; want at most %v", c.name, elapsed, deadline+slack)
		}
	}
}

// wantWorks checks that the same store serves the engine's path again.
func (f *outageFixture) wantWorks(t *testing.T, step int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := f.store.UserByName(ctx, "alice"); err != nil {
		t.Fatalf("UserByName after the outage: %v", err)
	}
	ok, err := f.store.AdvanceStep(ctx, f.token.ID, step, time.Unix(1_700_000_000, 0))
	if err != nil || !ok {
		t.Fatalf("AdvanceStep(%d) after the outage = %v, %v; want true, nil", step, ok, err)
	}
}

func TestMySQLOutage(t *testing.T) {
	t.Parallel()
	t.Run("fails fast while the server is unreachable and recovers without reopening", func(t *testing.T) {
		t.Parallel()
		f := newOutageFixture(t)
		f.wantWorks(t, 1)
		f.proxy.cut()
		f.wantFailsWithin(t, 2*time.Second, time.Second)
		f.proxy.restore(t)
		f.wantWorks(t, 2)
	})
	t.Run("honours the deadline when the server stops answering and recovers", func(t *testing.T) {
		t.Parallel()
		f := newOutageFixture(t)
		f.wantWorks(t, 1)
		f.proxy.blackhole(true)
		f.wantFailsWithin(t, 300*time.Millisecond, time.Second)
		f.proxy.blackhole(false)
		f.wantWorks(t, 2)
	})
	t.Run("reports an error, not success, for a step applied whose reply was lost", func(t *testing.T) {
		t.Parallel()
		f := newOutageFixture(t)
		f.wantWorks(t, 1)
		f.proxy.muteReplies(true)
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		ok, err := f.store.AdvanceStep(ctx, f.token.ID, 5, time.Unix(1_700_000_000, 0))
		cancel()
		if ok || err == nil {
			t.Fatalf("AdvanceStep without a reply = %v, %v; want false and an error", ok, err)
		}
		f.proxy.muteReplies(false)
		// The UPDATE did run on the server: the step is used up, so
		// treating the error as a refusal was the only safe answer.
		tok, err := f.store.TokenBySerial(t.Context(), "T1")
		if err != nil || tok.LastStep != 5 {
			t.Fatalf("after the lost reply LastStep = %d, %v; want 5 (applied on the server)", tok.LastStep, err)
		}
		if ok, err := f.store.AdvanceStep(t.Context(), f.token.ID, 5, time.Unix(1_700_000_000, 0)); ok || err != nil {
			t.Errorf("replaying step 5 = %v, %v; want false, nil", ok, err)
		}
	})
}
