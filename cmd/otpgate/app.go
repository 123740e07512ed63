package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"

	"github.com/otpgate/otpgate/backend"
	"github.com/otpgate/otpgate/backend/passwd"
	"github.com/otpgate/otpgate/backend/seal"
	"github.com/otpgate/otpgate/conf"
	"github.com/otpgate/otpgate/httpsrv"
	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// store is what otpgate needs of a backend store; *backend.SQLite and
// *backend.MySQL implement it.
type store interface {
	manage.Store
	UsersAfter(ctx context.Context, after string, limit int) ([]verify.User, error) // LDAP searches
	Migrate(ctx context.Context) (int, error)
	SchemaVersion(ctx context.Context) (int, error)
	Ping(ctx context.Context) error
	Close() error
}

// app is everything a command needs, opened from the config.
type app struct {
	cfg     *conf.Config
	store   store
	keyring *seal.Keyring
	engine  *verify.Engine
	sw      *verify.Switch // the current engine while serving (reloads swap it)
	manager *manage.Manager
	metrics *httpsrv.Metrics
	log     *slog.Logger
	level   *slog.LevelVar  // the operational log's level, changed by a reload
	audit   *slog.Logger    // audit records
	auditW  *reopenableFile // the audit file, reopened on SIGHUP; nil for stdout/stderr
	serving *servingState   // listeners and reloadable parts while serving
	closers []io.Closer
}

func (a *app) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i].Close())
	}
	return errors.Join(errs...)
}

// loadConfig finds and validates the config.
func (e *env) loadConfig() (*conf.Config, error) {
	cfg, err := conf.Find(e.configPath)
	if err != nil {
		return nil, exitErr{exitError, err}
	}
	return cfg, nil
}

