package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otpgate/otpgate/verify"
)

var rfcKey = []byte("12345678901234567890")

func TestPINOTPFollowsTheCounter(t *testing.T) {
	t.Parallel()
	// RFC 4226 appendix D: counters 0, 1, 2 of the test key.
	u := &User{Name: "alice", PIN: "ab12", Key: rfcKey}
	for _, want := range []verify.Secret{"ab12755224", "ab12287082", "ab12359152"} {
		got, err := u.pinOTP()
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("password %q, want %q", got.Reveal(), want.Reveal())
		}
	}
	if u.NextCounter != 3 {
		t.Fatalf("next counter %d, want 3", u.NextCounter)
	}
}

func TestPINOTPNeedsAKey(t *testing.T) {
	t.Parallel()
	u := &User{Name: "plain", Password: "pw"}
	if _, err := u.pinOTP(); err == nil || !strings.Contains(err.Error(), "no hotp key") {
		t.Fatalf("err = %v, want no hotp key", err)
	}
}

func TestUsersFileRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.csv")
	in := []*User{
		{Name: "bench0000", Password: "p,w\"1", PIN: "ab12", Key: rfcKey, NextCounter: 7},
		{Name: "plain", Password: "secret"},
	}
	if err := WriteUsers(path, in); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	out, err := ReadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Name != "bench0000" || out[0].Password != in[0].Password ||
		out[0].PIN != "ab12" || string(out[0].Key) != string(rfcKey) || out[0].NextCounter != 7 ||
		out[1].Name != "plain" || out[1].Password != "secret" || len(out[1].Key) != 0 {
		t.Fatalf("read back %+v %+v", *out[0], *out[1])
	}
}

func TestReadUsersRefusesBadFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content, want string
	}{
		{name: "refuses a file without the header", content: "alice,pw,,,\n", want: "header"},
		{name: "refuses a key that is not hex", content: "name,password,pin,hotp_key_hex,next_counter\nalice,pw,ab12,zz,0\n", want: "line 2: hotp_key_hex"},
		{name: "refuses a bad counter", content: "name,password,pin,hotp_key_hex,next_counter\nalice,pw,ab12,00,x\n", want: "next_counter"},
		{name: "refuses an empty name", content: "name,password,pin,hotp_key_hex,next_counter\n,pw,,,\n", want: "empty name"},
		{name: "refuses a short line", content: "name,password,pin,hotp_key_hex,next_counter\nalice,pw\n", want: "fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "users.csv")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := ReadUsers(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "pw") {
				t.Errorf("error quotes a password: %v", err)
			}
		})
	}
}

func TestOptionsCheck(t *testing.T) {
	t.Parallel()
	base := Options{Proto: ProtoRADIUS, Addr: "127.0.0.1:1812", UsersFile: "u.csv"}
	tests := []struct {
		name   string
		modify func(*Options)
		ok     bool
	}{
		{name: "fills in the defaults", modify: func(*Options) {}, ok: true},
		{name: "refuses an unknown protocol", modify: func(o *Options) { o.Proto = "tacacs" }},
		{name: "refuses a missing address", modify: func(o *Options) { o.Addr = "" }},
		{name: "refuses an unknown mode", modify: func(o *Options) { o.Mode = "totp" }},
		{name: "refuses more than the hard duration cap", modify: func(o *Options) { o.Duration = MaxDuration + 1 }},
		{name: "refuses more than the hard request cap", modify: func(o *Options) { o.MaxRequests = MaxRequests + 1 }},
		{name: "refuses a negative concurrency", modify: func(o *Options) { o.Concurrency = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := base
			tt.modify(&o)
			err := o.check()
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if tt.ok && (o.Concurrency != 16 || o.Duration == 0 || o.MaxRequests != MaxRequests ||
				o.Mode != ModePINOTP || o.Secret != "testing123" || o.BindDNTemplate != DefaultBindDNTemplate) {
				t.Fatalf("defaults not filled in: %+v", o)
			}
		})
	}
}
