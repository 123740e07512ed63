package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/otpgate/otpgate/backend/ykval"
	"github.com/otpgate/otpgate/conf"
	"github.com/otpgate/otpgate/httpsrv"
	"github.com/otpgate/otpgate/httpsrv/adminapi"
	"github.com/otpgate/otpgate/httpsrv/selfservice"
	"github.com/otpgate/otpgate/verify"
)

// newMetrics makes the metrics of this process, labelled with the build.
func newMetrics() *httpsrv.Metrics {
	b := httpsrv.BuildInfo{Version: "unknown"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		b.Version = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				b.Revision = s.Value
			}
		}
	}
	return httpsrv.NewMetrics(b)
}

// engineObservers feeds the engine's decisions and store calls to m.
func engineObservers(m *httpsrv.Metrics) (func(string, verify.Protocol, string, verify.Decision, time.Duration), func(string, time.Duration, error)) {
	return func(_ string, proto verify.Protocol, service string, dec verify.Decision, d time.Duration) {
		m.ObserveDecision(string(proto), service, dec.Outcome.String(), string(dec.Reason), d)
	}, m.ObserveStore
}

// remoteValidator builds the YubiKey validation client from
// [yubikey.validation]; nil when no servers are configured.
func remoteValidator(v conf.YubiKeyValidation, log *slog.Logger) (verify.RemoteValidator, error) {
	if len(v.URLs) == 0 {
		return nil, nil
	}
	key, err := conf.ReadAPIKey(v.APIKeyFile)
	if err != nil {
		return nil, fmt.Errorf("yubikey.validation.api_key_file: %w", err)
	}
	return ykval.Validator{Client: &ykval.Client{URLs: v.URLs, ClientID: v.ClientID, APIKey: key,
		Timeout: v.Timeout, SyncLevel: v.SyncLevel, Log: log.With("component", "ykval")}}, nil
}

// startHTTP runs the operations listener, with the YubiKey validation
// endpoint when enabled, and points the metrics at the listeners' stats.
func (a *app) startHTTP(ctx context.Context, ls *listenerSet) error {
	h := a.cfg.HTTP
	if h.Listen == "" {
		return nil
	}
	hcfg := httpsrv.Config{}
	for _, s := range h.Allow {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("http.allow: %w", err)
		}
		hcfg.Allow = append(hcfg.Allow, p)
	}
	if h.TLS.CertFile != "" {
		if err := loadCert(&a.serving.httpCert, h.TLS.CertFile, h.TLS.KeyFile); err != nil {
			return fmt.Errorf("http.tls: %w", err)
		}
		hcfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certGetter(&a.serving.httpCert)}
	}
	ready := func(ctx context.Context) error {
		if err := a.store.Ping(ctx); err != nil {
			return httpsrv.NotReady("store", err)
		}
		return nil
	}
	srv, err := httpsrv.New(hcfg, a.metrics, ready, a.log.With("listener", "http"))
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	if err := a.mountYubiKeyServer(srv); err != nil {
		return err
	}
	if err := a.mountAdminAPI(srv); err != nil {
		return err
	}
	if err := a.mountSelfService(srv); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", h.Listen)
	if err != nil {
		return fmt.Errorf("http: listen %s: %w", h.Listen, err)
	}
	a.log.Info("http listening", "listener", "http", "addr", ln.Addr().String())
	ls.run(ctx, "http", func(ctx context.Context) error { return srv.Serve(ctx, ln) })
	return nil
}

// mountYubiKeyServer adds GET /wsapi/2.0/verify for local yubikey tokens.
func (a *app) mountYubiKeyServer(srv *httpsrv.Server) error {
	ys := a.cfg.YubiKey.Server
	if !ys.Enabled {
		return nil
	}
	keys := map[string][]byte{}
	for _, c := range ys.Clients {
		key, err := conf.ReadAPIKey(c.APIKeyFile)
		if err != nil {
			return fmt.Errorf("yubikey.server.clients %s: %w", c.ID, err)
		}
		keys[c.ID] = key
	}
	srv.Handle("GET /wsapi/2.0/verify", &ykval.Server{
		Clients: func(id string) ([]byte, bool) { k, ok := keys[id]; return k, ok },
		Check: func(ctx context.Context, otp string) ykval.Status {
			return ykval.Status(a.serving.sw.CheckYubiKeyOTP(ctx, otp, "ykval-client"))
		},
		RequireSignature: true,
		Log:              a.log.With("listener", "http", "endpoint", "yubikey"),
	})
	return nil
}

// mountAdminAPI adds the JSON admin API under /api/ when enabled.
func (a *app) mountAdminAPI(srv *httpsrv.Server) error {
	ac := a.cfg.HTTP.Admin
	if !ac.Enabled {
		return nil
	}
	var digests [][sha256.Size]byte
	for _, d := range ac.TokenSHA256 {
		var sum [sha256.Size]byte
		if n, err := hex.Decode(sum[:], []byte(d)); err != nil || n != sha256.Size {
			return fmt.Errorf("http.admin.token_sha256: %q is not a SHA-256 digest", d)
		}
		digests = append(digests, sum)
	}
	h, err := adminapi.New(adminapi.Config{TokenSHA256: digests, Manager: a.manager,
		Log: a.log.With("listener", "http", "endpoint", "admin")})
	if err != nil {
		return err
	}
	srv.Handle("/api/", h)
	return nil
}

// mountSelfService adds the users' One Time Passwords page under /self/.
func (a *app) mountSelfService(srv *httpsrv.Server) error {
	sc := a.cfg.HTTP.SelfService
	if !sc.Enabled {
		return nil
	}
	h, err := selfservice.New(selfservice.Config{Engine: a.serving.sw, Manager: a.manager, Service: sc.Service,
		PINLength: a.cfg.PINLength, IdleTimeout: sc.IdleTimeout, AbsoluteTimeout: sc.AbsoluteTimeout,
		Secure: sc.SecureCookies, Log: a.log.With("listener", "http", "endpoint", "selfservice")})
	if err != nil {
		return err
	}
	srv.Handle(selfservice.Prefix, h)
	return nil
}
