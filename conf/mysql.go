package conf

import (
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// StoreTLS configures TLS to the database server.
type StoreTLS struct {
	// Mode is "off" (default), "on" (verify the server against ca_file or
	// the system roots) or "skip-verify" (encrypt without verifying; only
	// for testing).
	Mode       string `toml:"mode"`
	CAFile     string `toml:"ca_file"`
	CertFile   string `toml:"cert_file"` // client certificate, optional
	KeyFile    string `toml:"key_file"`
	ServerName string `toml:"server_name"` // default: host
}

func defaultStore() Store {
	return Store{Driver: "sqlite", Path: "otpgate.db", Timeout: 2 * time.Second, LoginCache: 20000, Host: "127.0.0.1", Port: 3306, User: "otpgate", Database: "otpgate",
		DialTimeout: 3 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		MaxOpenConns: 32, MaxIdleConns: 16, ConnMaxLifetime: 5 * time.Minute, ConnMaxIdleTime: time.Minute,
		TLS: StoreTLS{Mode: "off"}}
}

// DatabasePassword returns Password or the first line of PasswordFile.
func (m Store) DatabasePassword() (string, error) {
	if m.PasswordFile == "" {
		return m.Password, nil
	}
	data, err := os.ReadFile(m.PasswordFile)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimRight(line, "\r"), nil
}

var databaseNameRE = regexp.MustCompile(`^[A-Za-z0-9_$]{1,64}$`)

// mysql checks the MySQL keys of [store]; only called when driver = "mysql".
func (ch *checker) mysql(m Store) {
	key := func(k ...string) toml.Key { return append(toml.Key{"store"}, k...) }
	ch.nonEmpty(key("host"), m.Host)
	ch.intRange(key("port"), int64(m.Port), 1, 65535)
	ch.nonEmpty(key("user"), m.User)
	if !databaseNameRE.MatchString(m.Database) {
		ch.addf(key("database"), "must be 1-64 of A-Z a-z 0-9 _ $, not %q", m.Database)
	}
	if m.Password != "" && m.PasswordFile != "" {
		ch.addf(key("password"), "set at most one of password and password_file")
	} else if _, err := m.DatabasePassword(); err != nil {
		ch.addf(key("password_file"), "%v", err)
	}
	ch.durRange(key("dial_timeout"), m.DialTimeout, 100*time.Millisecond, time.Minute)
	ch.durRange(key("read_timeout"), m.ReadTimeout, 100*time.Millisecond, 10*time.Minute)
	ch.durRange(key("write_timeout"), m.WriteTimeout, 100*time.Millisecond, 10*time.Minute)
	ch.intRange(key("max_open_conns"), int64(m.MaxOpenConns), 1, 10000)
	ch.intRange(key("max_idle_conns"), int64(m.MaxIdleConns), 0, int64(max(m.MaxOpenConns, 0)))
	ch.durRange(key("conn_max_lifetime"), m.ConnMaxLifetime, time.Second, 24*time.Hour)
	ch.durRange(key("conn_max_idle_time"), m.ConnMaxIdleTime, time.Second, 24*time.Hour)
	ch.oneOf(key("tls", "mode"), m.TLS.Mode, "off", "on", "skip-verify")
	for field, path := range map[string]string{"ca_file": m.TLS.CAFile, "cert_file": m.TLS.CertFile, "key_file": m.TLS.KeyFile} {
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			ch.addf(key("tls", field), "%v", err)
		}
	}
	if (m.TLS.CertFile == "") != (m.TLS.KeyFile == "") {
		ch.addf(key("tls", "cert_file"), "set both cert_file and key_file, or neither")
	}
}
