package conf

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

var (
	serviceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)
	classNameRE   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`) // also level names
)

// Validate checks every rule of the config and returns nil or [Errors]
// listing all problems as "file: key: message" (file is "(defaults)" when
// c.File is empty). Validate knows no line numbers; [Load] adds them.
func (c *Config) Validate() error {
	file := cmp.Or(c.File, defaultsFile)
	var errs Errors
	for _, p := range c.problems() {
		errs = append(errs, &Error{File: file, Key: p.key.String(), Message: p.msg})
	}
	return errs.orNil()
}

// problem is one broken rule, before a file and line are attached.
type problem struct {
	key toml.Key
	msg string
}

// checker collects problems so that all of them are reported at once.
type checker struct{ problems []problem }

func (ch *checker) addf(key toml.Key, format string, args ...any) {
	ch.problems = append(ch.problems, problem{key: key, msg: fmt.Sprintf(format, args...)})
}

func (ch *checker) intRange(key toml.Key, v, lo, hi int64) {
	if v < lo || v > hi {
		ch.addf(key, "must be between %d and %d, not %d", lo, hi, v)
	}
}

func (ch *checker) durRange(key toml.Key, v, lo, hi time.Duration) {
	if v < lo || v > hi {
		ch.addf(key, "must be between %s and %s, not %s", fmtDur(lo), fmtDur(hi), fmtDur(v))
	}
}

func (ch *checker) oneOf(key toml.Key, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		ch.addf(key, "must be %s, not %q", quotedList(allowed), v)
	}
}

func (ch *checker) nonEmpty(key toml.Key, v string) {
	if v == "" {
		ch.addf(key, "must not be empty")
	}
}

// problems returns every broken rule of c, in a fixed order.
func (c *Config) problems() []problem {
	var ch checker
	ch.nonEmpty(toml.Key{"key_file"}, c.KeyFile)
	ch.intRange(toml.Key{"pin_length"}, int64(c.PINLength), 4, 16)
	ch.issuer(c.Issuer)
	ch.store(c.Store)
	ch.services(c.Services)
	ch.policy(c.Policy, c.Services)
	ch.tokens(c.Tokens)
	ch.bruteForce(c.BruteForce)
	ch.passwords(c.Passwords)
	ch.log(c.Log)
	ch.radius(c.Radius, c.Services)
	ch.ldap(c.LDAP, c.Services)
	ch.http(c.HTTP, c.Services)
	ch.yubikey(c.YubiKey, c.HTTP)
	return ch.problems
}

func (ch *checker) issuer(issuer string) {
	key := toml.Key{"issuer"}
	switch {
	case issuer == "":
		ch.addf(key, "must not be empty")
	case strings.Contains(issuer, ":"):
		ch.addf(key, "must not contain ':' (otpauth URIs use it as the separator)")
	case utf8.RuneCountInString(issuer) > 64:
		ch.addf(key, "must be at most 64 characters")
	}
}

func (ch *checker) store(s Store) {
	switch s.Driver {
	case "sqlite":
	case "mysql":
		ch.mysql(s)
	default:
		ch.addf(toml.Key{"store", "driver"}, `must be "sqlite", not %q`, s.Driver)
	}
	if s.Driver != "mysql" {
		ch.nonEmpty(toml.Key{"store", "path"}, s.Path)
	}
	ch.durRange(toml.Key{"store", "timeout"}, s.Timeout, 10*time.Millisecond, time.Minute)
	ch.intRange(toml.Key{"store", "login_cache"}, int64(s.LoginCache), 0, 10_000_000)
}

func (ch *checker) services(services map[string]Service) {
	if len(services) == 0 {
		ch.addf(toml.Key{"services"}, "at least one service is required")
	}
	for _, name := range slices.Sorted(maps.Keys(services)) {
		if !serviceNameRE.MatchString(name) {
			ch.addf(toml.Key{"services", name},
				"invalid service name: want 1-63 of a-z 0-9 _ . - starting with a letter or digit")
		}
		switch class := services[name].Class; {
		case class == "":
			ch.addf(toml.Key{"services", name, "class"}, "missing: every service needs a class")
		case !classNameRE.MatchString(class):
			ch.addf(toml.Key{"services", name, "class"},
				"invalid class %q: want 1-32 of a-z 0-9 _ - starting with a letter", class)
		}
	}
}

// policy checks the level -> class -> mode table against the classes the
// services use.
func (ch *checker) policy(policy map[string]map[string]string, services map[string]Service) {
	for _, level := range []string{"off", "web-otp", "web-otp-only"} {
		if _, ok := policy[level]; !ok {
			ch.addf(toml.Key{"policy", level}, "missing level: otpgate assigns it to users")
		}
	}
	usedBy := make(map[string]string) // class -> first service (by name) using it
	for _, name := range slices.Sorted(maps.Keys(services)) {
		if class := services[name].Class; usedBy[class] == "" {
			usedBy[class] = name
		}
	}
	for _, level := range slices.Sorted(maps.Keys(policy)) {
		if !classNameRE.MatchString(level) {
			ch.addf(toml.Key{"policy", level},
				"invalid level name: want 1-32 of a-z 0-9 _ - starting with a letter")
		}
		ch.levelModes(level, policy[level], usedBy)
	}
}

func (ch *checker) levelModes(level string, modes map[string]string, usedBy map[string]string) {
	for _, class := range slices.Sorted(maps.Keys(modes)) {
		key := toml.Key{"policy", level, class}
		if !classNameRE.MatchString(class) {
			ch.addf(key, "invalid class name: want 1-32 of a-z 0-9 _ - starting with a letter")
		}
		ch.oneOf(key, modes[class], "password", "pin+otp", "password+otp", "reject")
	}
	for _, class := range slices.Sorted(maps.Keys(usedBy)) {
		if _, ok := modes[class]; !ok && classNameRE.MatchString(class) {
			ch.addf(toml.Key{"policy", level, class}, "missing mode for class %q, used by %s",
				class, toml.Key{"services", usedBy[class]})
		}
	}
}

func (ch *checker) tokens(t Tokens) {
	ch.intRange(toml.Key{"tokens", "hotp_window"}, int64(t.HOTPWindow), 1, 100)
	if t.ResyncWindow < t.HOTPWindow {
		ch.addf(toml.Key{"tokens", "resync_window"}, "must be at least hotp_window (%d), not %d",
			t.HOTPWindow, t.ResyncWindow)
	} else {
		ch.intRange(toml.Key{"tokens", "resync_window"}, int64(t.ResyncWindow), 2, 10000)
	}
	ch.intRange(toml.Key{"tokens", "totp_skew"}, int64(t.TOTPSkew), 0, 10)
	ch.durRange(toml.Key{"tokens", "motp_skew"}, t.MOTPSkew, 0, 600*time.Second)
	if t.Digits != 6 && t.Digits != 8 {
		ch.addf(toml.Key{"tokens", "digits"}, "must be 6 or 8, not %d", t.Digits)
	}
	ch.oneOf(toml.Key{"tokens", "algorithm"}, t.Algorithm, "SHA1", "SHA256", "SHA512")
	if t.Period != 30*time.Second && t.Period != 60*time.Second {
		ch.addf(toml.Key{"tokens", "period"}, `must be "30s" or "60s", not %s`, fmtDur(t.Period))
	}
}

func (ch *checker) bruteForce(b BruteForce) {
	ch.intRange(toml.Key{"bruteforce", "max_fail"}, int64(b.MaxFail), 1, 1000)
	ch.durRange(toml.Key{"bruteforce", "backoff"}, b.Backoff, time.Second, time.Hour)
	if b.MaxBackoff < b.Backoff {
		ch.addf(toml.Key{"bruteforce", "max_backoff"}, "must be at least backoff (%s), not %s",
			fmtDur(b.Backoff), fmtDur(b.MaxBackoff))
	} else {
		ch.durRange(toml.Key{"bruteforce", "max_backoff"}, b.MaxBackoff, time.Second, 24*time.Hour)
	}
	ch.intRange(toml.Key{"bruteforce", "source_max_fail"}, int64(b.SourceMaxFail), 0, 100000)
	ch.durRange(toml.Key{"bruteforce", "source_window"}, b.SourceWindow, time.Second, 24*time.Hour)
	for i, s := range b.SourceExempt {
		if _, err := netip.ParsePrefix(s); err != nil {
			ch.addf(toml.Key{"bruteforce", "source_exempt"},
				`entry %d (%q) is not a prefix such as "192.0.2.10/32"`, i+1, s)
		}
	}
}

func (ch *checker) passwords(p Passwords) {
	ch.intRange(toml.Key{"passwords", "argon2_time"}, int64(p.Argon2Time), 1, 10)
	ch.intRange(toml.Key{"passwords", "argon2_memory"}, int64(p.Argon2Memory), 8192, 1048576)
	ch.intRange(toml.Key{"passwords", "argon2_threads"}, int64(p.Argon2Threads), 1, 16)
	ch.durRange(toml.Key{"passwords", "cache_ttl"}, p.CacheTTL, 0, time.Hour)
	ch.intRange(toml.Key{"passwords", "cache_size"}, int64(p.CacheSize), 1, 1_000_000)
}

func (ch *checker) log(l Log) {
	ch.oneOf(toml.Key{"log", "format"}, l.Format, "json", "text")
	ch.oneOf(toml.Key{"log", "level"}, l.Level, "debug", "info", "warn", "error")
	if l.Audit == "" {
		ch.addf(toml.Key{"log", "audit"}, `must be "stdout", "stderr" or a file path`)
	}
}

// quotedList renders ["a", "b", "c"] as `"a", "b" or "c"`.
func quotedList(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = fmt.Sprintf("%q", w)
	}
	if len(quoted) < 2 {
		return strings.Join(quoted, "")
	}
	return strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
}

// fmtDur renders d the way an operator would write it: 30s, 15m, 1h, 10ms.
func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	case d%time.Millisecond == 0:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return d.String()
}
