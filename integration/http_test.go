package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"layeh.com/radius"
)

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestOperationsEndpoints: health, readiness and metrics of "otpgate
// serve", with the decisions of a RADIUS login counted.
func TestOperationsEndpoints(t *testing.T) {
	t.Parallel()
	in := newInstance(t)
	in.mustRun("correct horse\n", "user", "add", "alice")
	srv := in.serve("[radius]\nlisten = [\"127.0.0.1:0\"]\n[ldap]\nlisten = []\n[services.webmail]\nclass = \"web\"\n" +
		"[[radius.clients]]\nname = \"lo\"\nnetwork = \"127.0.0.0/8\"\nsecret = \"testing123\"\nservice = \"webmail\"\n")
	base := "http://" + srv.addrs["http"]
	if code, body := httpGet(t, base+"/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	if code, _ := httpGet(t, base+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d", code)
	}
	if got := exchange(t, srv.addrs["radius"], "alice", "correct horse"); got != radius.CodeAccessAccept {
		t.Fatalf("password login: %v", got)
	}
	exchange(t, srv.addrs["radius"], "alice", "wrong horse")
	_, metrics := httpGet(t, base+"/metrics")
	for _, want := range []string{
		`otpgate_requests_total{decision="accept",proto="radius",reason="ok",service="webmail"} 1`,
		`otpgate_requests_total{decision="reject",proto="radius",reason="bad-password",service="webmail"} 1`,
		`otpgate_radius_replies_total{code="access_accept"} 1`,
		`otpgate_store_query_duration_seconds_count{op="user_with_tokens"} 2`,
		`otpgate_build_info{`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, "correct horse") || strings.Contains(metrics, "wrong horse") {
		t.Fatal("/metrics contains a password")
	}
}
