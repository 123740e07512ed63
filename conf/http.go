package conf

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// HTTP configures the operations listener: /metrics, /healthz, /readyz
// and, when enabled, the YubiKey validation endpoint.
type HTTP struct {
	// Listen is one TCP address; "" turns the listener off. Default
	// "127.0.0.1:8080".
	Listen string `toml:"listen"`
	// Allow lists the client networks that may use it; default loopback.
	Allow []string `toml:"allow"`
	TLS   LDAPTLS  `toml:"tls"` // cert_file, key_file: HTTPS when set
	// Admin is the JSON admin API under /api/v1/.
	Admin HTTPAdmin `toml:"admin"`
	// SelfService is the users' One Time Passwords page under /self/.
	SelfService HTTPSelfService `toml:"selfservice"`
}

// HTTPAdmin configures the admin API.
type HTTPAdmin struct {
	Enabled bool `toml:"enabled"`
	// TokenSHA256 lists the hex SHA-256 digests of the accepted bearer
	// tokens ("otpgate admin-token" makes a token and its digest), so the
	// config holds no usable secret.
	TokenSHA256 []string `toml:"token_sha256"`
}

// HTTPSelfService configures the self-service page.
type HTTPSelfService struct {
	Enabled bool `toml:"enabled"`
	// Service is the policy service the page's login is checked for
	// (class web, so 2FA users log in with PIN+OTP); default webmail.
	Service string `toml:"service"`
	// SecureCookies marks session cookies Secure (HTTPS only); turn off
	// only behind a loopback proxy that does not pass on https.
	SecureCookies   bool          `toml:"secure_cookies"`
	IdleTimeout     time.Duration `toml:"idle_timeout"`     // default 15m
	AbsoluteTimeout time.Duration `toml:"absolute_timeout"` // default 8h
}

// YubiKey configures remote validation (yubicloud tokens) and otpgate's own
// validation endpoint.
type YubiKey struct {
	Validation YubiKeyValidation `toml:"validation"`
	Server     YubiKeyServer     `toml:"server"`
}

// YubiKeyValidation names the validation servers yubicloud tokens are
// checked with (YubiKey validation protocol 2.0).
type YubiKeyValidation struct {
	URLs       []string      `toml:"urls"`         // e.g. https://api.yubico.com/wsapi/2.0/verify
	ClientID   string        `toml:"client_id"`    // the API client id
	APIKeyFile string        `toml:"api_key_file"` // file holding the base64 API key
	Timeout    time.Duration `toml:"timeout"`      // whole validation, default 5s
	SyncLevel  string        `toml:"sync_level"`   // "", "fast", "secure" or 0..100
}

// YubiKeyServer is otpgate's own validation endpoint (GET
// /wsapi/2.0/verify on the HTTP listener) for local yubikey tokens.
type YubiKeyServer struct {
	Enabled bool                  `toml:"enabled"`
	Clients []YubiKeyServerClient `toml:"clients"`
}

// YubiKeyServerClient is one API client of the validation endpoint.
type YubiKeyServerClient struct {
	ID         string `toml:"id"`
	APIKeyFile string `toml:"api_key_file"` // base64 API key (first line)
}

func defaultHTTP() HTTP {
	return HTTP{Listen: "127.0.0.1:8080", Allow: []string{"127.0.0.0/8", "::1/128"},
		Admin: HTTPAdmin{TokenSHA256: []string{}},
		SelfService: HTTPSelfService{Service: "webmail", SecureCookies: true,
			IdleTimeout: 15 * time.Minute, AbsoluteTimeout: 8 * time.Hour}}
}

func defaultYubiKey() YubiKey {
	return YubiKey{Validation: YubiKeyValidation{URLs: []string{}, Timeout: 5 * time.Second},
		Server: YubiKeyServer{Clients: []YubiKeyServerClient{}}}
}

// ReadAPIKey reads a base64 API key from the first line of path.
func ReadAPIKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(line))
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("%s: not a base64 API key", path)
	}
	return key, nil
}

