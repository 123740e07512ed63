// Package conf loads and strictly validates otpgate's one TOML config file.
//
// A config starts from the built-in defaults ([Default]); a file overlays
// them key by key, except for the [services] and [policy] tables, which a
// file replaces wholesale when it has them, so that operators can remove
// entries. Unknown keys, keys that are not lower-case, integer durations and
// out-of-range values are errors; [Load] reports all of them at once as
// [Errors], each naming "file:line: key: message".
package conf

import (
	"maps"
	"slices"
	"time"
)

// Config is otpgate's whole configuration. The zero value is not valid; start
// from [Default], [Load] or [Find].
type Config struct {
	// File is the path the config was loaded from, "" for the built-in
	// defaults. It is not a TOML key.
	File string `toml:"-"`

	KeyFile   string `toml:"key_file"`   // master key file; default "otpgate.key"
	PINLength int    `toml:"pin_length"` // PIN characters, 4..16; default 4
	Issuer    string `toml:"issuer"`     // otpauth issuer; default "otpgate"; no ':', at most 64 characters

	Store Store `toml:"store"`

	// Services maps a service name to its class. A [services] table in a
	// file replaces the default table wholesale.
	Services map[string]Service `toml:"services"`

	// Policy maps level -> class -> mode. A [policy] table in a file
	// replaces the default table wholesale. Valid configs have the levels
	// "off", "web-otp" and "web-otp-only", and every level gives a mode for
	// every class a service uses.
	Policy map[string]map[string]string `toml:"policy"`

	Tokens     Tokens     `toml:"tokens"`
	BruteForce BruteForce `toml:"bruteforce"`
	Passwords  Passwords  `toml:"passwords"`
	Log        Log        `toml:"log"`
	Radius     Radius     `toml:"radius"`
	LDAP       LDAP       `toml:"ldap"`
	HTTP       HTTP       `toml:"http"`
	YubiKey    YubiKey    `toml:"yubikey"`
}

// Store selects and tunes the database that holds users, tokens and replay
// and lock-out state.
type Store struct {
	// Driver is "sqlite" (default). "mysql" is reserved and rejected by
	// this build.
	Driver  string        `toml:"driver"`
	Path    string        `toml:"path"`    // SQLite database file; default "otpgate.db"
	Timeout time.Duration `toml:"timeout"` // deadline of one store request, 10ms..60s; default 2s
	// LoginCache is how many users the SQLite store keeps in memory with
	// their tokens for logins, 0 (off) to 10,000,000; default 20,000.
	LoginCache int `toml:"login_cache"`

	// The keys below are for driver = "mysql" and are checked only then.

	Host         string `toml:"host"`          // default "127.0.0.1"
	Port         int    `toml:"port"`          // default 3306
	User         string `toml:"user"`          // default "otpgate"
	Password     string `toml:"password"`      // prefer password_file
	PasswordFile string `toml:"password_file"` // file holding the password (first line)
	Database     string `toml:"database"`      // default "otpgate"

	DialTimeout  time.Duration `toml:"dial_timeout"`  // default 3s
	ReadTimeout  time.Duration `toml:"read_timeout"`  // default 5s
	WriteTimeout time.Duration `toml:"write_timeout"` // default 5s

	MaxOpenConns    int           `toml:"max_open_conns"`     // default 32
	MaxIdleConns    int           `toml:"max_idle_conns"`     // default 16
	ConnMaxLifetime time.Duration `toml:"conn_max_lifetime"`  // default 5m; keep below the server's wait_timeout
	ConnMaxIdleTime time.Duration `toml:"conn_max_idle_time"` // default 1m

	TLS StoreTLS `toml:"tls"`
}

// Service is one entry of the services table.
type Service struct {
	Class string `toml:"class"` // policy class, e.g. "web" or "other"
	// Challenge lets RADIUS ask for the OTP in a second step
	// (Access-Challenge) when the password field holds only the PIN, or
	// only the password in password+otp mode. Default false.
	Challenge bool `toml:"challenge"`
}

// Tokens holds the token check windows and the enrollment defaults.
type Tokens struct {
	HOTPWindow   int           `toml:"hotp_window"`   // counters tried per HOTP check, 1..100; default 10
	ResyncWindow int           `toml:"resync_window"` // counters searched by a resync, 2..10000, >= HOTPWindow; default 100
	TOTPSkew     int           `toml:"totp_skew"`     // TOTP steps accepted either side of now, 0..10; default 1
	MOTPSkew     time.Duration `toml:"motp_skew"`     // mOTP clock tolerance either side, 0..600s; default 180s
	Digits       int           `toml:"digits"`        // enrollment default, 6 or 8; default 6
	Algorithm    string        `toml:"algorithm"`     // enrollment default, SHA1, SHA256 or SHA512; default SHA1
	Period       time.Duration `toml:"period"`        // TOTP enrollment default, 30s or 60s; default 30s
}

