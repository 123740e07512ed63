package conf

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestDefaultsAreValid(t *testing.T) {
	t.Parallel()
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

func TestDefaultReturnsAFreshValueEachCall(t *testing.T) {
	t.Parallel()
	a := Default()
	a.Services["vpn"] = Service{Class: "vpn"}
	a.Policy["off"]["web"] = "reject"
	a.BruteForce.SourceExempt[0] = "10.0.0.0/8"
	if b := Default(); !reflect.DeepEqual(b, newDefaultLiteral()) {
		t.Fatalf("Default() changed after a caller modified an earlier result: %+v", b)
	}
}

// newDefaultLiteral spells out the documented defaults independently of
// Default, so a change to either is caught.
func newDefaultLiteral() *Config {
	return &Config{
		KeyFile: "otpgate.key", PINLength: 4, Issuer: "otpgate",
		Store: Store{Driver: "sqlite", Path: "otpgate.db", Timeout: 2 * time.Second, LoginCache: 20000,
			Host: "127.0.0.1", Port: 3306, User: "otpgate", Database: "otpgate",
			DialTimeout: 3 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
			MaxOpenConns: 32, MaxIdleConns: 16, ConnMaxLifetime: 5 * time.Minute, ConnMaxIdleTime: time.Minute,
			TLS: StoreTLS{Mode: "off"}},
		Services: map[string]Service{
			"webmail": {Class: "web"}, "imap": {Class: "other"}, "pop3": {Class: "other"},
			"smtp": {Class: "other"}, "dav": {Class: "other"}, "activesync": {Class: "other"},
		},
		Policy: map[string]map[string]string{
			"off":          {"web": "password", "other": "password"},
			"web-otp":      {"web": "pin+otp", "other": "password"},
			"web-otp-only": {"web": "pin+otp", "other": "reject"},
		},
		Tokens: Tokens{HOTPWindow: 10, ResyncWindow: 100, TOTPSkew: 1, MOTPSkew: 180 * time.Second,
			Digits: 6, Algorithm: "SHA1", Period: 30 * time.Second},
		BruteForce: BruteForce{MaxFail: 10, Backoff: 30 * time.Second, MaxBackoff: 15 * time.Minute,
			SourceMaxFail: 50, SourceWindow: time.Minute, SourceExempt: []string{"127.0.0.0/8", "::1/128"}},
		Passwords: Passwords{Argon2Time: 2, Argon2Memory: 19456, Argon2Threads: 1, CacheSize: 10000},
		Log:       Log{Format: "json", Level: "info", Audit: "stdout"},
		Radius: Radius{Listen: []string{"127.0.0.1:1812"}, ReplyCache: 30 * time.Second, ChallengeTTL: 120 * time.Second,
			MaxInFlight: 256, Clients: []RadiusClient{{Name: "localhost", Network: "127.0.0.0/8", Secret: "testing123",
				Service: "webmail", RequireMessageAuthenticator: "true"}}},
		LDAP: LDAP{Listen: []string{"127.0.0.1:1389"}, LDAPSListen: []string{}, Service: "webmail",
			BaseDN: "dc=example,dc=org", UserDNTemplates: []string{"uid={user},ou=people,dc=example,dc=org"},
			PlainBinds: "loopback", MaxMessageSize: 16384, MaxConns: 4096, MaxConnsPerIP: 256,
			IdleTimeout: 2 * time.Minute, MessageTimeout: 10 * time.Second, SizeLimit: 500, ScanLimit: 100000,
			ServiceAccounts: []LDAPServiceAccount{}, Attributes: []string{}, Networks: []LDAPNetwork{}},
		HTTP: HTTP{Listen: "127.0.0.1:8080", Allow: []string{"127.0.0.0/8", "::1/128"},
			Admin: HTTPAdmin{TokenSHA256: []string{}},
			SelfService: HTTPSelfService{Service: "webmail", SecureCookies: true,
				IdleTimeout: 15 * time.Minute, AbsoluteTimeout: 8 * time.Hour}},
		YubiKey: YubiKey{Validation: YubiKeyValidation{URLs: []string{}, Timeout: 5 * time.Second},
			Server: YubiKeyServer{Clients: []YubiKeyServerClient{}}},
	}
}

const exampleFile = "otpgate.example.toml"

func TestExampleFileEqualsDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(exampleFile)
	if err != nil {
		t.Fatalf("Load(%q) = %v", exampleFile, err)
	}
	if c.File != exampleFile {
		t.Errorf("File = %q, want %q", c.File, exampleFile)
	}
	c.File = ""
	if want := Default(); !reflect.DeepEqual(c, want) {
		t.Errorf("example file differs from Default():\n got %+v\nwant %+v", c, want)
	}
}

// The example must set every key itself; a key left out would pass the
// equality test above while its documentation is missing.
func TestExampleFileSetsEveryKey(t *testing.T) {
	t.Parallel()
	var raw map[string]any
	md, err := toml.DecodeFile(exampleFile, &raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range structKeys(reflect.TypeFor[Config](), nil) {
		if !md.IsDefined(key...) {
			t.Errorf("%s does not set %s", exampleFile, key)
		}
	}
}

// structKeys lists the TOML key paths of t's fields, descending into
// structs (maps are user-named and compared by TestExampleFileEqualsDefaults).
func structKeys(t reflect.Type, parent toml.Key) []toml.Key {
	var keys []toml.Key
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := append(parent[:len(parent):len(parent)], name)
		keys = append(keys, key)
		if f.Type.Kind() == reflect.Struct && f.Type != durationType {
			keys = append(keys, structKeys(f.Type, key)...)
		}
	}
	return keys
}

func TestServiceClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, service, wantClass string
		wantOK                   bool
	}{
		{name: "finds the class of webmail", service: "webmail", wantClass: "web", wantOK: true},
		{name: "finds the class of imap", service: "imap", wantClass: "other", wantOK: true},
		{name: "does not know an unlisted service", service: "vpn", wantOK: false},
		{name: "does not fold case", service: "WebMail", wantOK: false},
	}
	c := Default()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			class, ok := c.ServiceClass(tt.service)
			if class != tt.wantClass || ok != tt.wantOK {
				t.Errorf("ServiceClass(%q) = %q, %v; want %q, %v", tt.service, class, ok, tt.wantClass, tt.wantOK)
			}
		})
	}
}

func TestLevelsAreSorted(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Policy["a-level"] = map[string]string{}
	got := c.Levels()
	want := []string{"a-level", "off", "web-otp", "web-otp-only"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Levels() = %q, want %q", got, want)
	}
}
