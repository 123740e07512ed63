package storetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otpgate/otpgate/verify"
)

var yubikeyCases = []testCase{
	{"finds a token by its public id", testTokenByPublicID},
	{"claims a yubicloud OTP once", testClaimOTP},
	{"lets one of 50 concurrent claims of an OTP win", testClaimOTPRace},
}

func newYubiCloud(userID int64, serial, publicID string) verify.Token {
	return verify.Token{UserID: userID, Serial: serial, Type: verify.TypeYubiCloud, Key: []byte{},
		PublicID: publicID, Enabled: true, LastStep: verify.NoStep}
}

func testTokenByPublicID(t *testing.T, s Store) {
	u := mustUser(t, s, "alice")
	want := mustToken(t, s, newYubiCloud(u.ID, "YC-1", "vvccccfiluij"))
	mustToken(t, s, newHOTP(u.ID, "HOTP-1"))
	got, err := s.TokenByPublicID(t.Context(), "vvccccfiluij")
	if err != nil || got.ID != want.ID || got.PublicID != "vvccccfiluij" {
		t.Fatalf("TokenByPublicID = %+v, %v; want token %d", got, err, want.ID)
	}
	for _, id := range []string{"vvccccfiluik", ""} {
		if _, err := s.TokenByPublicID(t.Context(), id); !errors.Is(err, verify.ErrNotFound) {
			t.Fatalf("TokenByPublicID(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func testClaimOTP(t *testing.T, s Store) {
	u := mustUser(t, s, "alice")
	tok := mustToken(t, s, newYubiCloud(u.ID, "YC-1", "vvccccfiluij"))
	now := time.Unix(1_700_000_000, 0)
	otpA := "vvccccfiluij" + "dkrbfdcudbtlvdelkgtjgdidldkbjhid"
	otpB := "vvccccfiluij" + "ghuvdikcnnrfhbcnnutfbrfuluthkrku"
	for i, step := range []struct {
		otp  string
		want bool
	}{{otpA, true}, {otpA, false}, {otpB, true}, {otpA, true}} {
		won, err := s.ClaimOTP(t.Context(), tok.ID, step.otp, now)
		if err != nil || won != step.want {
			t.Fatalf("claim %d = %v, %v; want %v", i+1, won, err, step.want)
		}
	}
	if won, err := s.ClaimOTP(t.Context(), 4242, otpB, now); won || err != nil {
		t.Fatalf("ClaimOTP on a missing token = %v, %v; want false, nil", won, err)
	}
}

func testClaimOTPRace(t *testing.T, s Store) {
	u := mustUser(t, s, "alice")
	tok := mustToken(t, s, newYubiCloud(u.ID, "YC-1", "vvccccfiluij"))
	otp := "vvccccfiluij" + "dkrbfdcudbtlvdelkgtjgdidldkbjhid"
	var wins, errs atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			won, err := s.ClaimOTP(t.Context(), tok.ID, otp, time.Unix(1_700_000_000, 0))
			if err != nil {
				errs.Add(1)
			} else if won {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || errs.Load() != 0 {
		t.Fatalf("%d winners and %d errors among 50 claims; want 1 and 0", wins.Load(), errs.Load())
	}
}