// BruteForce tunes the per-user back-off and the per-source throttle.
type BruteForce struct {
	MaxFail       int           `toml:"max_fail"`        // failures before the back-off starts, 1..1000; default 10
	Backoff       time.Duration `toml:"backoff"`         // first back-off, 1s..1h; default 30s
	MaxBackoff    time.Duration `toml:"max_backoff"`     // cap of the doubling back-off, Backoff..24h; default 15m
	SourceMaxFail int           `toml:"source_max_fail"` // failures per source address and window, 0 (off)..100000; default 50
	SourceWindow  time.Duration `toml:"source_window"`   // window of SourceMaxFail, 1s..24h; default 1m
	// SourceExempt lists prefixes (netip.ParsePrefix syntax) that are never
	// throttled; default 127.0.0.0/8 and ::1/128.
	SourceExempt []string `toml:"source_exempt"`
}

// Passwords holds the argon2id parameters otpgate uses when it writes a
// password hash. Existing hashes carry their own parameters.
type Passwords struct {
	Argon2Time    uint32 `toml:"argon2_time"`    // passes, 1..10; default 2
	Argon2Memory  uint32 `toml:"argon2_memory"`  // KiB, 8192..1048576; default 19456
	Argon2Threads uint8  `toml:"argon2_threads"` // lanes, 1..16; default 1
	// CacheTTL is how long a matched account password is remembered (see
	// verify.PasswordCache), 0 (off, the default) to 1h; CacheSize bounds
	// the entries, 1..1,000,000, default 10,000.
	CacheTTL  time.Duration `toml:"cache_ttl"`
	CacheSize int           `toml:"cache_size"`
}

// Log configures the diagnostic log and the audit records.
type Log struct {
	Format string `toml:"format"` // "json" (default) or "text"
	Level  string `toml:"level"`  // "debug", "info" (default), "warn" or "error"
	Audit  string `toml:"audit"`  // "stdout" (default), "stderr" or a file path
}

// Default returns the built-in configuration. Every call returns a fresh
// value that the caller may modify; it passes [Config.Validate].
func Default() *Config {
	return &Config{
		KeyFile:   "otpgate.key",
		PINLength: 4,
		Issuer:    "otpgate",
		Store:     defaultStore(),
		Services: map[string]Service{
			"webmail":    {Class: "web"},
			"imap":       {Class: "other"},
			"pop3":       {Class: "other"},
			"smtp":       {Class: "other"},
			"dav":        {Class: "other"},
			"activesync": {Class: "other"},
		},
		Policy: map[string]map[string]string{
			"off":          {"web": "password", "other": "password"},
			"web-otp":      {"web": "pin+otp", "other": "password"},
			"web-otp-only": {"web": "pin+otp", "other": "reject"},
		},
		Tokens: Tokens{
			HOTPWindow: 10, ResyncWindow: 100, TOTPSkew: 1, MOTPSkew: 180 * time.Second,
			Digits: 6, Algorithm: "SHA1", Period: 30 * time.Second,
		},
		BruteForce: BruteForce{
			MaxFail: 10, Backoff: 30 * time.Second, MaxBackoff: 15 * time.Minute,
			SourceMaxFail: 50, SourceWindow: time.Minute,
			SourceExempt: []string{"127.0.0.0/8", "::1/128"},
		},
		Passwords: Passwords{Argon2Time: 2, Argon2Memory: 19456, Argon2Threads: 1, CacheSize: 10000},
		Log:       Log{Format: "json", Level: "info", Audit: "stdout"},
		Radius:    defaultRadius(),
		LDAP:      defaultLDAP(),
		HTTP:      defaultHTTP(),
		YubiKey:   defaultYubiKey(),
	}
}

// ServiceClass returns the class of the named service and whether the
// service is configured. Names match exactly (they are lower-case).
func (c *Config) ServiceClass(name string) (string, bool) {
	s, ok := c.Services[name]
	return s.Class, ok
}

// Levels returns the level names of the policy, sorted.
func (c *Config) Levels() []string {
	return slices.Sorted(maps.Keys(c.Policy))
}
