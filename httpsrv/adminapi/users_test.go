package adminapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

func TestUsers(t *testing.T) {
	t.Parallel()

	t.Run("lists no users as an empty array, then users ordered by name", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		r := f.do("GET", "/api/v1/users", nil)
		want(t, r, http.StatusOK)
		if got := strings.TrimSpace(string(r.body)); got != `{"users":[]}` {
			t.Fatalf("empty list is %s", got)
		}
		f.addUser("zoe@example.org")
		f.addUser("adam@example.org")
		var list struct{ Users []manage.UserInfo }
		f.do("GET", "/api/v1/users", nil).decode(t, &list)
		if len(list.Users) != 2 || list.Users[0].Name != "adam@example.org" || list.Users[1].Name != "zoe@example.org" {
			t.Fatalf("users %+v", list.Users)
		}
		f.noLeak(t, []string{password, adminToken})
	})

	t.Run("creates a user at level off and answers 201 with a Location", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		r := f.do("POST", "/api/v1/users", map[string]string{"name": "alice@example.org", "password": password})
		want(t, r, http.StatusCreated)
		var u manage.UserInfo
		r.decode(t, &u)
		if u.Name != "alice@example.org" || u.Level != verify.LevelOff || u.PINSet {
			t.Fatalf("user %+v", u)
		}
		if loc := r.header.Get("Location"); loc != "/api/v1/users/alice@example.org" {
			t.Fatalf("Location %q", loc)
		}
		dec := f.engine.Verify(t.Context(), verify.Request{User: "alice@example.org", Password: password, Service: "imap"})
		if dec.Outcome != verify.Accept {
			t.Fatalf("the new password does not log in: %v %v", dec.Outcome, dec.Reason)
		}
		if logs := f.logs.String(); !strings.Contains(logs, `"msg":"admin api request"`) ||
			!strings.Contains(logs, `"route":"POST /api/v1/users"`) || !strings.Contains(logs, `"status":201`) {
			t.Fatalf("no request record:\n%s", logs)
		}
		f.noLeak(t, []string{password, adminToken})
	})

	t.Run("creates, shows and deletes a user whose name holds a slash", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("ops/alice")
		var u manage.UserInfo
		r := f.do("GET", "/api/v1/users/ops%2Falice", nil)
		want(t, r, http.StatusOK)
		r.decode(t, &u)
		if u.Name != "ops/alice" {
			t.Fatalf("user %+v", u)
		}
		want(t, f.do("DELETE", "/api/v1/users/ops%2Falice", nil), http.StatusOK)
	})

	t.Run("refuses creating a user whose name is taken with 409", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		r := f.do("POST", "/api/v1/users", map[string]string{"name": "alice", "password": "other"})
		want(t, r, http.StatusConflict)
		if !strings.Contains(r.errorText(t), "already exists") {
			t.Fatalf("error %q", r.errorText(t))
		}
	})

	t.Run("shows a user with tokens and attributes", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		want(t, f.do("PUT", "/api/v1/users/alice/attributes/department", map[string]any{"values": []string{"Ops"}}), http.StatusOK)
		en, _ := f.enroll("alice", map[string]any{"type": "hotp", "description": "phone"})
		var u manage.UserInfo
		r := f.do("GET", "/api/v1/users/alice", nil)
		want(t, r, http.StatusOK)
		r.decode(t, &u)
		if len(u.Tokens) != 1 || u.Tokens[0].Serial != en.Serial || u.Tokens[0].State != "pending" ||
			u.Tokens[0].Description != "phone" {
			t.Fatalf("tokens %+v", u.Tokens)
		}
		if got := u.Attributes["department"]; len(got) != 1 || got[0] != "Ops" {
			t.Fatalf("attributes %+v", u.Attributes)
		}
	})

	t.Run("answers 404 for an unknown user on every user route", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/v1/users/nobody", nil},
			{"DELETE", "/api/v1/users/nobody", nil},
			{"PUT", "/api/v1/users/nobody/password", map[string]string{"password": password}},
			{"PUT", "/api/v1/users/nobody/pin", map[string]string{"pin": pin}},
			{"PUT", "/api/v1/users/nobody/level", map[string]string{"level": "web-otp"}},
			{"PUT", "/api/v1/users/nobody/attributes/department", map[string]any{"values": []string{"x"}}},
			{"POST", "/api/v1/users/nobody/unlock", nil},
			{"POST", "/api/v1/users/nobody/reset", map[string]string{"password": password}},
			{"POST", "/api/v1/users/nobody/rename", map[string]string{"new_name": "somebody"}},
			{"GET", "/api/v1/users/nobody/tokens", nil},
			{"POST", "/api/v1/users/nobody/tokens", map[string]string{"type": "totp"}},
		} {
			r := f.do(c.method, c.path, c.body)
			if r.status != http.StatusNotFound || !strings.Contains(r.errorText(t), "not found") {
				t.Errorf("%s %s: %d %s, want 404 not found", c.method, c.path, r.status, r.body)
			}
		}
		f.noLeak(t, []string{password, pin})
	})

	t.Run("deletes a user and their tokens", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		en, _ := f.enroll("alice", map[string]any{"type": "totp"})
		want(t, f.do("DELETE", "/api/v1/users/alice", nil), http.StatusOK)
		want(t, f.do("GET", "/api/v1/users/alice", nil), http.StatusNotFound)
		want(t, f.do("DELETE", "/api/v1/tokens/"+en.Serial, nil), http.StatusNotFound)
		want(t, f.do("DELETE", "/api/v1/users/alice", nil), http.StatusNotFound)
	})
}