var sha256HexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (ch *checker) http(h HTTP, services map[string]Service) {
	for i, d := range h.Admin.TokenSHA256 {
		if !sha256HexRE.MatchString(d) {
			ch.addf(toml.Key{"http", "admin", "token_sha256"}, "entry %d is not 64 lower-case hex digits (see otpgate admin-token)", i+1)
		}
	}
	if h.Admin.Enabled && len(h.Admin.TokenSHA256) == 0 {
		ch.addf(toml.Key{"http", "admin", "token_sha256"}, "the admin API needs at least one token")
	}
	ss := h.SelfService
	if _, ok := services[ss.Service]; !ok && ss.Enabled {
		ch.addf(toml.Key{"http", "selfservice", "service"}, "unknown service %q (see [services])", ss.Service)
	}
	ch.durRange(toml.Key{"http", "selfservice", "idle_timeout"}, ss.IdleTimeout, time.Minute, 24*time.Hour)
	ch.durRange(toml.Key{"http", "selfservice", "absolute_timeout"}, ss.AbsoluteTimeout, ss.IdleTimeout, 7*24*time.Hour)
	if (h.Admin.Enabled || ss.Enabled) && h.Listen == "" {
		ch.addf(toml.Key{"http", "listen"}, "the admin API and the self-service page need the HTTP listener")
	}
	if h.Listen != "" {
		if _, err := netip.ParseAddrPort(h.Listen); err != nil {
			ch.addf(toml.Key{"http", "listen"}, `%q is not an address:port such as "127.0.0.1:8080"`, h.Listen)
		}
	}
	for i, s := range h.Allow {
		if _, err := netip.ParsePrefix(s); err != nil {
			ch.addf(toml.Key{"http", "allow"}, `entry %d (%q) is not a prefix such as "10.0.0.0/8"`, i+1, s)
		}
	}
	if (h.TLS.CertFile == "") != (h.TLS.KeyFile == "") {
		ch.addf(toml.Key{"http", "tls", "cert_file"}, "set both cert_file and key_file, or neither")
	}
}

var (
	clientIDRE  = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)
	syncLevelRE = regexp.MustCompile(`^(100|[1-9]?[0-9])$`)
)

func (ch *checker) yubikey(y YubiKey, h HTTP) {
	v, key := y.Validation, func(k ...string) toml.Key { return append(toml.Key{"yubikey", "validation"}, k...) }
	for i, u := range v.URLs {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			ch.addf(key("urls"), "entry %d (%q) is not an http(s) URL", i+1, u)
		}
	}
	if len(v.URLs) > 0 {
		if !clientIDRE.MatchString(v.ClientID) {
			ch.addf(key("client_id"), "needs the API client id (digits) when urls are set")
		}
		if _, err := ReadAPIKey(v.APIKeyFile); err != nil {
			ch.addf(key("api_key_file"), "needs a file with the base64 API key: %v", err)
		}
	}
	ch.durRange(key("timeout"), v.Timeout, 100*time.Millisecond, time.Minute)
	if s := v.SyncLevel; s != "" && s != "fast" && s != "secure" && !syncLevelRE.MatchString(s) {
		ch.addf(key("sync_level"), `must be "", "fast", "secure" or 0 to 100`)
	}
	if y.Server.Enabled && h.Listen == "" {
		ch.addf(toml.Key{"yubikey", "server", "enabled"}, "needs the HTTP listener (http.listen)")
	}
	for i, c := range y.Server.Clients {
		k := func(f string) toml.Key { return toml.Key{"yubikey", "server", "clients", fmt.Sprint(i + 1), f} }
		if !clientIDRE.MatchString(c.ID) {
			ch.addf(k("id"), "must be 1-64 of 0-9 A-Z a-z _ -")
		}
		if _, err := ReadAPIKey(c.APIKeyFile); err != nil {
			ch.addf(k("api_key_file"), "%v", err)
		}
	}
}
