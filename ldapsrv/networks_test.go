package ldapsrv

import (
	"net"
	"net/netip"
	"testing"

	"github.com/otpgate/otpgate/verify"
)

// TestBindServiceFollowsTheClientNetwork: the IMAP servers' network binds
// for service imap (password at level web-otp) while everyone else binds
// for the default service webmail (PIN+OTP at web-otp).
func TestBindServiceFollowsTheClientNetwork(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.user(aliceName, alicePW, "ab12", verify.LevelWebOTP)
	cfg := f.baseConfig()
	cfg.Service, cfg.AllowPlainBinds = "webmail", PlainAlways
	cfg.Networks = []NetworkService{
		{Network: netip.MustParsePrefix("192.0.2.0/24"), Service: "imap"},
		{Network: netip.MustParsePrefix("192.0.0.0/16"), Service: "webmail"},
	}
	fromIMAP := f.serve(cfg, func(ln net.Listener) net.Listener { return remoteListener{Listener: ln, from: "192.0.2.7"} })
	fromOther := f.serve(cfg, func(ln net.Listener) net.Listener { return remoteListener{Listener: ln, from: "198.51.100.7"} })
	if got := bindCode(t, fromIMAP.dial(t), aliceDN, alicePW); got != 0 {
		t.Fatalf("password bind from the IMAP network = %d, want 0", got)
	}
	if got := bindCode(t, fromOther.dial(t), aliceDN, alicePW); got != 49 {
		t.Fatalf("password bind from elsewhere = %d, want 49 (webmail needs PIN+OTP)", got)
	}
	if _, err := New(Config{Service: "webmail", BaseDN: baseDN, UserDNTemplates: []string{uidTmpl},
		Networks: []NetworkService{{Service: "imap"}}}, f.engine, f.store, f.keyring, nil); err == nil {
		t.Fatal("New accepted a network without a prefix")
	}
}
