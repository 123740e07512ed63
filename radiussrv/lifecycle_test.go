package radiussrv

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/otpgate/otpgate/verify"
)

// gate is an Authenticator that holds every call until released.
type gate struct {
	entered chan string
	release chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan string, 16), release: make(chan struct{})} }

func (g *gate) Verify(_ context.Context, r verify.Request) verify.Decision {
	g.entered <- r.User
	<-g.release
	return verify.Decision{Outcome: verify.Accept}
}

func TestOverloadDropsAndRecovers(t *testing.T) {
	t.Parallel()
	g := newGate()
	srv := startServer(t, Config{Clients: testClients(), MaxInFlight: 1}, g)
	slow := newPeer(t, ipIMAP, srv.addr)
	req := signRequest(t, request(t, secretOf(ipIMAP), "first", "pw"))
	wire, _ := req.Encode()
	slow.send(wire)
	<-g.entered
	other := newPeer(t, ipWeb, srv.addr)
	wire2, _ := signRequest(t, request(t, secretOf(ipWeb), "second", "pw")).Encode()
	other.send(wire2)
	srv.events.waitFor(t, evOverload, 1)
	close(g.release)
	reply, err := radius.Parse(slow.recv(), req.Secret)
	if err != nil || reply.Code != radius.CodeAccessAccept {
		t.Fatalf("reply %v, %v", reply, err)
	}
	other.expectNoReply(secretOf(ipWeb))
	if s := srv.Stats(); s.DroppedOverload < 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPanickingAuthenticatorDoesNotKillTheServer(t *testing.T) {
	t.Parallel()
	auth := AuthFunc(func(_ context.Context, r verify.Request) verify.Decision {
		if r.User == "boom" {
			panic("boom in authenticator")
		}
		return verify.Decision{Outcome: verify.Accept}
	})
	srv := startServer(t, Config{Clients: testClients()}, auth)
	p := newPeer(t, ipIMAP, srv.addr)
	wire, _ := signRequest(t, request(t, secretOf(ipIMAP), "boom", "pw")).Encode()
	p.send(wire)
	srv.events.waitFor(t, evPanic, 1)
	p.expectNoReply(secretOf(ipIMAP))
	_, reply := p.exchange(signRequest(t, request(t, secretOf(ipIMAP), "bob", "pw")))
	wantCode(t, reply, radius.CodeAccessAccept)
	if !strings.Contains(srv.logs.String(), "panic in request path") {
		t.Fatal("the panic was not logged")
	}
}

func TestShutdownLetsInFlightRequestsReply(t *testing.T) {
	t.Parallel()
	g := newGate()
	srv := startServer(t, Config{Clients: testClients()}, g)
	p := newPeer(t, ipIMAP, srv.addr)
	req := signRequest(t, request(t, secretOf(ipIMAP), "bob", "pw"))
	wire, _ := req.Encode()
	p.send(wire)
	<-g.entered
	stopped := make(chan error, 1)
	go func() { stopped <- srv.stop() }()
	srv.events.waitFor(t, evSocketClosed, 1) // reading has stopped
	close(g.release)
	reply, err := radius.Parse(p.recv(), req.Secret)
	if err != nil || reply.Code != radius.CodeAccessAccept {
		t.Fatalf("reply %v, %v", reply, err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestServeReportsASocketClosedUnderIt(t *testing.T) {
	t.Parallel()
	srv, err := New(Config{Clients: testClients()}, AuthFunc(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(t.Context(), pc) }()
	pc.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve = %v, want net.ErrClosed", err)
	}
}

// TestServeLeavesNoGoroutines is not parallel: it runs while the parallel
// tests are still paused, so every radiussrv or library goroutine it sees
// after shutdown is a leak.
func TestServeLeavesNoGoroutines(t *testing.T) {
	e := newEnv(t, nil)
	for range 20 {
		e.ask(t, ipIMAP, "bob", "bob password")
	}
	p := e.from(t, ipIMAP)
	p.send([]byte("junk"))
	if err := e.srv.stop(); err != nil {
		t.Fatal(err)
	}
	// As goleak does: goroutines that have finished their work may need a
	// moment to exit, so look again a few times before calling it a leak.
	var leaked []string
	for range 50 {
		if leaked = serverGoroutines(); len(leaked) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("goroutines left after Serve returned:\n%s", strings.Join(leaked, "\n\n"))
}

// serverGoroutines returns the stacks of goroutines running radiussrv or
// layeh.com/radius code, other than this test's own and the parallel
// tests waiting to start.
func serverGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "TestServeLeavesNoGoroutines") || strings.Contains(g, "testing.(*T).Parallel") {
			continue
		}
		if strings.Contains(g, "otpgate/radiussrv.") || strings.Contains(g, "layeh.com/radius.") {
			out = append(out, g)
		}
	}
	return out
}

func TestNewRejectsBadClients(t *testing.T) {
	t.Parallel()
	good := Client{Name: "a", Network: netPrefix("10.0.0.0/8"), Secret: "s", Service: "imap"}
	tests := []struct {
		name   string
		mutate func(*Client, *[]Client)
		want   string
	}{
		{"refuses an empty name", func(c *Client, _ *[]Client) { c.Name = "" }, "empty name"},
		{"refuses an empty secret", func(c *Client, _ *[]Client) { c.Secret = "" }, "empty secret"},
		{"refuses an invalid network", func(c *Client, _ *[]Client) { c.Network = netip.PrefixFrom(netip.MustParseAddr("10.0.0.0"), 99) }, "invalid network"},
		{"refuses a zero network", func(c *Client, _ *[]Client) { c.Network = netip.Prefix{} }, "invalid network"},
		{"refuses a duplicate name", func(c *Client, l *[]Client) { *l = append(*l, good) }, "duplicate name"},
		{"refuses a network given twice", func(c *Client, l *[]Client) {
			other := good
			other.Name = "b"
			other.Network = netPrefix("10.1.2.3/8")
			*l = append(*l, other)
		}, "already belongs"},
		{"refuses an unknown Message-Authenticator policy", func(c *Client, _ *[]Client) { c.RequireMA = 7 }, "require_message_authenticator"},
		{"refuses a Reply-Message too long for RADIUS", func(c *Client, _ *[]Client) { c.ReplyMessage = strings.Repeat("x", 254) }, "at most 253"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			var extra []Client
			tc.mutate(&c, &extra)
			_, err := New(Config{Clients: append([]Client{c}, extra...)}, AuthFunc(nil), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	t.Run("refuses a nil Authenticator", func(t *testing.T) {
		if _, err := New(Config{}, nil, nil); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("reports every problem at once", func(t *testing.T) {
		_, err := New(Config{Clients: []Client{{}, {Name: "x"}}}, AuthFunc(nil), nil)
		if err == nil || strings.Count(err.Error(), "\n") < 3 {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSetClientsSwapsTheTable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	wantCode(t, e.ask(t, ipIMAP, "bob", "bob password"), radius.CodeAccessAccept)
	moved := testClients()
	for i := range moved {
		if moved[i].Name == "imap-nas" {
			moved[i].Secret = "rotated"
		}
	}
	if err := e.srv.SetClients(moved); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetClients([]Client{{Name: "broken"}}); err == nil {
		t.Fatal("a bad table was accepted")
	}
	req := signRequest(t, request(t, "rotated", "bob", "bob password"))
	_, reply := e.from(t, ipIMAP).exchange(req)
	wantCode(t, reply, radius.CodeAccessAccept)
	checkReplyMA(t, reply, req.Authenticator, "rotated")
}

func TestReplyCacheIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	c := newReplyCache(time.Minute, 2)
	key := func(id byte) cacheKey { return cacheKey{src: netip.MustParseAddrPort("192.0.2.1:1"), id: id} }
	for id := range byte(3) {
		if _, st := c.begin(key(id), now); st != cacheMiss {
			t.Fatalf("begin %d: %v", id, st)
		}
		c.finish(key(id), []byte{id}, now)
	}
	if n := c.replies.len(); n != 2 {
		t.Fatalf("cache holds %d replies, want 2", n)
	}
	if _, st := c.begin(key(0), now); st != cacheMiss {
		t.Fatal("the oldest reply was not the one evicted")
	}
	if _, st := c.begin(key(2), now.Add(time.Minute)); st != cacheMiss {
		t.Fatal("a reply outlived its TTL")
	}
}
