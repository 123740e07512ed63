package integration

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAdminAPI drives the admin API of "otpgate serve" with a token made
// by "otpgate admin-token": create a user, enroll a TOTP, test it with
// oathtool, and check the user over the CLI.
func TestAdminAPI(t *testing.T) {
	t.Parallel()
	oathtool := requireTool(t, "oathtool")
	in := newInstance(t)
	out := in.mustRun("", "admin-token")
	token, digestLine := field(t, out, "token"), strings.TrimSpace(strings.SplitN(out, "\n", 3)[1])
	srv := in.serve("[radius]\nlisten = []\n[ldap]\nlisten = []\n[http.admin]\nenabled = true\n" + digestLine + "\n")
	base := "http://" + srv.addrs["http"] + "/api/v1"
	call := func(method, path string, body any, auth string) (int, map[string]any) {
		t.Helper()
		var rd bytes.Buffer
		if body != nil {
			json.NewEncoder(&rd).Encode(body)
		}
		req, _ := http.NewRequest(method, base+path, &rd)
		req.Header.Set("Authorization", "Bearer "+auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if code, _ := call("GET", "/users", nil, token+"x"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	if code, m := call("POST", "/users", map[string]string{"name": "carol", "password": "correct horse"}, token); code != http.StatusCreated {
		t.Fatalf("create user: %d %v", code, m)
	}
	code, m := call("POST", "/users/carol/tokens", map[string]any{"type": "totp"}, token)
	if code != http.StatusCreated {
		t.Fatalf("enroll: %d %v", code, m)
	}
	u, err := url.Parse(m["uri"].(string))
	if err != nil {
		t.Fatal(err)
	}
	otp := oathTOTP(t, oathtool, u.Query().Get("secret"), time.Now())
	if code, m := call("POST", "/users/carol/tokens/"+m["serial"].(string)+"/test", map[string]string{"otp": otp}, token); code != http.StatusOK {
		t.Fatalf("test: %d %v", code, m)
	}
	if out := in.mustRun("", "token", "list", "carol"); !strings.Contains(out, "active") {
		t.Fatalf("the CLI does not see the active token:\n%s", out)
	}
}