func TestUserSecrets(t *testing.T) {
	t.Parallel()

	t.Run("sets a new password that then logs in", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		r := f.do("PUT", "/api/v1/users/alice/password", map[string]string{"password": newPassword})
		want(t, r, http.StatusOK)
		dec := f.engine.Verify(t.Context(), verify.Request{User: "alice", Password: newPassword, Service: "imap"})
		if dec.Outcome != verify.Accept {
			t.Fatalf("new password refused: %v", dec.Reason)
		}
		f.noLeak(t, []string{password, newPassword})
	})

	t.Run("refuses an empty password with the manager's message", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		for _, body := range []any{map[string]string{"password": ""}, map[string]string{}} {
			r := f.do("PUT", "/api/v1/users/alice/password", body)
			want(t, r, http.StatusBadRequest)
			if got := r.errorText(t); got != "invalid: password must be 1 to 1024 bytes" {
				t.Fatalf("error %q", got)
			}
		}
	})

	for _, c := range []struct {
		name      string
		pin       string
		status    int
		truncated bool
		errText   string
	}{
		{name: "sets a PIN of exactly the PIN length", pin: pin, status: http.StatusOK},
		{name: "cuts a longer PIN and says so", pin: pin + "77", status: http.StatusOK, truncated: true},
		{name: "refuses a short PIN with 400", pin: "Zq9", status: http.StatusBadRequest, errText: "invalid: PIN must have 4 characters"},
		{name: "refuses a PIN with punctuation with 400", pin: "Zq!x", status: http.StatusBadRequest,
			errText: "invalid: PIN may contain only letters and digits"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.addUser("alice")
			r := f.do("PUT", "/api/v1/users/alice/pin", map[string]string{"pin": c.pin})
			want(t, r, c.status)
			if c.errText != "" {
				if got := r.errorText(t); got != c.errText {
					t.Fatalf("error %q, want %q", got, c.errText)
				}
				return
			}
			var res pinResult
			r.decode(t, &res)
			if res.Truncated != c.truncated || res.Name != "alice" {
				t.Fatalf("reply %+v", res)
			}
			var u manage.UserInfo
			f.do("GET", "/api/v1/users/alice", nil).decode(t, &u)
			if !u.PINSet {
				t.Fatal("the PIN is not set")
			}
			f.noLeak(t, []string{c.pin, password})
		})
	}

	t.Run("resets a user: new password, level off, failures cleared", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		want(t, f.do("PUT", "/api/v1/users/alice/pin", map[string]string{"pin": pin}), http.StatusOK)
		want(t, f.do("PUT", "/api/v1/users/alice/level", map[string]string{"level": verify.LevelWebOTP}), http.StatusOK)
		f.engine.Verify(t.Context(), verify.Request{User: "alice", Password: "wrong", Service: "imap"})
		r := f.do("POST", "/api/v1/users/alice/reset", map[string]string{"password": newPassword})
		want(t, r, http.StatusOK)
		var u manage.UserInfo
		f.do("GET", "/api/v1/users/alice", nil).decode(t, &u)
		if u.Level != verify.LevelOff || u.FailCount != 0 || !u.PINSet {
			t.Fatalf("after reset %+v", u)
		}
		dec := f.engine.Verify(t.Context(), verify.Request{User: "alice", Password: newPassword, Service: "webmail"})
		if dec.Outcome != verify.Accept {
			t.Fatalf("new password refused: %v", dec.Reason)
		}
		want(t, f.do("POST", "/api/v1/users/alice/reset", map[string]string{"password": ""}), http.StatusBadRequest)
		f.noLeak(t, []string{password, newPassword, pin})
	})
}

