package radiussrv

import (
	"net/netip"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/otpgate/otpgate/verify"
)

// BenchmarkAccessRequest measures one signed Access-Request with PIN+TOTP
// through the whole per-packet path: parse, Message-Authenticator check,
// reply cache, the real engine on SQLite (user and token reads, PIN hash,
// replay-guard update), reply signing and encoding. The clock moves one
// TOTP step per iteration so every code is fresh. Building the request
// (the client side) is inside the loop; the socket is left out.
func BenchmarkAccessRequest(b *testing.B) {
	f := newEngineFixture(b)
	f.user("alice", "pw", "ab12", verify.LevelWebOTP)
	f.token("alice", verify.TypeTOTP)
	srv, err := New(Config{Clients: testClients(), Now: f.clock.Now}, f.engine, nil)
	if err != nil {
		b.Fatal(err)
	}
	src := netip.MustParseAddrPort(ipWeb + ":40000")
	secret := secretOf(ipWeb)
	b.ReportAllocs()
	for b.Loop() {
		f.clock.Advance(30 * time.Second)
		wire, err := signRequest(b, request(b, secret, "alice", "ab12"+f.totp())).Encode()
		if err != nil {
			b.Fatal(err)
		}
		reply := srv.handlePacket(b.Context(), wire, src)
		if len(reply) < 20 || radius.Code(reply[0]) != radius.CodeAccessAccept {
			b.Fatalf("reply %x", reply)
		}
	}
}

// BenchmarkRetransmit measures a retransmit answered from the reply cache.
func BenchmarkRetransmit(b *testing.B) {
	f := newEngineFixture(b)
	f.user("bob", "pw", "", verify.LevelOff)
	srv, err := New(Config{Clients: testClients(), Now: f.clock.Now}, f.engine, nil)
	if err != nil {
		b.Fatal(err)
	}
	src := netip.MustParseAddrPort(ipIMAP + ":40000")
	wire, _ := signRequest(b, request(b, secretOf(ipIMAP), "bob", "pw")).Encode()
	srv.handlePacket(b.Context(), wire, src)
	b.ReportAllocs()
	for b.Loop() {
		if srv.handlePacket(b.Context(), wire, src) == nil {
			b.Fatal("no reply")
		}
	}
}
