package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/otpgate/otpgate/conf"
	"github.com/otpgate/otpgate/radiussrv"
	"github.com/otpgate/otpgate/verify"
)

// listenerSet runs the protocol listeners until the context ends, then
// waits for each to drain.
type listenerSet struct {
	wg   sync.WaitGroup
	errs chan error
}

func newListenerSet() *listenerSet { return &listenerSet{errs: make(chan error, 16)} }

// run starts serve in its own goroutine; a non-nil error that is not the
// context's ending is reported on errs.
func (ls *listenerSet) run(ctx context.Context, name string, serve func(context.Context) error) {
	ls.wg.Go(func() {
		if err := serve(ctx); err != nil && ctx.Err() == nil {
			ls.errs <- fmt.Errorf("%s: %w", name, err)
		}
	})
}

// startListeners binds every configured address and starts the servers.
// Binding errors are returned before anything is served (the caller
// cancels and drains what was started).
func (a *app) startListeners(ctx context.Context, ls *listenerSet) error {
	if err := a.startRadius(ctx, ls); err != nil {
		return err
	}
	if err := a.startLDAP(ctx, ls); err != nil {
		return err
	}
	return a.startHTTP(ctx, ls)
}

func (a *app) startRadius(ctx context.Context, ls *listenerSet) error {
	if len(a.cfg.Radius.Listen) == 0 {
		return nil
	}
	rcfg, err := radiusConfig(a.cfg)
	if err != nil {
		return err
	}
	srv, err := radiussrv.New(rcfg, a.serving.sw, a.log.With("listener", "radius"))
	if err != nil {
		return fmt.Errorf("radius: %w", err)
	}
	var conns []net.PacketConn
	for _, addr := range a.cfg.Radius.Listen {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return fmt.Errorf("radius: listen %s: %w", addr, err)
		}
		conns = append(conns, pc)
	}
	a.serving.radius = srv
	a.metrics.SetRadiusStats(srv.Stats)
	for _, pc := range conns {
		a.log.Info("radius listening", "listener", "radius", "addr", pc.LocalAddr().String())
		ls.run(ctx, "radius", func(ctx context.Context) error { return srv.Serve(ctx, pc) })
	}
	return nil
}

// radiusConfig turns the config's [radius] section into the listener's.
func radiusConfig(cfg *conf.Config) (radiussrv.Config, error) {
	rc := radiussrv.Config{ReplyCacheTTL: cfg.Radius.ReplyCache, ChallengeTTL: cfg.Radius.ChallengeTTL,
		MaxInFlight: cfg.Radius.MaxInFlight}
	for _, c := range cfg.Radius.Clients {
		secret, err := c.SharedSecret()
		if err != nil {
			return rc, err
		}
		network, err := netip.ParsePrefix(c.Network)
		if err != nil {
			return rc, fmt.Errorf("radius client %s: network: %w", c.Name, err)
		}
		policy := radiussrv.MARequired
		switch c.RequireMessageAuthenticator {
		case "auto":
			policy = radiussrv.MAAuto
		case "false":
			policy = radiussrv.MAOff
		}
		rc.Clients = append(rc.Clients, radiussrv.Client{Name: c.Name, Network: network, Secret: verify.Secret(secret),
			Service: c.Service, RequireMA: policy, Challenge: cfg.Services[c.Service].Challenge,
			ReplyClass: c.ReplyClass, ReplyMessage: c.ReplyMessage})
	}
	return rc, nil
}

// wait blocks until ctx ends or a listener fails, then cancels the rest
// and waits for all listeners to drain.
func (ls *listenerSet) wait(ctx context.Context, cancel context.CancelFunc) error {
	var err error
	select {
	case <-ctx.Done():
	case err = <-ls.errs:
	}
	cancel()
	return errors.Join(err, ls.drain())
}

func (ls *listenerSet) drain() error {
	ls.wg.Wait()
	close(ls.errs)
	var errs []error
	for err := range ls.errs {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
