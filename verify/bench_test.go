package verify_test

import (
	"testing"
	"time"

	"github.com/otpgate/otpgate/verify"
)

// BenchmarkVerifyPINTOTP measures one accepted PIN+TOTP login on SQLite:
// user and token reads, PIN hash, window scan and the replay-guard update.
// The clock moves one step per iteration so every code is fresh.
func BenchmarkVerifyPINTOTP(b *testing.B) {
	f := newFixture(b, fixtureOptions{})
	f.user("alice", "pw", "ab12", verify.LevelWebOTP)
	f.token("alice", totpToken())
	b.ReportAllocs()
	for b.Loop() {
		f.clock.Advance(30 * time.Second)
		if d := f.verify("alice", "ab12"+totpAt(b, f.clock.Now().Unix()), "webmail"); d.Outcome != verify.Accept {
			b.Fatalf("decision %v/%s", d.Outcome, d.Reason)
		}
	}
}

// BenchmarkVerifyPINHOTP is the same with an HOTP token, one counter per
// iteration.
func BenchmarkVerifyPINHOTP(b *testing.B) { benchmarkPINHOTP(b, fixtureOptions{}) }

// BenchmarkVerifyPINHOTPMariaDB is BenchmarkVerifyPINHOTP on the MySQL
// store against the local MariaDB.
func BenchmarkVerifyPINHOTPMariaDB(b *testing.B) { benchmarkPINHOTP(b, fixtureOptions{mysql: true}) }

func benchmarkPINHOTP(b *testing.B, o fixtureOptions) {
	f := newFixture(b, o)
	f.user("alice", "pw", "ab12", verify.LevelWebOTP)
	f.token("alice", hotpToken())
	b.ReportAllocs()
	var counter uint64
	for b.Loop() {
		if d := f.verify("alice", "ab12"+hotpAt(b, counter), "webmail"); d.Outcome != verify.Accept {
			b.Fatalf("decision %v/%s", d.Outcome, d.Reason)
		}
		counter++
	}
}

// BenchmarkVerifyRejectBadOTP measures a refused PIN+OTP attempt (the
// failure counter update included) with a back-off that never starts.
func BenchmarkVerifyRejectBadOTP(b *testing.B) {
	f := newFixture(b, fixtureOptions{brute: verify.BruteForceOptions{MaxFail: 1 << 30}})
	f.user("alice", "pw", "ab12", verify.LevelWebOTP)
	f.token("alice", totpToken())
	b.ReportAllocs()
	for b.Loop() {
		if d := f.verify("alice", "ab12000000", "webmail"); d.Outcome != verify.Reject {
			b.Fatalf("decision %v/%s", d.Outcome, d.Reason)
		}
	}
}
