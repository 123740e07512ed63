package ldapsrv

import (
	"crypto/tls"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/verify"
)

func TestStartTLS(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.user(aliceName, alicePW, "", verify.LevelOff)
	s := f.serve(f.baseConfig(), nil)

	t.Run("upgrades the connection and binds over TLS", func(t *testing.T) {
		t.Parallel()
		c := s.dial(t)
		if err := c.StartTLS(clientTLS()); err != nil {
			t.Fatal(err)
		}
		st, ok := c.TLSConnectionState()
		if !ok || st.Version < tls.VersionTLS12 {
			t.Fatalf("tls state %v %x", ok, st.Version)
		}
		if got := bindCode(t, c, aliceDN, alicePW); got != 0 {
			t.Fatalf("bind = %d", got)
		}
		if got := whoami(t, c); got != "dn:"+aliceDN {
			t.Fatalf("whoami = %q", got)
		}
	})
	t.Run("refuses a second StartTLS with operationsError", func(t *testing.T) {
		t.Parallel()
		c := s.dial(t)
		if err := c.StartTLS(clientTLS()); err != nil {
			t.Fatal(err)
		}
		_, err := c.Extended(goldap.NewExtendedRequest(oidStartTLS, nil))
		if got := codeOf(t, err); got != 1 {
			t.Fatalf("second StartTLS = %d, want 1", got)
		}
	})
	t.Run("refuses TLS 1.1", func(t *testing.T) {
		t.Parallel()
		c := s.dial(t)
		err := c.StartTLS(&tls.Config{RootCAs: tlsPool, ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS11})
		if err == nil {
			t.Fatal("TLS 1.1 handshake succeeded")
		}
	})
}

func TestStartTLSWithoutTLSConfigIsUnavailable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.baseConfig()
	cfg.TLS = nil
	s := f.serve(cfg, nil)
	c := s.dial(t)
	_, err := c.Extended(goldap.NewExtendedRequest(oidStartTLS, nil))
	if got := codeOf(t, err); got != 52 {
		t.Fatalf("StartTLS = %d, want 52", got)
	}
	if got := bindCode(t, c, "", ""); got != 0 {
		t.Fatalf("the connection must stay usable: %d", got)
	}
}

func TestLDAPS(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.user(aliceName, alicePW, "", verify.LevelOff)
	s := f.serveWith(f.baseConfig(), nil, true)
	c, err := goldap.DialURL("ldaps://"+s.addr, goldap.DialWithTLSConfig(clientTLS()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := bindCode(t, c, aliceDN, alicePW); got != 0 {
		t.Fatalf("bind = %d", got)
	}
	if got := whoami(t, c); got != "dn:"+aliceDN {
		t.Fatalf("whoami = %q", got)
	}
	_, err = c.Extended(goldap.NewExtendedRequest(oidStartTLS, nil))
	if got := codeOf(t, err); got != 1 {
		t.Fatalf("StartTLS inside LDAPS = %d, want 1", got)
	}
}

func TestServeTLSWithoutConfigFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.baseConfig()
	cfg.TLS = nil
	srv, err := New(cfg, f.engine, f.store, f.keyring, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.ServeTLS(t.Context(), nil); err == nil {
		t.Fatal("ServeTLS without TLS config succeeded")
	}
}

func TestWhoAmI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.user(aliceName, alicePW, "", verify.LevelOff)
	s := f.serve(f.baseConfig(), nil)
	c := s.dial(t)
	if got := whoami(t, c); got != "" {
		t.Fatalf("anonymous whoami = %q, want empty", got)
	}
	if got := bindCode(t, c, aliceName, alicePW); got != 0 {
		t.Fatalf("bind = %d", got)
	}
	if got := whoami(t, c); got != "dn:"+aliceDN {
		t.Fatalf("whoami = %q", got)
	}
	_, err := c.Extended(goldap.NewExtendedRequest("1.2.3.4", nil))
	if got := codeOf(t, err); got != 2 {
		t.Fatalf("unknown extended operation = %d, want 2", got)
	}
	if got := whoami(t, c); got != "dn:"+aliceDN {
		t.Fatalf("the connection must stay bound: %q", got)
	}
}

func TestLDAPSTakesItsCertificateFromGetCertificate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.user(aliceName, alicePW, "", verify.LevelOff)
	testTLS(t)
	calls := make(chan struct{}, 16)
	cfg := f.baseConfig()
	cfg.TLS = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		calls <- struct{}{}
		return &tlsCert, nil
	}}
	s := f.serveWith(cfg, nil, true)
	c, err := goldap.DialURL("ldaps://"+s.addr, goldap.DialWithTLSConfig(clientTLS()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := bindCode(t, c, aliceDN, alicePW); got != 0 {
		t.Fatalf("bind = %d", got)
	}
	if len(calls) == 0 {
		t.Fatal("GetCertificate was not called")
	}
}

// Bytes the client sent behind its StartTLS request, before our response,
// are plaintext the TLS layer must never see (RFC 4511 §4.14.1): the
// connection ends at once instead of handing them to the handshake (which
// would then wait for a ClientHello that is never coming).
func TestStartTLSWithDataBehindTheRequestCloses(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.baseConfig()
	cfg.MessageTimeout = time.Minute // a handshake left waiting would outlast the test
	s := f.serve(cfg, nil)
	startTLS := append([]byte{0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16}, oidStartTLS...)
	c := rawDial(t, s.addr)
	if _, err := c.Write(append(startTLS, "hello"...)); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, c, 10*time.Second)
}
