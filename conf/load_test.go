package conf

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeConfig writes text to otpgate.toml in a new temporary directory and
// returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "otpgate.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadProblems loads text and returns its problems one per element, with the
// temporary directory cut from the file name ("otpgate.toml:3: key: msg").
func loadProblems(t *testing.T, text string) []string {
	t.Helper()
	path := writeConfig(t, text)
	c, err := Load(path)
	if err == nil {
		return nil
	}
	if c != nil {
		t.Errorf("Load returned a config together with error %v", err)
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load error is %T, want Errors: %v", err, err)
	}
	prefix := filepath.Dir(path) + string(filepath.Separator)
	return strings.Split(strings.ReplaceAll(err.Error(), prefix, ""), "\n")
}

func TestLoadReportsProblemsAsFileLineKeyMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		toml string
		want []string
	}{{
		name: "rejects an integer duration",
		toml: "[bruteforce]\nbackoff = 30\n",
		want: []string{`otpgate.toml:2: bruteforce.backoff: durations need a unit, e.g. "30s"`},
	}, {
		name: "rejects a key in the wrong case",
		toml: "Pin_Length = 6\n",
		want: []string{`otpgate.toml:1: Pin_Length: key must be lower-case`},
	}, {
		name: "rejects a table header in the wrong case",
		toml: "[Store]\ndriver = \"sqlite\"\n",
		want: []string{`otpgate.toml:1: Store: key must be lower-case`},
	}, {
		name: "rejects each wrongly cased part of a dotted key once",
		toml: "Store.Timeout = \"1s\"\nStore.Path = \"x.db\"\n",
		want: []string{
			`otpgate.toml:1: Store: key must be lower-case`,
			`otpgate.toml:1: Store.Timeout: key must be lower-case`,
			`otpgate.toml:2: Store.Path: key must be lower-case`,
		},
	}, {
		name: "rejects a service name in the wrong case once",
		toml: "[services.VPN]\nclass = \"web\"\n",
		want: []string{`otpgate.toml:1: services.VPN: key must be lower-case`},
	}, {
		name: "reports the line of an unknown key in the middle of the file",
		toml: "pin_length = 4\n\n[tokens]\nhotp_window = 10\nhotp_windwo = 5\ndigits = 6\n\n[log]\nlevel = \"info\"\n",
		want: []string{`otpgate.toml:5: tokens.hotp_windwo: unknown key`},
	}, {
		name: "reports an unknown table once, not each key inside it",
		toml: "pin_length = 4\n\n[gopher]\nlisten = [\"127.0.0.1:70\"]\n[[gopher.clients]]\nname = \"x\"\n",
		want: []string{`otpgate.toml:3: gopher: unknown key`},
	}, {
		name: "rejects File, which is not a TOML key",
		toml: "file = \"x\"\n",
		want: []string{`otpgate.toml:1: file: unknown key`},
	}, {
		name: "reports the line of a syntax error",
		toml: "pin_length = 4\n[store\npath = \"x\"\n",
		want: []string{`otpgate.toml:2: expected '.' or ']' to end table name, but got '\n' instead`},
	}, {
		name: "reports a duplicate key as a syntax error",
		toml: "pin_length = 4\n\npin_length = 5\n",
		want: []string{`otpgate.toml:3: pin_length: Key 'pin_length' has already been defined.`},
	}, {
		name: "reports the line of a type mismatch",
		toml: "[store]\n\npath = 5\n",
		want: []string{`otpgate.toml:3: store.path: must be a string, not an integer`},
	}, {
		name: "reports a type mismatch inside a table of tables",
		toml: "[policy.off]\nweb = \"password\"\nother = 3\n",
		want: []string{
			// [policy] replaces the default levels, so two are missing.
			`otpgate.toml:1: policy.web-otp: missing level: otpgate assigns it to users`,
			`otpgate.toml:1: policy.web-otp-only: missing level: otpgate assigns it to users`,
			`otpgate.toml:3: policy.off.other: must be a string, not an integer`,
		},
	}, {
		name: "rejects a value where a table belongs",
		toml: "store = 3\n",
		want: []string{`otpgate.toml:1: store: must be a table, not an integer`},
	}, {
		name: "rejects an array of tables where a table belongs",
		toml: "[[services]]\nclass = \"web\"\n",
		want: []string{`otpgate.toml:1: services: must be a table, not an array of tables`},
	}, {
		name: "rejects a float duration",
		toml: "[tokens]\nmotp_skew = 1.5\n",
		want: []string{`otpgate.toml:2: tokens.motp_skew: must be a duration string, e.g. "30s", not a float`},
	}, {
		name: "rejects a duration without a Go unit",
		toml: "[store]\ntimeout = \"30 seconds\"\n",
		want: []string{`otpgate.toml:2: store.timeout: invalid duration: "30 seconds"; use e.g. "500ms", "30s", "15m" or "1h"`},
	}, {
		name: "rejects an integer too large for its field",
		toml: "[passwords]\nargon2_threads = 300\n",
		want: []string{`otpgate.toml:2: passwords.argon2_threads: 300 is out of range for uint8`},
	}, {
		name: "rejects an array of numbers as source_exempt",
		toml: "[bruteforce]\nsource_exempt = [1, 2]\n",
		want: []string{`otpgate.toml:2: bruteforce.source_exempt: must be an array of strings`},
	}, {
		name: "checks the mysql keys when the driver is mysql",
		toml: "[store]\ndriver = \"mysql\"\nport = 0\npassword = \"x\"\npassword_file = \"/nonexistent\"\n[store.tls]\nmode = \"maybe\"\n",
		want: []string{`otpgate.toml:3: store.port: must be between 1 and 65535, not 0`,
			`otpgate.toml:4: store.password: set at most one of password and password_file`,
			`otpgate.toml:7: store.tls.mode: must be "off", "on" or "skip-verify", not "maybe"`},
	}, {
		name: "rejects an unknown mode",
		toml: "[policy]\noff = {web=\"password\", other=\"otp\"}\n" +
			"web-otp = { web = \"pin+otp\", other = \"password\" }\n" +
			"web-otp-only = { web = \"pin+otp\", other = \"reject\" }\n",
		want: []string{`otpgate.toml:2: policy.off.other: must be "password", "pin+otp", "password+otp" or "reject", not "otp"`},
	}, {
		name: "names the missing policy entry for a new class at every level",
		toml: "[services.vpn]\nclass = \"vpn\"\n\n[services.webmail]\nclass = \"web\"\n\n[policy]\n" +
			"off = { web = \"password\" }\n" +
			"web-otp = { web = \"pin+otp\", vpn = \"pin+otp\" }\n" +
			"web-otp-only = { web = \"pin+otp\", vpn = \"pin+otp\" }\n",
		want: []string{`otpgate.toml:8: policy.off.vpn: missing mode for class "vpn", used by services.vpn`},
	}, {
		name: "names a missing required level",
		toml: "[policy]\nweb-otp = { web = \"pin+otp\", other = \"password\" }\n" +
			"web-otp-only = { web = \"pin+otp\", other = \"reject\" }\n",
		want: []string{`otpgate.toml:1: policy.off: missing level: otpgate assigns it to users`},
	}, {
		name: "rejects an empty services table",
		toml: "[services]\n",
		want: []string{`otpgate.toml:1: services: at least one service is required`},
	}, {
		name: "points a cross-key rule at the table when the key is not in the file",
		toml: "[bruteforce]\nbackoff = \"1h\"\n",
		want: []string{`otpgate.toml:1: bruteforce.max_backoff: must be at least backoff (1h), not 15m`},
	}, {
		name: "checks a value given as a top-level dotted key",
		toml: "pin_length = 4\nstore.timeout = \"1h\"\n",
		want: []string{`otpgate.toml:2: store.timeout: must be between 10ms and 1m, not 1h`},
	}, {
		name: "reports several problems at once, ordered by line",
		toml: "pin_length = 99\nissuer = \"a:b\"\n[store]\ntimeout = 5\npath = 7\n" +
			"[tokens]\ndigits = 7\nfoo = 1\n[Log]\nformat = \"xml\"\n",
		want: []string{
			`otpgate.toml:1: pin_length: must be between 4 and 16, not 99`,
			`otpgate.toml:2: issuer: must not contain ':' (otpauth URIs use it as the separator)`,
			`otpgate.toml:4: store.timeout: durations need a unit, e.g. "30s"`,
			`otpgate.toml:5: store.path: must be a string, not an integer`,
			`otpgate.toml:7: tokens.digits: must be 6 or 8, not 7`,
			`otpgate.toml:8: tokens.foo: unknown key`,
			`otpgate.toml:9: Log: key must be lower-case`,
			`otpgate.toml:10: log.format: must be "json" or "text", not "xml"`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := loadProblems(t, tt.toml)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems of\n%s\n got %q\nwant %q", tt.toml, got, tt.want)
			}
		})
	}
}