func TestUserSettings(t *testing.T) {
	t.Parallel()

	t.Run("sets a level and warns about the missing PIN and token", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		var res levelResult
		r := f.do("PUT", "/api/v1/users/alice/level", map[string]string{"level": verify.LevelWebOTP})
		want(t, r, http.StatusOK)
		r.decode(t, &res)
		if res.Level != verify.LevelWebOTP || len(res.Warnings) != 2 {
			t.Fatalf("reply %+v", res)
		}
	})

	t.Run("answers level off without warnings as an empty array", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		r := f.do("PUT", "/api/v1/users/alice/level", map[string]string{"level": verify.LevelOff})
		want(t, r, http.StatusOK)
		if !strings.Contains(string(r.body), `"warnings":[]`) {
			t.Fatalf("reply %s", r.body)
		}
	})

	t.Run("refuses an unknown level with 400", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		r := f.do("PUT", "/api/v1/users/alice/level", map[string]string{"level": "paranoid"})
		want(t, r, http.StatusBadRequest)
		if got := r.errorText(t); got != `invalid: unknown level "paranoid"` {
			t.Fatalf("error %q", got)
		}
	})

	t.Run("unlocks a user with failures", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		for range 3 {
			f.engine.Verify(t.Context(), verify.Request{User: "alice", Password: "wrong", Service: "imap"})
		}
		var u manage.UserInfo
		f.do("GET", "/api/v1/users/alice", nil).decode(t, &u)
		if u.FailCount != 3 {
			t.Fatalf("fail count %d before unlock", u.FailCount)
		}
		want(t, f.do("POST", "/api/v1/users/alice/unlock", nil), http.StatusOK)
		want(t, f.do("POST", "/api/v1/users/alice/unlock", "{}"), http.StatusOK)
		f.do("GET", "/api/v1/users/alice", nil).decode(t, &u)
		if u.FailCount != 0 || u.LockedUntil != nil {
			t.Fatalf("after unlock %+v", u)
		}
		want(t, f.do("POST", "/api/v1/users/alice/unlock", `{"force":true}`), http.StatusBadRequest)
	})

	t.Run("renames a user at level off and points Location at the new name", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		r := f.do("POST", "/api/v1/users/alice/rename", map[string]string{"new_name": "alice2"})
		want(t, r, http.StatusOK)
		if loc := r.header.Get("Location"); loc != "/api/v1/users/alice2" {
			t.Fatalf("Location %q", loc)
		}
		want(t, f.do("GET", "/api/v1/users/alice2", nil), http.StatusOK)
		want(t, f.do("GET", "/api/v1/users/alice", nil), http.StatusNotFound)
	})

	for _, c := range []struct {
		name    string
		level   string
		newName string
		status  int
		errText string
	}{
		{name: "refuses renaming a user with 2FA on with 409", level: verify.LevelWebOTP, newName: "alice2",
			status: http.StatusConflict, errText: "refused: user alice has level web-otp; set it to off before renaming"},
		{name: "refuses renaming onto a taken name with 409", level: verify.LevelOff, newName: "bob",
			status: http.StatusConflict, errText: "already exists"},
		{name: "refuses renaming to a name with a space with 400", level: verify.LevelOff, newName: "al ice",
			status: http.StatusBadRequest, errText: "invalid: user name must not contain spaces, control characters or ':'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.addUser("alice")
			f.addUser("bob")
			want(t, f.do("PUT", "/api/v1/users/alice/level", map[string]string{"level": c.level}), http.StatusOK)
			r := f.do("POST", "/api/v1/users/alice/rename", map[string]string{"new_name": c.newName})
			want(t, r, c.status)
			if got := r.errorText(t); !strings.HasSuffix(got, c.errText) {
				t.Fatalf("error %q, want it to end in %q", got, c.errText)
			}
		})
	}

	t.Run("sets, replaces and removes a directory attribute", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.addUser("alice")
		var u manage.UserInfo
		want(t, f.do("PUT", "/api/v1/users/alice/attributes/Department", map[string]any{"values": []string{"Ops", "Sec"}}), http.StatusOK)
		f.do("GET", "/api/v1/users/alice", nil).decode(t, &u)
		if got := u.Attributes["department"]; len(got) != 2 {
			t.Fatalf("attributes %+v", u.Attributes)
		}
		want(t, f.do("PUT", "/api/v1/users/alice/attributes/department", map[string]any{"values": []string{}}), http.StatusOK)
		u = manage.UserInfo{}
		f.do("GET", "/api/v1/users/alice", nil).decode(t, &u)
		if len(u.Attributes) != 0 {
			t.Fatalf("attribute not removed: %+v", u.Attributes)
		}
	})

	for _, c := range []struct {
		name, attr, body, errText string
	}{
		{name: "refuses setting a reserved attribute with 400", attr: "uid", body: `{"values":["x"]}`,
			errText: "invalid: attribute uid is computed by otpgate and cannot be set"},
		{name: "refuses an attribute request without values with 400", attr: "department", body: `{}`,
			errText: `field "values" is required ([] removes the attribute)`},
		{name: "refuses an attribute value that is not a string with 400", attr: "department", body: `{"values":[1]}`,
			errText: `field "values" must be a string`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.addUser("alice")
			r := f.do("PUT", "/api/v1/users/alice/attributes/"+c.attr, c.body)
			want(t, r, http.StatusBadRequest)
			if got := r.errorText(t); got != c.errText {
				t.Fatalf("error %q, want %q", got, c.errText)
			}
		})
	}
}
