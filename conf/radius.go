package conf

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Radius configures the RADIUS listener. A [radius] section in a file
// overlays the defaults key by key; its [[radius.clients]] replace the
// default client list as a whole.
type Radius struct {
	// Listen lists UDP addresses ("127.0.0.1:1812", "[::1]:1812"); empty
	// turns the listener off. Default ["127.0.0.1:1812"].
	Listen []string `toml:"listen"`
	// ReplyCache is how long an encoded reply is kept to answer
	// retransmits identically, 1s..5m; default 30s.
	ReplyCache time.Duration `toml:"reply_cache"`
	// ChallengeTTL is how long an Access-Challenge State stays valid,
	// 10s..30m; default 120s.
	ChallengeTTL time.Duration `toml:"challenge_ttl"`
	// MaxInFlight bounds requests processed at once; more are dropped
	// (the NAS retries), 1..100000; default 256.
	MaxInFlight int `toml:"max_in_flight"`
	// Clients are the NASes allowed to ask; default: one loopback client
	// "localhost" with secret "testing123" for service webmail, so that a
	// config-less otpgate answers radclient on the same host.
	Clients []RadiusClient `toml:"clients"`
}

// RadiusClient is one [[radius.clients]] entry.
type RadiusClient struct {
	Name       string `toml:"name"`
	Network    string `toml:"network"`     // CIDR the client's source address is in
	Secret     string `toml:"secret"`      // shared secret, or:
	SecretFile string `toml:"secret_file"` // file holding it (first line)
	Service    string `toml:"service"`     // policy service this NAS is
	// RequireMessageAuthenticator is true (default), "auto" or false.
	RequireMessageAuthenticator MAPolicy `toml:"require_message_authenticator"`
	ReplyClass                  string   `toml:"reply_class"`   // Class attribute sent with Access-Accept
	ReplyMessage                string   `toml:"reply_message"` // Reply-Message sent with Access-Accept
}

// MAPolicy is the require_message_authenticator setting: "true", "auto"
// or "false". The empty value means the default, "true".
type MAPolicy string

// UnmarshalTOML accepts the booleans true/false and the string "auto".
func (m *MAPolicy) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case bool:
		*m = MAPolicy(fmt.Sprint(v))
	case string:
		if v != "auto" {
			return fmt.Errorf(`must be true, false or "auto", not %q`, v)
		}
		*m = "auto"
	default:
		return fmt.Errorf(`must be true, false or "auto"`)
	}
	return nil
}

// SharedSecret returns the client's secret: Secret, or the first line of
// SecretFile. Validate has checked that exactly one is set and readable.
func (c RadiusClient) SharedSecret() (string, error) {
	if c.SecretFile == "" {
		return c.Secret, nil
	}
	data, err := os.ReadFile(c.SecretFile)
	if err != nil {
		return "", fmt.Errorf("radius client %s: secret_file: %w", c.Name, err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimRight(line, "\r"), nil
}

func defaultRadius() Radius {
	return Radius{
		Listen: []string{"127.0.0.1:1812"}, ReplyCache: 30 * time.Second, ChallengeTTL: 120 * time.Second,
		MaxInFlight: 256,
		Clients: []RadiusClient{{Name: "localhost", Network: "127.0.0.0/8", Secret: "testing123",
			Service: "webmail", RequireMessageAuthenticator: "true"}},
	}
}

// minSecretLen: shorter shared secrets fall to offline guessing from one
// captured packet.
const minSecretLen = 8

func (ch *checker) radius(r Radius, services map[string]Service) {
	for i, addr := range r.Listen {
		if _, err := netip.ParseAddrPort(addr); err != nil {
			ch.addf(toml.Key{"radius", "listen"}, `entry %d (%q) is not an address:port such as "127.0.0.1:1812" or "[::1]:1812"`, i+1, addr)
		}
	}
	ch.durRange(toml.Key{"radius", "reply_cache"}, r.ReplyCache, time.Second, 5*time.Minute)
	ch.durRange(toml.Key{"radius", "challenge_ttl"}, r.ChallengeTTL, 10*time.Second, 30*time.Minute)
	ch.intRange(toml.Key{"radius", "max_in_flight"}, int64(r.MaxInFlight), 1, 100000)
	names := map[string]bool{}
	for i, c := range r.Clients {
		ch.radiusClient(i, c, services, names)
	}
}

func (ch *checker) radiusClient(i int, c RadiusClient, services map[string]Service, names map[string]bool) {
	key := func(field string) toml.Key { return toml.Key{"radius", "clients", fmt.Sprint(i + 1), field} }
	switch {
	case c.Name == "":
		ch.addf(key("name"), "must not be empty")
	case names[c.Name]:
		ch.addf(key("name"), "duplicate client name %q", c.Name)
	}
	names[c.Name] = true
	if _, err := netip.ParsePrefix(c.Network); err != nil {
		ch.addf(key("network"), `%q is not a prefix such as "192.0.2.0/24"`, c.Network)
	}
	switch {
	case (c.Secret == "") == (c.SecretFile == ""):
		ch.addf(key("secret"), "set exactly one of secret and secret_file")
	default:
		if s, err := c.SharedSecret(); err != nil {
			ch.addf(key("secret_file"), "%v", err)
		} else if len(s) < minSecretLen {
			ch.addf(key("secret"), "must have at least %d characters", minSecretLen)
		}
	}
	if _, ok := services[c.Service]; !ok {
		ch.addf(key("service"), "unknown service %q (see [services])", c.Service)
	}
	if m := c.RequireMessageAuthenticator; m != "" && m != "true" && m != "false" && m != "auto" {
		ch.addf(key("require_message_authenticator"), `must be true, false or "auto"`)
	}
	if len(c.ReplyClass) > 253 || len(c.ReplyMessage) > 253 {
		ch.addf(key("reply_class"), "reply attributes hold at most 253 bytes")
	}
}
