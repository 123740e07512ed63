package ldapsrv

import (
	"encoding/hex"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/verify"
)

// Regression tests for every crash and exhaustion row of
// /work/shared/reference/library-findings.md §2 ("Malformed-input
// experiment"). Each sends the row's bytes on a raw TCP connection,
// expects that connection to be closed (or answered, for valid input),
// and then checks that the server still answers a valid bind.

// guardServer is a server with alice for the regression tests; a short
// MessageTimeout bounds the cases that leave a message unfinished.
func guardServer(t *testing.T, mutate func(*Config)) *testServer {
	t.Helper()
	f := newFixture(t)
	f.user(aliceName, alicePW, "", verify.LevelOff)
	cfg := f.baseConfig()
	cfg.MessageTimeout = 2 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	return f.serve(cfg, nil)
}

func rawDial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// attack sends payload (write errors are expected once the server closes)
// and waits for the server to close the connection.
func attack(t testing.TB, addr string, payload []byte) {
	t.Helper()
	c := rawDial(t, addr)
	_, _ = c.Write(payload)
	waitClosed(t, c, 10*time.Second)
}

func unhexString(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomBytes(seed uint64, n int) []byte {
	var s [32]byte
	s[0] = byte(seed)
	r := rand.NewChaCha8(s)
	b := make([]byte, n)
	_, _ = r.Read(b)
	return b
}

// nested returns depth SEQUENCEs inside each other, each with a 4-octet
// length as in the finding (6 bytes per level).
func nested(depth int) []byte {
	inner := []byte{}
	for range depth {
		l := len(inner)
		inner = append([]byte{0x30, 0x84, byte(l >> 24), byte(l >> 16), byte(l >> 8), byte(l)}, inner...)
	}
	return inner
}

func TestGuardClosesTheConnectionOnMalformedInput(t *testing.T) {
	t.Parallel()
	s := guardServer(t, nil)
	bind := unhexString(t, "30 0c 02 01 01 60 07 02 01 03 04 00 80 00")
	tests := []struct {
		name    string
		payload []byte
	}{
		{"survives 256 random bytes (seed 1), which crashed the library with makeslice", randomBytes(1, 256)},
		{"survives 256 random bytes (seed 2)", randomBytes(2, 256)},
		{"survives 30 followed by 4095 random bytes, which crashed it with slice bounds", append([]byte{0x30}, randomBytes(3, 4095)...)},
		{"survives 30 05 02 07 01 00 00, an inner length larger than the outer", unhexString(t, "30 05 02 07 01 00 00")},
		{"survives 30 88 ff*8, a length of 2^64-1", unhexString(t, "30 88 ff ff ff ff ff ff ff ff")},
		{"survives 30 86 01 00 00 00 00 00, a 256 TiB claim that was a fatal out of memory", unhexString(t, "30 86 01 00 00 00 00 00")},
		{"survives 30 85 01 00 00 00 00, a 1 TiB claim that stalled the server", unhexString(t, "30 85 01 00 00 00 00")},
		{"survives 10000 nested SEQUENCEs (60 KB), quadratic in the library", nested(10000)},
		{"survives 20000 nested SEQUENCEs (120 KB), 1.4 GB in the library", nested(20000)},
		{"survives 40 nested SEQUENCEs inside the size limit", nested(40)},
		{"survives a control that is an INTEGER, which crashed DecodeControl",
			unhexString(t, "30 13 02 01 01 60 07 02 01 03 04 00 80 00 a0 05 30 03 02 01 01")},
		{"survives a controls element holding an empty SEQUENCE, an index out of range",
			unhexString(t, "30 10 02 01 01 60 07 02 01 03 04 00 80 00 a0 02 30 00")},
		{"survives a truncated bind followed by FIN", bind[:9]},
		{"survives 30 00, an empty message", unhexString(t, "30 00")},
		{"survives 30 80 00 00, the indefinite length form", unhexString(t, "30 80 00 00")},
		{"survives a messageID sent as an OCTET STRING", unhexString(t, "30 0c 04 01 01 60 07 02 01 03 04 00 80 00")},
		{"survives an operation that is not of APPLICATION class", unhexString(t, "30 0c 02 01 01 30 07 02 01 03 04 00 80 00")},
		{"survives a 9-byte length", unhexString(t, "30 89 00 00 00 00 00 00 00 00 05")},
		{"closes on an operation it does not serve (AddRequest)", unhexString(t, "30 0c 02 01 01 68 07 04 01 78 30 02 30 00")},
		{"closes on a message above the size limit", append(unhexString(t, "30 82 40 01 02 01 01 04 82 3f fa"), make([]byte, 0x3ffa)...)},
		{"closes on a BOOLEAN of two octets", unhexString(t, "30 0f 02 01 01 60 0a 02 01 03 04 00 80 00 01 02 ff ff")},
		{"closes on a negative messageID", unhexString(t, "30 0c 02 01 ff 60 07 02 01 03 04 00 80 00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := rawDial(t, s.addr)
			_, _ = c.Write(tt.payload)
			if strings.Contains(tt.name, "truncated bind") {
				_ = c.(*net.TCPConn).CloseWrite()
			}
			waitClosed(t, c, 10*time.Second)
			s.mustBind(t)
		})
	}
}

// TestGuardRefusesBigLengthClaimsWithoutAllocating is not parallel: it
// measures the process's allocations around each attack, so nothing else
// may run meanwhile (parallel tests wait until sequential ones finish).
func TestGuardRefusesBigLengthClaimsWithoutAllocating(t *testing.T) {
	s := guardServer(t, nil)
	tests := []struct {
		name    string
		payload string
		conns   int
	}{
		{"refuses 30 84 7f ff ff ff, 6 bytes claiming 2 GiB", "30 84 7f ff ff ff", 1},
		{"refuses 30 84 ff ff ff ff, a 4 GiB claim", "30 84 ff ff ff ff", 1},
		{"refuses 4 connections each claiming 2 GiB", "30 84 7f ff ff ff", 4},
		{"refuses 10 connections each claiming 2 GiB (the ulimit -v crash)", "30 84 7f ff ff ff", 10},
		{"refuses 30 85 01 00 00 00 00, a 1 TiB claim", "30 85 01 00 00 00 00", 1},
		{"refuses 30 86 01 00 00 00 00 00, a 256 TiB claim", "30 86 01 00 00 00 00 00", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := unhexString(t, tt.payload)
			conns := make([]net.Conn, tt.conns)
			for i := range conns {
				conns[i] = rawDial(t, s.addr)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for _, c := range conns {
				_, _ = c.Write(payload)
			}
			for _, c := range conns {
				waitClosed(t, c, 10*time.Second)
			}
			runtime.ReadMemStats(&after)
			if d := after.TotalAlloc - before.TotalAlloc; d > 4<<20 {
				t.Fatalf("allocated %d bytes while refusing the claim", d)
			}
			s.mustBind(t)
		})
	}
}

func TestGuardClosesAClaimOf2GiBFollowedByABody(t *testing.T) {
	t.Parallel()
	s := guardServer(t, nil)
	c := rawDial(t, s.addr)
	_, _ = c.Write(unhexString(t, "30 84 7f ff ff ff"))
	_, _ = c.Write(make([]byte, 1<<20)) // fails once the server has closed; that is the point
	waitClosed(t, c, 10*time.Second)
	s.mustBind(t)
}

// readResponse reads one LDAPMessage and returns its protocolOp.
func readResponse(t testing.TB, c net.Conn) node {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	frame, err := readFrame(c, 1<<20, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	env, _, err := parseElement(frame, 0, 64)
	if err != nil || len(env.children) < 2 {
		t.Fatalf("response: %v", err)
	}
	return env.children[1]
}

func resultOf(t testing.TB, op node) int {
	t.Helper()
	code, err := intValue(op.children[0])
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// ldapsearchMM is what `ldapsearch -x -MM -b "" -s base` sends: a search
// with the ManageDsaIT control, critical, without a value. Its BOOLEAN
// made the library's DecodeControl panic and kill the process.
const ldapsearchMM = "30 45 02 01 02" +
	" 63 20 04 00 0a 01 00 0a 01 00 02 01 00 02 01 00 01 01 00 87 0b 6f 62 6a 65 63 74 43 6c 61 73 73 30 00" +
	" a0 1e 30 1c 04 17 32 2e 31 36 2e 38 34 30 2e 31 2e 31 31 33 37 33 30 2e 33 2e 34 2e 32 01 01 ff"

func TestGuardAnswersASearchWithACriticalControlWithoutValue(t *testing.T) {
	t.Parallel()
	s := guardServer(t, nil)
	c := rawDial(t, s.addr)
	if _, err := c.Write(unhexString(t, ldapsearchMM)); err != nil {
		t.Fatal(err)
	}
	if op := readResponse(t, c); op.ident != opSearchEntry {
		t.Fatalf("first response %#x, want a RootDSE entry", op.ident)
	}
	if op := readResponse(t, c); op.ident != opSearchDone || resultOf(t, op) != 0 {
		t.Fatalf("search done %#x", op.ident)
	}
	// The same connection still works: a bind with the control as well.
	bindMM := unhexString(t, "30 2e 02 01 03 60 07 02 01 03 04 00 80 00 a0 20 30 1e 04 17 32 2e 31 36 2e 38 34 30 2e 31 2e 31 31 33 37 33 30 2e 33 2e 34 2e 32 01 01 ff 04 00")
	if _, err := c.Write(bindMM); err != nil {
		t.Fatal(err)
	}
	if op := readResponse(t, c); op.ident != opBindResponse || resultOf(t, op) != 0 {
		t.Fatalf("bind response %#x", op.ident)
	}
	gc := s.dial(t)
	if _, err := gc.Search(goldap.NewSearchRequest("", goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", nil,
		[]goldap.Control{goldap.NewControlManageDsaIT(true)})); err != nil {
		t.Fatalf("go-ldap search with ManageDsaIT: %v", err)
	}
}

func TestGuardKeepsTheConnectionAfterAbandon(t *testing.T) {
	t.Parallel()
	s := guardServer(t, nil)
	c := rawDial(t, s.addr)
	// AbandonRequest for message 5, then an anonymous bind.
	msg := unhexString(t, "30 06 02 01 01 50 01 05  30 0c 02 01 02 60 07 02 01 03 04 00 80 00")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if op := readResponse(t, c); op.ident != opBindResponse || resultOf(t, op) != 0 {
		t.Fatalf("bind after abandon: %#x", op.ident)
	}
}

func TestGuardClosesIdleConnectionsAfterIdleTimeout(t *testing.T) {
	t.Parallel()
	s := guardServer(t, func(c *Config) { c.IdleTimeout = 200 * time.Millisecond })
	c := rawDial(t, s.addr)
	start := time.Now()
	waitClosed(t, c, 10*time.Second)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("closed after %v, before the idle timeout", d)
	}
	s.mustBind(t)
}

func TestGuardClosesAMessageNotFinishedWithinMessageTimeout(t *testing.T) {
	t.Parallel()
	s := guardServer(t, func(c *Config) { c.MessageTimeout = 200 * time.Millisecond })
	c := rawDial(t, s.addr)
	_, _ = c.Write([]byte{0x30, 0x0c, 0x02})
	waitClosed(t, c, 10*time.Second)
}

func TestGuardCapsConnectionsPerAddress(t *testing.T) {
	t.Parallel()
	s := guardServer(t, func(c *Config) { c.MaxConnsPerIP = 2 })
	first, second := s.dial(t), s.dial(t)
	for _, c := range []*goldap.Conn{first, second} {
		if got := bindCode(t, c, "", ""); got != 0 {
			t.Fatalf("bind = %d", got)
		}
	}
	third := rawDial(t, s.addr)
	waitClosed(t, third, 10*time.Second)
	first.Close()
	// The slot is released when the server notices the close; retry until
	// it did (each attempt is answered or closed immediately).
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := goldap.DialURL("ldap://" + s.addr)
		if err == nil {
			code := c.UnauthenticatedBind("")
			c.Close()
			if code == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no slot after the first connection closed")
		}
	}
}

func TestGuardCapsTotalConnections(t *testing.T) {
	t.Parallel()
	s := guardServer(t, func(c *Config) { c.MaxConns = 1 })
	first := s.dial(t)
	if got := bindCode(t, first, "", ""); got != 0 {
		t.Fatalf("bind = %d", got)
	}
	waitClosed(t, rawDial(t, s.addr), 10*time.Second)
	if st := s.srv.Stats(); st.ConnsOpen != 1 || st.ConnsRejected != 1 {
		t.Fatalf("Stats = %+v, want 1 open and 1 rejected", st)
	}
}

// flakyListener fails Accept with a temporary error n times first.
type flakyListener struct {
	net.Listener
	fails chan struct{}
}

type tempErr struct{}

func (tempErr) Error() string   { return "accept4: too many open files" }
func (tempErr) Timeout() bool   { return false }
func (tempErr) Temporary() bool { return true }

func (l flakyListener) Accept() (net.Conn, error) {
	select {
	case <-l.fails:
		return nil, tempErr{}
	default:
		return l.Listener.Accept()
	}
}

func TestGuardKeepsAcceptingAfterAcceptErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.user(aliceName, alicePW, "", verify.LevelOff)
	fails := make(chan struct{}, 5)
	for range 5 {
		fails <- struct{}{}
	}
	s := f.serve(f.baseConfig(), func(ln net.Listener) net.Listener { return flakyListener{Listener: ln, fails: fails} })
	s.mustBind(t)
	if len(fails) != 0 {
		t.Fatalf("%d injected errors were not consumed", len(fails))
	}
}

func TestShutdownClosesLiveConnections(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.user(aliceName, alicePW, "", verify.LevelOff)
	srv, err := New(f.baseConfig(), f.engine, f.store, f.keyring, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithCancel(t)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	c := rawDial(t, ln.Addr().String())
	if _, err := c.Write(unhexString(t, "30 0c 02 01 01 60 07 02 01 03 04 00 80 00")); err != nil {
		t.Fatal(err)
	}
	if op := readResponse(t, c); op.ident != opBindResponse {
		t.Fatalf("bind response %#x", op.ident)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	waitClosed(t, c, time.Second) // already closed when Serve returned
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("listener still accepts after shutdown")
	}
}

func TestServeReturnsWhenTheListenerFailsForGood(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv, err := New(f.baseConfig(), f.engine, f.store, f.keyring, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithCancel(t)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	ln.Close()
	if err := <-done; err == nil {
		t.Fatal("Serve returned nil after its listener was closed under it")
	}
}
