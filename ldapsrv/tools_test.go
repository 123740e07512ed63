package ldapsrv

import (
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otpgate/otpgate/verify"
)

// runTool runs an OpenLDAP client tool trusting the test certificate, or
// skips the test when the tool is not installed.
func runTool(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsCert.Certificate[0]})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), path, args...)
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+ca, "LDAPTLS_REQCERT=demand", "LDAPCONF=/dev/null", "LDAPRC=/dev/null")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestOpenLDAPTools(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.user(aliceName, alicePW, "", verify.LevelOff)
	f.user("bob", alicePW, "", verify.LevelOff)
	s := f.serve(f.baseConfig(), nil)
	url := "ldap://" + s.addr

	t.Run("ldapsearch -x -MM reads the RootDSE", func(t *testing.T) {
		t.Parallel()
		out, err := runTool(t, "ldapsearch", "-x", "-MM", "-H", url, "-b", "", "-s", "base", "+")
		if err != nil || !strings.Contains(out, "namingContexts: "+baseDN) {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	t.Run("ldapwhoami -ZZ names the bound DN", func(t *testing.T) {
		t.Parallel()
		out, err := runTool(t, "ldapwhoami", "-x", "-ZZ", "-H", url, "-D", aliceDN, "-w", alicePW)
		if err != nil || strings.TrimSpace(out) != "dn:"+aliceDN {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	t.Run("ldapwhoami without a bind says anonymous", func(t *testing.T) {
		t.Parallel()
		out, err := runTool(t, "ldapwhoami", "-x", "-H", url)
		if err != nil || strings.TrimSpace(out) != "anonymous" {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	t.Run("ldapsearch -ZZ -MM finds a user as the service account", func(t *testing.T) {
		t.Parallel()
		out, err := runTool(t, "ldapsearch", "-x", "-ZZ", "-MM", "-H", url, "-D", webmailDN, "-w", webmailPW,
			"-b", baseDN, "(mail=alice@example.org)", "uid")
		if err != nil || !strings.Contains(out, "dn: "+aliceDN) || !strings.Contains(out, "uid: "+aliceName) {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	t.Run("ldapsearch pages with a critical paged-results control", func(t *testing.T) {
		t.Parallel()
		out, err := runTool(t, "ldapsearch", "-x", "-H", url, "-D", webmailDN, "-w", webmailPW,
			"-E", "!pr=1/noprompt", "-b", baseDN, "(objectClass=person)", "uid")
		if err != nil || strings.Count(out, "\ndn: ") != 2 {
			t.Fatalf("%v\n%s", err, out)
		}
	})
}
