package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sync/atomic"
	"syscall"

	"github.com/otpgate/otpgate/conf"
	"github.com/otpgate/otpgate/ldapsrv"
	"github.com/otpgate/otpgate/radiussrv"
	"github.com/otpgate/otpgate/verify"
)

// servingState is what a reload can change while otpgate serves.
type servingState struct {
	sw       *verify.Switch
	radius   *radiussrv.Server
	ldap     *ldapsrv.Server
	ldapCert atomic.Pointer[tls.Certificate]
	httpCert atomic.Pointer[tls.Certificate]
}

// certGetter serves the certificate in p, so a reload can replace it.
func certGetter(p *atomic.Pointer[tls.Certificate]) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return p.Load(), nil }
}

// loadCert loads a PEM pair into p.
func loadCert(p *atomic.Pointer[tls.Certificate], certFile, keyFile string) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	p.Store(&cert)
	return nil
}

// watchReloads reloads on every SIGHUP until ctx ends.
func (a *app) watchReloads(ctx context.Context, e *env) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			a.reload(e)
		}
	}
}

// reload reopens the audit file, then re-reads and validates the config;
// on any error it keeps running on the old config and logs every error;
// otherwise it swaps what can change without a restart.
func (a *app) reload(e *env) {
	if a.auditW != nil {
		if err := a.auditW.Reopen(); err != nil {
			a.log.Error("reload: reopen the audit file", "err", err)
		}
	}
	cfg, err := conf.Find(e.configPath)
	if err != nil {
		logConfigErrors(a, err)
		return
	}
	if err := a.apply(cfg); err != nil {
		a.log.Error("reload failed; still running on the previous configuration", "err", err)
		return
	}
	for _, key := range restartNeeded(a.cfg, cfg) {
		a.log.Warn("reload: this change needs a restart to take effect", "key", key)
	}
	a.cfg = cfg
	a.log.Info("configuration reloaded", "config", cfg.File)
}

func logConfigErrors(a *app, err error) {
	var errs conf.Errors
	if !errors.As(err, &errs) {
		errs = conf.Errors{err}
	}
	for _, e := range errs {
		a.log.Error("reload: configuration error; still running on the previous configuration", "err", e.Error())
	}
}

// apply builds everything new first and swaps only when all of it built.
func (a *app) apply(cfg *conf.Config) error {
	opts, err := a.engineOptions(cfg)
	if err != nil {
		return err
	}
	engine, err := a.serving.sw.Engine().Reconfigure(opts)
	if err != nil {
		return err
	}
	rcfg, err := radiusConfig(cfg)
	if err != nil {
		return err
	}
	var ldapCert, httpCert atomic.Pointer[tls.Certificate]
	if err := reloadCert(&ldapCert, a.serving.ldapCert.Load(), cfg.LDAP.TLS.CertFile, cfg.LDAP.TLS.KeyFile); err != nil {
		return fmt.Errorf("ldap.tls: %w", err)
	}
	if err := reloadCert(&httpCert, a.serving.httpCert.Load(), cfg.HTTP.TLS.CertFile, cfg.HTTP.TLS.KeyFile); err != nil {
		return fmt.Errorf("http.tls: %w", err)
	}
	if a.serving.radius != nil {
		if err := a.serving.radius.SetClients(rcfg.Clients); err != nil {
			return err
		}
	}
	if a.serving.ldap != nil {
		if err := a.serving.ldap.SetServiceAccounts(ldapConfigAccounts(cfg.LDAP)); err != nil {
			return err
		}
	}
	a.serving.ldapCert.Store(ldapCert.Load())
	a.serving.httpCert.Store(httpCert.Load())
	a.serving.sw.Swap(engine)
	if err := a.level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		return err
	}
	return nil
}

// reloadCert loads a certificate that was in use (cur != nil) from its
// files again; a listener without TLS stays without.
func reloadCert(p *atomic.Pointer[tls.Certificate], cur *tls.Certificate, certFile, keyFile string) error {
	if cur == nil || certFile == "" {
		p.Store(cur)
		return nil
	}
	return loadCert(p, certFile, keyFile)
}

// restartNeeded lists the changed keys a reload cannot apply.
func restartNeeded(old, cur *conf.Config) []string {
	var keys []string
	check := func(key string, changed bool) {
		if changed {
			keys = append(keys, key)
		}
	}
	check("radius.listen", !slices.Equal(old.Radius.Listen, cur.Radius.Listen))
	check("ldap.listen", !slices.Equal(old.LDAP.Listen, cur.LDAP.Listen))
	check("ldap.ldaps_listen", !slices.Equal(old.LDAP.LDAPSListen, cur.LDAP.LDAPSListen))
	check("ldap (service, base_dn, templates, limits, attributes)", ldapRestartPart(old.LDAP) != ldapRestartPart(cur.LDAP))
	check("http.listen", old.HTTP.Listen != cur.HTTP.Listen || !slices.Equal(old.HTTP.Allow, cur.HTTP.Allow))
	check("store", old.Store != cur.Store)
	check("key_file", old.KeyFile != cur.KeyFile)
	check("log.format and log.audit", old.Log.Format != cur.Log.Format || old.Log.Audit != cur.Log.Audit)
	check("yubikey.server", fmt.Sprint(old.YubiKey.Server) != fmt.Sprint(cur.YubiKey.Server))
	check("radius (reply_cache, challenge_ttl, max_in_flight)", old.Radius.ReplyCache != cur.Radius.ReplyCache ||
		old.Radius.ChallengeTTL != cur.Radius.ChallengeTTL || old.Radius.MaxInFlight != cur.Radius.MaxInFlight)
	return keys
}

// ldapRestartPart renders the LDAP settings fixed at start.
func ldapRestartPart(l conf.LDAP) string {
	l.ServiceAccounts, l.TLS = nil, conf.LDAPTLS{}
	return fmt.Sprint(l)
}

// ldapConfigAccounts converts the configured service accounts.
func ldapConfigAccounts(l conf.LDAP) []ldapsrv.ServiceAccount {
	var out []ldapsrv.ServiceAccount
	for _, sa := range l.ServiceAccounts {
		out = append(out, ldapsrv.ServiceAccount{DN: sa.DN, PasswordHash: sa.PasswordHash})
	}
	return out
}
