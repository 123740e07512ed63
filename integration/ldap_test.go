package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "otpgate test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true} // its own trust anchor
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}

// ldapTool runs an OpenLDAP client with the test CA trusted.
func ldapTool(t *testing.T, ca string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+ca, "LDAPTLS_REQCERT=demand")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestLDAPClients: the webmail pattern with OpenLDAP's tools against
// "otpgate serve": a service account searches (mail=...), then binds as the
// DN it found with PIN+TOTP; StartTLS (-ZZ), LDAPS, WhoAmI and a critical
// control (-MM) that crashes the unguarded library.
func TestLDAPClients(t *testing.T) {
	t.Parallel()
	oathtool := requireTool(t, "oathtool")
	ldapsearch, ldapwhoami := requireTool(t, "ldapsearch"), requireTool(t, "ldapwhoami")
	in := newInstance(t)
	in.mustRun("correct horse\n", "user", "add", "alice@example.org")
	in.mustRun("ab12\n", "user", "set-pin", "alice@example.org")
	in.mustRun("", "user", "set-level", "alice@example.org", "web-otp")
	out := in.mustRun("", "token", "enroll", "alice@example.org", "--type", "totp")
	serial, secret := field(t, out, "serial"), uriSecret(t, field(t, out, "uri"))
	now := time.Now()
	in.mustRun("", "token", "test", "alice@example.org", serial, oathTOTP(t, oathtool, secret, now))
	svcHash := strings.TrimSpace(in.mustRun("webmail secret\n", "hash-password"))
	in.mustRun("", "user", "set-attr", "alice@example.org", "mailAlternateAddress", "alice@example.net", "a.liddell@example.org")
	cert, key := writeCert(t, in.dir)

	srv := in.serve(`
[radius]
listen = []
[ldap]
listen = ["127.0.0.1:0"]
ldaps_listen = ["127.0.0.1:0"]
attributes = ["mailAlternateAddress"]
[ldap.tls]
cert_file = "` + cert + `"
key_file = "` + key + `"
[[ldap.service_accounts]]
dn = "cn=webmail,ou=services,dc=example,dc=org"
password_hash = "` + svcHash + `"
`)
	ldapURL, ldapsURL := "ldap://"+srv.addrs["ldap"], "ldaps://"+srv.addrs["ldaps"]
	const svcDN, userDN = "cn=webmail,ou=services,dc=example,dc=org", "uid=alice@example.org,ou=people,dc=example,dc=org"

	t.Log("the service account finds the user by mail")
	got, err := ldapTool(t, cert, ldapsearch, "-x", "-LLL", "-H", ldapURL, "-D", svcDN, "-w", "webmail secret",
		"-b", "ou=people,dc=example,dc=org", "(mail=alice@example.org)", "dn")
	if err != nil || !strings.Contains(got, "dn: "+userDN) {
		t.Fatalf("service account search: %v\n%s", err, got)
	}
	got, err = ldapTool(t, cert, ldapsearch, "-x", "-LLL", "-H", ldapURL, "-D", svcDN, "-w", "webmail secret",
		"-b", "ou=people,dc=example,dc=org", "(mailAlternateAddress=A.Liddell@example.org)", "mailAlternateAddress")
	if err != nil || !strings.Contains(got, "dn: "+userDN) || !strings.Contains(got, "mailAlternateAddress: alice@example.net") {
		t.Fatalf("search by an alternate address: %v\n%s", err, got)
	}
	t.Log("the user binds with PIN+TOTP as the DN found, over StartTLS")
	pw := "ab12" + oathTOTP(t, oathtool, secret, now.Add(30*time.Second))
	got, err = ldapTool(t, cert, ldapwhoami, "-x", "-ZZ", "-H", ldapURL, "-D", userDN, "-w", pw)
	if err != nil || strings.TrimSpace(got) != "dn:"+userDN {
		t.Fatalf("ldapwhoami -ZZ as the user: %v\n%s", err, got)
	}
	t.Log("the same code again is refused")
	got, err = ldapTool(t, cert, ldapwhoami, "-x", "-ZZ", "-H", ldapURL, "-D", userDN, "-w", pw)
	if err == nil || !strings.Contains(got, "Invalid credentials (49)") {
		t.Fatalf("replayed code: %v\n%s", err, got)
	}
	t.Log("LDAPS and a critical control without a value (-MM)")
	got, err = ldapTool(t, cert, ldapsearch, "-x", "-MM", "-LLL", "-H", ldapsURL, "-D", svcDN, "-w", "webmail secret",
		"-b", "", "-s", "base", "(objectClass=*)", "supportedExtension")
	if err != nil || !strings.Contains(got, "1.3.6.1.4.1.4203.1.11.3") {
		t.Fatalf("ldapsearch -MM over LDAPS: %v\n%s", err, got)
	}
	got, err = ldapTool(t, cert, ldapwhoami, "-x", "-H", ldapsURL)
	if err != nil || strings.TrimSpace(got) != "anonymous" {
		t.Fatalf("anonymous ldapwhoami after -MM: %v\n%s", err, got)
	}
}
