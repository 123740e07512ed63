package conf

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestValidateReportsEachRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string
	}{
		{"rejects an empty key_file", func(c *Config) { c.KeyFile = "" },
			[]string{"(defaults): key_file: must not be empty"}},
		{"rejects a PIN shorter than 4", func(c *Config) { c.PINLength = 3 },
			[]string{"(defaults): pin_length: must be between 4 and 16, not 3"}},
		{"rejects a PIN longer than 16", func(c *Config) { c.PINLength = 17 },
			[]string{"(defaults): pin_length: must be between 4 and 16, not 17"}},
		{"rejects an empty issuer", func(c *Config) { c.Issuer = "" },
			[]string{"(defaults): issuer: must not be empty"}},
		{"rejects an issuer with a colon", func(c *Config) { c.Issuer = "Mail:Box" },
			[]string{"(defaults): issuer: must not contain ':' (otpauth URIs use it as the separator)"}},
		{"rejects an issuer of 65 characters", func(c *Config) { c.Issuer = strings.Repeat("é", 65) },
			[]string{"(defaults): issuer: must be at most 64 characters"}},
		{"accepts an issuer of 64 multi-byte characters", func(c *Config) { c.Issuer = strings.Repeat("é", 64) },
			nil},
		{"accepts the mysql driver with the default mysql keys", func(c *Config) { c.Store.Driver = "mysql" }, nil},
		{"rejects a missing mysql password file", func(c *Config) {
			c.Store.Driver, c.Store.PasswordFile = "mysql", "/nonexistent/otpgate.pw"
		}, []string{"(defaults): store.password_file: open /nonexistent/otpgate.pw: no such file or directory"}},
		{"rejects an unknown driver", func(c *Config) { c.Store.Driver = "postgres" },
			[]string{`(defaults): store.driver: must be "sqlite", not "postgres"`}},
		{"rejects an empty store path", func(c *Config) { c.Store.Path = "" },
			[]string{"(defaults): store.path: must not be empty"}},
		{"rejects a RADIUS client naming an unknown service", func(c *Config) { c.Radius.Clients[0].Service = "gopher" },
			[]string{`(defaults): radius.clients.1.service: unknown service "gopher" (see [services])`}},
		{"rejects a RADIUS client with both secret and secret_file", func(c *Config) { c.Radius.Clients[0].SecretFile = "/nonexistent" },
			[]string{"(defaults): radius.clients.1.secret: set exactly one of secret and secret_file"}},
		{"rejects a short RADIUS secret", func(c *Config) { c.Radius.Clients[0].Secret = "short" },
			[]string{"(defaults): radius.clients.1.secret: must have at least 8 characters"}},
		{"rejects a bad RADIUS network and listen address", func(c *Config) {
			c.Radius.Clients[0].Network = "10.0.0.0"
			c.Radius.Listen = []string{"localhost:1812"}
		}, []string{`(defaults): radius.listen: entry 1 ("localhost:1812") is not an address:port such as "127.0.0.1:1812" or "[::1]:1812"`,
			`(defaults): radius.clients.1.network: "10.0.0.0" is not a prefix such as "192.0.2.0/24"`}},
		{"rejects LDAPS without a certificate", func(c *Config) { c.LDAP.LDAPSListen = []string{"127.0.0.1:1636"} },
			[]string{"(defaults): ldap.ldaps_listen: needs [ldap.tls] cert_file and key_file"}},
		{"rejects a user DN template without {user} or outside the base", func(c *Config) {
			c.LDAP.UserDNTemplates = []string{"uid=alice,ou=people,dc=example,dc=org", "uid={user},dc=other,dc=org"}
		}, []string{`(defaults): ldap.user_dn_templates: entry 1 ("uid=alice,ou=people,dc=example,dc=org") must contain {user} once and end with base_dn`,
			`(defaults): ldap.user_dn_templates: entry 2 ("uid={user},dc=other,dc=org") must contain {user} once and end with base_dn`}},
		{"rejects a clear-text service account password", func(c *Config) {
			c.LDAP.ServiceAccounts = []LDAPServiceAccount{{DN: "cn=webmail,dc=example,dc=org", PasswordHash: "hunter2"}}
		}, []string{"(defaults): ldap.service_accounts.1.password_hash: must be a hash ($argon2id$..., $2b$..., $6$..., {SSHA}...), never a clear-text password"}},
		{"rejects a store timeout below 10ms", func(c *Config) { c.Store.Timeout = 9 * time.Millisecond },
			[]string{"(defaults): store.timeout: must be between 10ms and 1m, not 9ms"}},
		{"rejects no services", func(c *Config) { c.Services, c.Radius.Clients, c.LDAP.Listen = nil, nil, nil },
			[]string{"(defaults): services: at least one service is required"}},
		{"rejects a service name with a slash", func(c *Config) { c.Services["a/b"] = Service{Class: "web"} },
			[]string{`(defaults): services."a/b": invalid service name: want 1-63 of a-z 0-9 _ . - starting with a letter or digit`}},
		{"accepts a service name with dots", func(c *Config) { c.Services["mail.example"] = Service{Class: "web"} },
			nil},
		{"rejects a service name of 64 characters", func(c *Config) { c.Services[strings.Repeat("s", 64)] = Service{Class: "web"} },
			[]string{"(defaults): services." + strings.Repeat("s", 64) + ": invalid service name: want 1-63 of a-z 0-9 _ . - starting with a letter or digit"}},
		{"rejects a service without a class", func(c *Config) { c.Services["vpn"] = Service{} },
			[]string{`(defaults): services.vpn.class: missing: every service needs a class`}},
		{"rejects a class starting with a digit", func(c *Config) { c.Services["vpn"] = Service{Class: "1x"} },
			[]string{`(defaults): services.vpn.class: invalid class "1x": want 1-32 of a-z 0-9 _ - starting with a letter`}},
		{"names every level missing a class a service uses", func(c *Config) { c.Services["vpn"] = Service{Class: "vpn"} },
			[]string{
				`(defaults): policy.off.vpn: missing mode for class "vpn", used by services.vpn`,
				`(defaults): policy.web-otp.vpn: missing mode for class "vpn", used by services.vpn`,
				`(defaults): policy.web-otp-only.vpn: missing mode for class "vpn", used by services.vpn`,
			}},
		{"accepts a policy class no service uses", func(c *Config) { c.Policy["off"]["vpn"] = "reject" },
			nil},
		{"rejects a missing required level", func(c *Config) { delete(c.Policy, "web-otp-only") },
			[]string{"(defaults): policy.web-otp-only: missing level: otpgate assigns it to users"}},
		{"rejects a level name in upper case", func(c *Config) { c.Policy["Strict"] = map[string]string{"web": "reject", "other": "reject"} },
			[]string{"(defaults): policy.Strict: invalid level name: want 1-32 of a-z 0-9 _ - starting with a letter"}},
		{"rejects a policy class name in upper case", func(c *Config) { c.Policy["off"]["VPN"] = "reject" },
			[]string{"(defaults): policy.off.VPN: invalid class name: want 1-32 of a-z 0-9 _ - starting with a letter"}},
		{"rejects an unknown mode", func(c *Config) { c.Policy["web-otp"]["web"] = "otp" },
			[]string{`(defaults): policy.web-otp.web: must be "password", "pin+otp", "password+otp" or "reject", not "otp"`}},
		{"rejects a zero HOTP window", func(c *Config) { c.Tokens.HOTPWindow = 0 },
			[]string{"(defaults): tokens.hotp_window: must be between 1 and 100, not 0"}},
		{"rejects a resync window smaller than the HOTP window", func(c *Config) { c.Tokens.HOTPWindow, c.Tokens.ResyncWindow = 50, 40 },
			[]string{"(defaults): tokens.resync_window: must be at least hotp_window (50), not 40"}},
		{"rejects a resync window above 10000", func(c *Config) { c.Tokens.ResyncWindow = 10001 },
			[]string{"(defaults): tokens.resync_window: must be between 2 and 10000, not 10001"}},
		{"rejects a TOTP skew of 11", func(c *Config) { c.Tokens.TOTPSkew = 11 },
			[]string{"(defaults): tokens.totp_skew: must be between 0 and 10, not 11"}},
		{"rejects an mOTP skew above 600s", func(c *Config) { c.Tokens.MOTPSkew = 601 * time.Second },
			[]string{"(defaults): tokens.motp_skew: must be between 0s and 10m, not 601s"}},
		{"rejects 7 digits", func(c *Config) { c.Tokens.Digits = 7 },
			[]string{"(defaults): tokens.digits: must be 6 or 8, not 7"}},
		{"rejects a lower-case algorithm", func(c *Config) { c.Tokens.Algorithm = "sha1" },
			[]string{`(defaults): tokens.algorithm: must be "SHA1", "SHA256" or "SHA512", not "sha1"`}},
		{"rejects a 45s period", func(c *Config) { c.Tokens.Period = 45 * time.Second },
			[]string{`(defaults): tokens.period: must be "30s" or "60s", not 45s`}},
		{"accepts a 60s period", func(c *Config) { c.Tokens.Period = time.Minute },
			nil},
		{"rejects max_fail 0", func(c *Config) { c.BruteForce.MaxFail = 0 },
			[]string{"(defaults): bruteforce.max_fail: must be between 1 and 1000, not 0"}},
		{"rejects a back-off above an hour", func(c *Config) { c.BruteForce.Backoff = 61 * time.Minute },
			[]string{
				"(defaults): bruteforce.backoff: must be between 1s and 1h, not 61m",
				"(defaults): bruteforce.max_backoff: must be at least backoff (61m), not 15m",
			}},
		{"rejects a max back-off above a day", func(c *Config) { c.BruteForce.MaxBackoff = 25 * time.Hour },
			[]string{"(defaults): bruteforce.max_backoff: must be between 1s and 24h, not 25h"}},
		{"accepts source_max_fail 0 as off", func(c *Config) { c.BruteForce.SourceMaxFail = 0 },
			nil},
		{"rejects a negative source_max_fail", func(c *Config) { c.BruteForce.SourceMaxFail = -1 },
			[]string{"(defaults): bruteforce.source_max_fail: must be between 0 and 100000, not -1"}},
		{"rejects a sub-second source window", func(c *Config) { c.BruteForce.SourceWindow = 500 * time.Millisecond },
			[]string{"(defaults): bruteforce.source_window: must be between 1s and 24h, not 500ms"}},
		{"rejects an address without a prefix length", func(c *Config) { c.BruteForce.SourceExempt = []string{"::1/128", "192.0.2.10"} },
			[]string{`(defaults): bruteforce.source_exempt: entry 2 ("192.0.2.10") is not a prefix such as "192.0.2.10/32"`}},
		{"accepts an empty exempt list", func(c *Config) { c.BruteForce.SourceExempt = nil },
			nil},
		{"rejects argon2 time 0", func(c *Config) { c.Passwords.Argon2Time = 0 },
			[]string{"(defaults): passwords.argon2_time: must be between 1 and 10, not 0"}},
		{"rejects argon2 memory below 8 MiB", func(c *Config) { c.Passwords.Argon2Memory = 8191 },
			[]string{"(defaults): passwords.argon2_memory: must be between 8192 and 1048576, not 8191"}},
		{"rejects 17 argon2 threads", func(c *Config) { c.Passwords.Argon2Threads = 17 },
			[]string{"(defaults): passwords.argon2_threads: must be between 1 and 16, not 17"}},
		{"rejects an unknown log format", func(c *Config) { c.Log.Format = "xml" },
			[]string{`(defaults): log.format: must be "json" or "text", not "xml"`}},
		{"rejects an unknown log level", func(c *Config) { c.Log.Level = "trace" },
			[]string{`(defaults): log.level: must be "debug", "info", "warn" or "error", not "trace"`}},
		{"rejects an empty audit target", func(c *Config) { c.Log.Audit = "" },
			[]string{`(defaults): log.audit: must be "stdout", "stderr" or a file path`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tt.mutate(c)
			var got []string
			if err := c.Validate(); err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate()\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestValidateNamesTheFileItWasLoadedFrom(t *testing.T) {
	t.Parallel()
	c := Default()
	c.File = "/etc/otpgate.toml"
	c.PINLength = 2
	c.Log.Level = "loud"
	want := "/etc/otpgate.toml: pin_length: must be between 4 and 16, not 2\n" +
		"/etc/otpgate.toml: log.level: must be \"debug\", \"info\", \"warn\" or \"error\", not \"loud\""
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want\n%s", err, want)
	}
}

func TestValidateReturnsAnUntypedNilWhenValid(t *testing.T) {
	t.Parallel()
	if err := Default().Validate(); err != nil {
		t.Fatalf("Validate() = %#v, want nil", err)
	}
}