func TestLoadProblemsAreErrorValues(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "[store]\npath = 5\n")
	_, err := Load(path)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("errors.As(%v, *Error) = false", err)
	}
	want := Error{File: path, Line: 2, Key: "store.path", Message: "must be a string, not an integer"}
	if *e != want {
		t.Errorf("got %+v, want %+v", *e, want)
	}
}

func TestLoadAcceptsValidFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		toml  string
		check func(t *testing.T, c *Config)
	}{{
		name: "accepts an empty file as the defaults",
		toml: "",
		check: func(t *testing.T, c *Config) {
			c.File = ""
			if !reflect.DeepEqual(c, Default()) {
				t.Errorf("got %+v, want the defaults", c)
			}
		},
	}, {
		name: "overlays one key and keeps its neighbours",
		toml: "[bruteforce]\nmax_fail = 5\n",
		check: func(t *testing.T, c *Config) {
			want := Default().BruteForce
			want.MaxFail = 5
			if !reflect.DeepEqual(c.BruteForce, want) {
				t.Errorf("BruteForce = %+v, want %+v", c.BruteForce, want)
			}
		},
	}, {
		name: "replaces the services table wholesale",
		toml: "[services.webmail]\nclass = \"web\"\n",
		check: func(t *testing.T, c *Config) {
			if want := map[string]Service{"webmail": {Class: "web"}}; !reflect.DeepEqual(c.Services, want) {
				t.Errorf("Services = %v, want %v", c.Services, want)
			}
		},
	}, {
		name: "accepts a new class and level covering every service class",
		toml: "[services]\nwebmail = { class = \"web\" }\nvpn = { class = \"vpn\" }\n\n[policy]\n" +
			"off = { web = \"password\", vpn = \"pin+otp\" }\n" +
			"web-otp = { web = \"pin+otp\", vpn = \"pin+otp\" }\n" +
			"web-otp-only = { web = \"pin+otp\", vpn = \"pin+otp\" }\n" +
			"strict = { web = \"password+otp\", vpn = \"reject\", unused = \"reject\" }\n",
		check: func(t *testing.T, c *Config) {
			if got, want := c.Levels(), []string{"off", "strict", "web-otp", "web-otp-only"}; !reflect.DeepEqual(got, want) {
				t.Errorf("Levels() = %q, want %q", got, want)
			}
			if class, _ := c.ServiceClass("vpn"); class != "vpn" {
				t.Errorf("ServiceClass(vpn) = %q, want vpn", class)
			}
		},
	}, {
		name: "decodes durations with units and the exempt list",
		toml: "[bruteforce]\nbackoff = \"1m30s\"\nmax_backoff = \"2h\"\nsource_exempt = [\"192.0.2.10/32\"]\n",
		check: func(t *testing.T, c *Config) {
			b := c.BruteForce
			if b.Backoff != 90*time.Second || b.MaxBackoff != 2*time.Hour || len(b.SourceExempt) != 1 {
				t.Errorf("BruteForce = %+v", b)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, tt.toml)
			c, err := Load(path)
			if err != nil {
				t.Fatalf("Load = %v", err)
			}
			if c.File != path {
				t.Errorf("File = %q, want %q", c.File, path)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadOfAMissingFileIsANotExistError(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "absent.toml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(absent) = %v, want an fs.ErrNotExist error", err)
	}
}

// Find changes the working directory, so these tests cannot run in parallel.

func TestFindWithoutAFileReturnsTheDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	c, err := Find("")
	if err != nil {
		t.Fatalf("Find(\"\") = %v", err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("Find(\"\") = %+v, want the defaults", c)
	}
}

func TestFindPicksUpTheFileInTheWorkingDirectory(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile(DefaultFile, []byte("pin_length = 6\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Find("")
	if err != nil {
		t.Fatalf("Find(\"\") = %v", err)
	}
	if c.File != DefaultFile || c.PINLength != 6 {
		t.Errorf("Find(\"\") = File %q, PINLength %d; want %q, 6", c.File, c.PINLength, DefaultFile)
	}
}

func TestFindReportsProblemsOfTheFileInTheWorkingDirectory(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile(DefaultFile, []byte("pin_length = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Find("")
	if want := "otpgate.toml:1: pin_length: must be between 4 and 16, not 3"; err == nil || err.Error() != want {
		t.Errorf("Find(\"\") = %v, want %q", err, want)
	}
}

func TestFindPrefersTheExplicitFile(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile(DefaultFile, []byte("pin_length = 6\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	explicit := writeConfig(t, "pin_length = 8\n")
	c, err := Find(explicit)
	if err != nil {
		t.Fatalf("Find(%q) = %v", explicit, err)
	}
	if c.File != explicit || c.PINLength != 8 {
		t.Errorf("Find = File %q, PINLength %d; want %q, 8", c.File, c.PINLength, explicit)
	}
	if _, err := Find("absent.toml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Find(absent) = %v, want an fs.ErrNotExist error", err)
	}
}
