package backend

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"
)

func TestMySQLOptionsDefaults(t *testing.T) {
	t.Parallel()
	o := MySQLOptions{Database: "otp", Sealer: newGCMSealer(t)}.withDefaults()
	checks := []struct {
		name      string
		got, want any
	}{
		{"Host", o.Host, DefaultMySQLHost},
		{"Port", o.Port, DefaultMySQLPort},
		{"DialTimeout", o.DialTimeout, DefaultMySQLDialTimeout},
		{"ReadTimeout", o.ReadTimeout, DefaultMySQLReadTimeout},
		{"WriteTimeout", o.WriteTimeout, DefaultMySQLWriteTimeout},
		{"MaxOpenConns", o.MaxOpenConns, DefaultMySQLMaxOpenConns},
		{"MaxIdleConns", o.MaxIdleConns, DefaultMySQLMaxOpenConns},
		{"ConnMaxLifetime", o.ConnMaxLifetime, DefaultMySQLConnMaxLifetime},
		{"ConnMaxIdleTime", o.ConnMaxIdleTime, DefaultMySQLConnMaxIdleTime},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("default %s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if o.Now == nil || o.Log == nil {
		t.Error("defaults leave Now or Log nil")
	}
	kept := MySQLOptions{MaxOpenConns: 4, MaxIdleConns: 2, ReadTimeout: time.Second}.withDefaults()
	if kept.MaxOpenConns != 4 || kept.MaxIdleConns != 2 || kept.ReadTimeout != time.Second {
		t.Errorf("withDefaults changed set fields: %+v", kept)
	}
}

func TestMySQLDriverConfig(t *testing.T) {
	t.Parallel()
	t.Run("sets the settings the store relies on", func(t *testing.T) {
		t.Parallel()
		o := MySQLOptions{Host: "db.example.org", User: "otp", Password: "p@ss:/?", Database: "otp"}.withDefaults()
		cfg := o.driverConfig()
		if !cfg.ClientFoundRows || !cfg.ParseTime || cfg.Loc != time.UTC || !cfg.CheckConnLiveness {
			t.Errorf("clientFoundRows %v, parseTime %v, loc %v, checkConnLiveness %v; want true, true, UTC, true",
				cfg.ClientFoundRows, cfg.ParseTime, cfg.Loc, cfg.CheckConnLiveness)
		}
		if cfg.InterpolateParams || cfg.MultiStatements || cfg.AllowAllFiles {
			t.Error("interpolateParams, multiStatements or allowAllFiles is on")
		}
		if cfg.Net != "tcp" || cfg.Addr != "db.example.org:3306" || cfg.DBName != "otp" || cfg.Passwd != "p@ss:/?" {
			t.Errorf("net %q addr %q db %q; want tcp, db.example.org:3306, otp", cfg.Net, cfg.Addr, cfg.DBName)
		}
		if cfg.Timeout != DefaultMySQLDialTimeout || cfg.ReadTimeout != DefaultMySQLReadTimeout ||
			cfg.WriteTimeout != DefaultMySQLWriteTimeout {
			t.Errorf("timeouts %v/%v/%v", cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout)
		}
		if cfg.Params["sql_mode"] != mysqlSQLMode || cfg.Logger == nil || cfg.TLS != nil {
			t.Errorf("sql_mode %q, logger %v, TLS %v", cfg.Params["sql_mode"], cfg.Logger, cfg.TLS)
		}
	})
	t.Run("uses a unix socket for an absolute path", func(t *testing.T) {
		t.Parallel()
		cfg := MySQLOptions{Host: "/run/mysqld/mysqld.sock", Database: "otp"}.withDefaults().driverConfig()
		if cfg.Net != "unix" || cfg.Addr != "/run/mysqld/mysqld.sock" {
			t.Errorf("net %q addr %q; want the unix socket", cfg.Net, cfg.Addr)
		}
	})
	t.Run("brackets an IPv6 address", func(t *testing.T) {
		t.Parallel()
		cfg := MySQLOptions{Host: "::1", Port: 3307, Database: "otp"}.withDefaults().driverConfig()
		if cfg.Addr != "[::1]:3307" {
			t.Errorf("addr %q, want [::1]:3307", cfg.Addr)
		}
	})
	t.Run("copies the TLS configuration instead of changing the caller's", func(t *testing.T) {
		t.Parallel()
		callers := &tls.Config{MinVersion: tls.VersionTLS12}
		o := MySQLOptions{Host: "db.example.org", Database: "otp", TLS: callers}.withDefaults()
		cfg := o.driverConfig()
		if cfg.TLS == nil || cfg.TLS == callers || cfg.TLS.MinVersion != tls.VersionTLS12 {
			t.Fatalf("TLS = %p (caller's %p); want a copy", cfg.TLS, callers)
		}
		if callers.ServerName != "" {
			t.Errorf("caller's ServerName changed to %q", callers.ServerName)
		}
	})
}

func TestOpenMySQLRefuses(t *testing.T) {
	t.Parallel()
	sealer := newGCMSealer(t)
	cases := []struct {
		name    string
		opts    MySQLOptions
		wantErr string
	}{
		{"refuses options without a sealer", MySQLOptions{Database: "otp"}, "no sealer"},
		{"refuses options without a database", MySQLOptions{Sealer: sealer}, "no database"},
		{"fails within the deadline when nothing listens", MySQLOptions{Host: "127.0.0.1", Port: 1,
			Database: "otp", Sealer: sealer}, "open mysql 127.0.0.1:1/otp"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			s, err := OpenMySQL(ctx, c.opts)
			if err == nil {
				_ = s.Close()
				t.Fatal("OpenMySQL succeeded")
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("OpenMySQL error %q, want it to contain %q", err, c.wantErr)
			}
		})
	}
}

func TestMigrationLockName(t *testing.T) {
	t.Parallel()
	if got := migrationLockName("otp"); got != "otpgate_migrate.otp" {
		t.Errorf("lock name of otp = %q", got)
	}
	long := strings.Repeat("d", 64)
	got := migrationLockName(long)
	if len(got) > 64 || got == migrationLockName(long+"x") {
		t.Errorf("lock name of a 64-character database = %q (%d chars); want ≤ 64 and distinct", got, len(got))
	}
}

func TestSplitStatements(t *testing.T) {
	t.Parallel()
	got, err := splitStatements("-- header;\n\nCREATE TABLE a (\n  x INT -- inline\n);\n  -- c\nCREATE TABLE b (y INT);\n")
	if err != nil || len(got) != 2 || !strings.HasPrefix(got[0], "CREATE TABLE a") || got[1] != "CREATE TABLE b (y INT)" {
		t.Fatalf("splitStatements = %q, %v", got, err)
	}
	for _, bad := range []string{"CREATE TABLE a (x INT)", "-- only a comment\n", ""} {
		if _, err := splitStatements(bad); err == nil {
			t.Errorf("splitStatements(%q) succeeded; want an error", bad)
		}
	}
	for _, m := range mysqlMigrations {
		for _, stmt := range m.statements {
			if strings.Contains(stmt, ";") {
				t.Errorf("%s: a statement contains ';': %.40q", m.name, stmt)
			}
		}
	}
}
