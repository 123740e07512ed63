package radiussrv

import (
	"sync"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/otpgate/otpgate/verify/verifytest"
)

// challenged sends the first factor from ip and returns the State of the
// Access-Challenge it must get.
func (e *env) challenged(t *testing.T, ip, user, firstFactor string) []byte {
	t.Helper()
	reply := e.ask(t, ip, user, firstFactor)
	wantCode(t, reply, radius.CodeAccessChallenge)
	if got := rfc2865.ReplyMessage_GetString(reply); got != challengeMessage {
		t.Fatalf("challenge Reply-Message %q", got)
	}
	state := rfc2865.State_Get(reply)
	if len(state) < 16 {
		t.Fatalf("State is %d bytes, want at least 16", len(state))
	}
	return state
}

// answer sends the OTP with state from ip.
func (e *env) answer(t *testing.T, ip, user, code string, state []byte) *radius.Packet {
	t.Helper()
	req := request(t, secretOf(ip), user, code)
	if err := rfc2865.State_Set(req, state); err != nil {
		t.Fatal(err)
	}
	signRequest(t, req)
	_, reply := e.from(t, ip).exchange(req)
	checkReplyMA(t, reply, req.Authenticator, secretOf(ip))
	return reply
}

func TestAccessChallenge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	next := func() { e.clock.Advance(30 * time.Second) }
	t.Run("accepts PIN, then the OTP with the State", func(t *testing.T) {
		next()
		state := e.challenged(t, ipWebCh, "alice", "ab12")
		wantCode(t, e.answer(t, ipWebCh, "alice", e.totp(), state), radius.CodeAccessAccept)
	})
	t.Run("rejects a State used twice", func(t *testing.T) {
		next()
		state := e.challenged(t, ipWebCh, "alice", "ab12")
		wantCode(t, e.answer(t, ipWebCh, "alice", e.totp(), state), radius.CodeAccessAccept)
		next()
		wantCode(t, e.answer(t, ipWebCh, "alice", e.totp(), state), radius.CodeAccessReject)
	})
	t.Run("rejects an expired State", func(t *testing.T) {
		next()
		state := e.challenged(t, ipWebCh, "alice", "ab12")
		e.clock.Advance(121 * time.Second)
		wantCode(t, e.answer(t, ipWebCh, "alice", e.totp(), state), radius.CodeAccessReject)
	})
	t.Run("rejects a State issued to another user", func(t *testing.T) {
		next()
		state := e.challenged(t, ipWebCh, "alice", "ab12")
		wantCode(t, e.answer(t, ipWebCh, "dave", e.totp(), state), radius.CodeAccessReject)
	})
	t.Run("rejects a State issued through another client", func(t *testing.T) {
		next()
		state := e.challenged(t, ipWebCh, "alice", "ab12")
		wantCode(t, e.answer(t, ipWebCh2, "alice", e.totp(), state), radius.CodeAccessReject)
	})
	t.Run("rejects an invented State without calling the engine", func(t *testing.T) {
		before := e.calls.Load()
		wantCode(t, e.answer(t, ipWebCh, "alice", e.totp(), make([]byte, 16)), radius.CodeAccessReject)
		if e.calls.Load() != before {
			t.Fatal("the engine was called for an unknown State")
		}
	})
	t.Run("rejects a wrong PIN without a challenge", func(t *testing.T) {
		wantCode(t, e.ask(t, ipWebCh, "alice", "zz99"), radius.CodeAccessReject)
	})
	t.Run("accepts password, then the OTP, on vpn with the client's Class", func(t *testing.T) {
		next()
		state := e.challenged(t, ipVPN, "dave", "dave password")
		reply := e.answer(t, ipVPN, "dave", e.totp(), state)
		wantCode(t, reply, radius.CodeAccessAccept)
		if got := rfc2865.Class_GetString(reply); got != "vpn-users" {
			t.Fatalf("Class %q", got)
		}
	})
	t.Run("still accepts PIN plus OTP in one request", func(t *testing.T) {
		next()
		wantCode(t, e.ask(t, ipWebCh, "alice", "ab12"+e.totp()), radius.CodeAccessAccept)
	})
	s := e.srv.Stats()
	if s.ChallengesIssued != 6 || s.RepliesChallenge != 6 || s.StateRejects != 5 {
		t.Fatalf("stats %+v", s)
	}
}

func TestChallengeTableIsBounded(t *testing.T) {
	t.Parallel()
	clk := verifytest.NewClock(verifytest.Start)
	tbl := newStateTable(time.Minute, 2, &seqRand{})
	b := challengeBinding{user: "alice", client: "c", service: "webmail"}
	first, _, _ := tbl.issue(b, clk.Now())
	tbl.issue(b, clk.Now())
	if _, evicted, _ := tbl.issue(b, clk.Now()); evicted != 1 {
		t.Fatalf("evicted %d, want 1", evicted)
	}
	if tbl.redeem(first, b, clk.Now()) {
		t.Fatal("the evicted oldest State still works")
	}
	if n := tbl.states.len(); n != 2 {
		t.Fatalf("table holds %d, want 2", n)
	}
}

// seqRand is a deterministic byte source: every read is filled with the
// next byte value.
type seqRand struct {
	mu sync.Mutex
	n  byte
}

func (r *seqRand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range p {
		p[i] = r.n
	}
	r.n++
	return len(p), nil
}
