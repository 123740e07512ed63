package ldapsrv

import (
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/verify"
)

// The bind benchmarks use cheap argon2 parameters so that they measure the
// listener, the guard and the engine rather than the password hash.

func BenchmarkBindPersistentConnection(b *testing.B) {
	f := newFixture(b)
	f.user(aliceName, alicePW, "", verify.LevelOff)
	s := f.serve(f.baseConfig(), nil)
	c := s.dial(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Bind(aliceDN, alicePW); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBindNewConnection(b *testing.B) {
	f := newFixture(b)
	f.user(aliceName, alicePW, "", verify.LevelOff)
	s := f.serve(f.baseConfig(), nil)
	b.ReportAllocs()
	for b.Loop() {
		c, err := goldap.DialURL("ldap://" + s.addr)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Bind(aliceDN, alicePW); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

func BenchmarkBindPINPlusTOTPNewConnection(b *testing.B) {
	f := newFixture(b)
	f.totpUser("bob", "bobs-password", "ab12")
	cfg := f.baseConfig()
	cfg.Service = "webmail"
	s := f.serve(cfg, nil)
	dn := "uid=bob,ou=people,dc=example,dc=org"
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		f.clock.Advance(30 * time.Second) // a fresh time step: codes are single-use
		pw := "ab12" + f.code()
		b.StartTimer()
		c, err := goldap.DialURL("ldap://" + s.addr)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Bind(dn, pw); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
