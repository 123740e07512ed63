package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"

	"github.com/otpgate/otpgate/conf"
	"github.com/otpgate/otpgate/httpsrv"
	"github.com/otpgate/otpgate/ldapsrv"
)

func (a *app) startLDAP(ctx context.Context, ls *listenerSet) error {
	l := a.cfg.LDAP
	if len(l.Listen) == 0 && len(l.LDAPSListen) == 0 {
		return nil
	}
	lcfg := ldapConfig(l)
	if l.TLS.Enabled() {
		if err := loadCert(&a.serving.ldapCert, l.TLS.CertFile, l.TLS.KeyFile); err != nil {
			return fmt.Errorf("ldap.tls: %w", err)
		}
		lcfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certGetter(&a.serving.ldapCert)}
	}
	// The library logs through the global log package: rate-limit it into ours.
	ldapsrv.RouteLibraryLog(a.log.With("listener", "ldap", "source", "library"))
	srv, err := ldapsrv.New(lcfg, a.serving.sw, a.store, a.keyring, a.log.With("listener", "ldap"))
	if err != nil {
		return fmt.Errorf("ldap: %w", err)
	}
	a.serving.ldap = srv
	a.metrics.SetLDAPStats(func() httpsrv.LDAPStats {
		st := srv.Stats()
		return httpsrv.LDAPStats{ConnsOpen: st.ConnsOpen, ConnsRejected: st.ConnsRejected}
	})
	for _, group := range []struct {
		name  string
		addrs []string
		serve func(context.Context, net.Listener) error
	}{{"ldap", l.Listen, srv.Serve}, {"ldaps", l.LDAPSListen, srv.ServeTLS}} {
		for _, addr := range group.addrs {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("%s: listen %s: %w", group.name, addr, err)
			}
			a.log.Info(group.name+" listening", "listener", group.name, "addr", ln.Addr().String())
			serve := group.serve
			ls.run(ctx, group.name, func(ctx context.Context) error { return serve(ctx, ln) })
		}
	}
	return nil
}

// ldapConfig turns the config's [ldap] section into the listener's (TLS
// is added by the caller).
func ldapConfig(l conf.LDAP) ldapsrv.Config {
	var networks []ldapsrv.NetworkService
	for _, n := range l.Networks {
		p, _ := netip.ParsePrefix(n.Network) // checked by conf
		networks = append(networks, ldapsrv.NetworkService{Network: p.Masked(), Service: n.Service})
	}
	lc := ldapsrv.Config{Service: l.Service, BaseDN: l.BaseDN, UserDNTemplates: l.UserDNTemplates,
		AllowAnonymousSearch: l.AnonymousSearch, MaxMessageSize: l.MaxMessageSize, MaxConns: l.MaxConns,
		MaxConnsPerIP: l.MaxConnsPerIP, IdleTimeout: l.IdleTimeout, MessageTimeout: l.MessageTimeout,
		SizeLimit: l.SizeLimit, ScanLimit: l.ScanLimit, Attributes: l.Attributes, ServiceAccounts: ldapConfigAccounts(l), Networks: networks}
	switch l.PlainBinds {
	case "never":
		lc.AllowPlainBinds = ldapsrv.PlainNever
	case "always":
		lc.AllowPlainBinds = ldapsrv.PlainAlways
	}
	return lc
}
