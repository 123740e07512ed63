package adminapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/otpgate/otpgate/httpsrv"
)

// selfSigned returns a server certificate for 127.0.0.1 and a client
// configuration trusting it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "otpgate test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

func TestMountedOnOperationsListener(t *testing.T) {
	t.Parallel()

	t.Run("serves the API over TLS beside the built-in routes when mounted at /api/", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		h, err := New(Config{Tokens: [][]byte{[]byte(adminToken)}, Manager: f.manager})
		if err != nil {
			t.Fatal(err)
		}
		serverTLS, clientTLS := selfSigned(t)
		srv, err := httpsrv.New(httpsrv.Config{TLS: serverTLS}, httpsrv.NewMetrics(httpsrv.BuildInfo{Version: "test"}), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		srv.Handle("/api/", h)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx, ln) }()
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS}}
		defer client.CloseIdleConnections()
		base := "https://" + ln.Addr().String()

		get := func(path, token string) (int, string, http.Header) {
			t.Helper()
			req, err := http.NewRequestWithContext(t.Context(), "GET", base+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(body), res.Header
		}
		if code, body, hdr := get("/api/v1/users", adminToken); code != http.StatusOK || !strings.Contains(body, `"alice"`) ||
			hdr.Get("Cache-Control") != "no-store" {
			t.Fatalf("GET /api/v1/users: %d %s", code, body)
		}
		if code, _, _ := get("/api/v1/users", ""); code != http.StatusUnauthorized {
			t.Fatalf("GET /api/v1/users without a token: %d", code)
		}
		if code, body, _ := get("/healthz", ""); code != http.StatusOK {
			t.Fatalf("GET /healthz: %d %s", code, body)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Serve: %v", err)
		}
	})
}