// open loads the config, opens the key and the store and runs the
// migrations; forServe sends audit records where the config says, other
// commands send them to stderr when the config says stdout (stdout holds
// the command's output).
func (e *env) open(forServe bool) (*app, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg}
	a.level = new(slog.LevelVar)
	a.log, err = newLogger(e.stderr, cfg.Log.Format, cfg.Log.Level, a.level)
	if err != nil {
		return nil, err
	}
	if err := a.openStore(e, cfg); err != nil {
		a.Close()
		return nil, err
	}
	audit, err := e.auditLogger(a, cfg, forServe)
	if err == nil {
		err = a.buildEngine(cfg, audit)
	}
	if err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func (a *app) openStore(e *env, cfg *conf.Config) error {
	master, err := seal.LoadOrCreateKey(cfg.KeyFile, rand.Reader)
	if err != nil {
		return err
	}
	a.keyring, err = seal.New(master, seal.Options{Argon2: passwd.Argon2Params{
		Time: cfg.Passwords.Argon2Time, Memory: cfg.Passwords.Argon2Memory, Threads: cfg.Passwords.Argon2Threads}})
	if err != nil {
		return err
	}
	if cfg.Store.Driver == "mysql" {
		a.store, err = openMySQL(e.ctx, cfg.Store, a.keyring, a.log)
	} else {
		a.store, err = backend.OpenSQLite(e.ctx, backend.SQLiteOptions{Path: cfg.Store.Path, Sealer: a.keyring,
			LoginCache: cmp.Or(cfg.Store.LoginCache, -1)})
	}
	if err != nil {
		return err
	}
	a.closers = append(a.closers, a.store)
	if _, err := a.store.Migrate(e.ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

func (a *app) buildEngine(cfg *conf.Config, audit *slog.Logger) error {
	a.audit = audit
	a.metrics = newMetrics()
	opts, err := a.engineOptions(cfg)
	if err != nil {
		return err
	}
	if a.engine, err = verify.New(opts); err != nil {
		return err
	}
	// The manager goes through the switch, so after a reload the operator
	// operations (token tests, levels) use the new configuration too.
	a.sw = verify.NewSwitch(a.engine)
	a.manager, err = manage.New(manage.Options{Store: a.store, Credentials: a.keyring, Engine: a.sw,
		Issuer: cfg.Issuer, Defaults: manage.EnrollDefaults{Digits: cfg.Tokens.Digits,
			Algorithm: cfg.Tokens.Algorithm, Period: int(cfg.Tokens.Period.Seconds())}})
	return err
}

// engineOptions are the engine settings of cfg, over the app's store,
// keyring, loggers and metrics (also used by a reload).
func (a *app) engineOptions(cfg *conf.Config) (verify.Options, error) {
	exempt := make([]netip.Prefix, 0, len(cfg.BruteForce.SourceExempt))
	for _, s := range cfg.BruteForce.SourceExempt {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return verify.Options{}, fmt.Errorf("bruteforce.source_exempt: %w", err)
		}
		exempt = append(exempt, p.Masked())
	}
	remote, err := remoteValidator(cfg.YubiKey.Validation, a.log)
	if err != nil {
		return verify.Options{}, err
	}
	observe, storeObserver := engineObservers(a.metrics)
	var creds verify.Credentials = a.keyring
	if cfg.Passwords.CacheTTL > 0 {
		if creds, err = verify.NewPasswordCache(a.keyring, cfg.Passwords.CacheTTL, cfg.Passwords.CacheSize, nil); err != nil {
			return verify.Options{}, err
		}
	}
	return verify.Options{
		Store: a.store, Credentials: creds, Policy: policyOf(cfg),
		Tokens: verify.TokenOptions{HOTPWindow: cfg.Tokens.HOTPWindow, ResyncWindow: cfg.Tokens.ResyncWindow,
			TOTPSkew: cfg.Tokens.TOTPSkew, MOTPSkew: cfg.Tokens.MOTPSkew},
		BruteForce: verify.BruteForceOptions{MaxFail: cfg.BruteForce.MaxFail, Backoff: cfg.BruteForce.Backoff,
			MaxBackoff: cfg.BruteForce.MaxBackoff, SourceMaxFail: cfg.BruteForce.SourceMaxFail,
			SourceWindow: cfg.BruteForce.SourceWindow, SourceExempt: exempt},
		StoreTimeout: cfg.Store.Timeout, Audit: a.audit, Log: a.log,
		Remote: remote, Observe: observe, StoreObserver: storeObserver,
	}, nil
}

// policyOf turns the config's policy tables into the engine's.
func policyOf(cfg *conf.Config) verify.Policy {
	p := verify.Policy{PINLength: cfg.PINLength, Services: map[string]string{}, Modes: map[string]map[string]verify.Mode{}}
	for name, svc := range cfg.Services {
		p.Services[name] = svc.Class
	}
	for level, classes := range cfg.Policy {
		p.Modes[level] = map[string]verify.Mode{}
		for class, mode := range classes {
			p.Modes[level][class] = verify.Mode(mode)
		}
	}
	return p
}

// newLogger builds the operational logger on w; lvl (may be nil) holds
// its level so a reload can change it.
func newLogger(w io.Writer, format, level string, lvl *slog.LevelVar) (*slog.Logger, error) {
	if lvl == nil {
		lvl = new(slog.LevelVar)
	}
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}

// auditLogger opens the audit destination: always JSON, one line per
// attempt.
func (e *env) auditLogger(a *app, cfg *conf.Config, forServe bool) (*slog.Logger, error) {
	var w io.Writer
	switch cfg.Log.Audit {
	case "", "stdout":
		w = e.stdout
		if !forServe {
			w = e.stderr
		}
	case "stderr":
		w = e.stderr
	default:
		f, err := openReopenable(cfg.Log.Audit)
		if err != nil {
			return nil, fmt.Errorf("log.audit: %w", err)
		}
		a.closers = append(a.closers, f)
		a.auditW, w = f, f
	}
	return slog.New(slog.NewJSONHandler(w, nil)), nil
}

// openMySQL opens the MySQL/MariaDB store from the [store] keys.
func openMySQL(ctx context.Context, c conf.Store, sealer backend.Sealer, log *slog.Logger) (*backend.MySQL, error) {
	password, err := c.DatabasePassword()
	if err != nil {
		return nil, fmt.Errorf("store.password_file: %w", err)
	}
	tlsConfig, err := storeTLS(c)
	if err != nil {
		return nil, err
	}
	return backend.OpenMySQL(ctx, backend.MySQLOptions{Host: c.Host, Port: c.Port, User: c.User,
		Password: password, Database: c.Database, TLS: tlsConfig, DialTimeout: c.DialTimeout,
		ReadTimeout: c.ReadTimeout, WriteTimeout: c.WriteTimeout, MaxOpenConns: c.MaxOpenConns,
		MaxIdleConns: c.MaxIdleConns, ConnMaxLifetime: c.ConnMaxLifetime, ConnMaxIdleTime: c.ConnMaxIdleTime,
		Sealer: sealer, Log: log.With("store", "mysql")})
}

// storeTLS builds the TLS config for the database connection, nil when off.
func storeTLS(c conf.Store) (*tls.Config, error) {
	if c.TLS.Mode == "off" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLS.ServerName,
		InsecureSkipVerify: c.TLS.Mode == "skip-verify"}
	if c.TLS.CAFile != "" {
		pem, err := os.ReadFile(c.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("store.tls.ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("store.tls.ca_file: no PEM certificate in %s", c.TLS.CAFile)
		}
	}
	if c.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("store.tls: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
