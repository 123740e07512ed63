package httpsrv

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	m := NewMetrics(BuildInfo{})
	tests := []struct {
		name string
		cfg  Config
		m    *Metrics
	}{
		{"refuses to start without metrics", Config{}, nil},
		{"refuses an invalid allow prefix", Config{Allow: []netip.Prefix{{}}}, m},
		{"refuses TLS without a certificate", Config{TLS: &tls.Config{}}, m},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(tt.cfg, tt.m, nil, nil); err == nil {
				t.Error("New succeeded")
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	r := serve(t, newServer(t, Config{}, nil, nil), nil)
	tests := []struct {
		name   string
		method string
		path   string
		code   int
		body   string
	}{
		{"answers ok on healthz while the process runs", "GET", "/healthz", 200, "ok\n"},
		{"answers HEAD on healthz without a body", "HEAD", "/healthz", 200, ""},
		{"answers ok on readyz when no readiness check is set", "GET", "/readyz", 200, "ok\n"},
		{"serves metrics in the text format", "GET", "/metrics", 200, "# HELP otpgate_build_info"},
		{"answers 404 for an unknown path", "GET", "/admin", 404, ""},
		{"answers 404 below metrics", "GET", "/metrics/x", 404, ""},
		{"answers 405 for POST on healthz", "POST", "/healthz", 405, ""},
		{"answers 405 for DELETE on metrics", "DELETE", "/metrics", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, body := r.get(t, tt.method, tt.path)
			if code != tt.code || !strings.Contains(body, tt.body) {
				t.Errorf("%s %s = %d %.60q, want %d containing %q", tt.method, tt.path, code, body, tt.code, tt.body)
			}
		})
	}
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	tests := []struct {
		name  string
		ready func(context.Context) error
		code  int
		body  string
	}{
		{"answers ok when the check passes", func(context.Context) error { return nil }, 200, "ok"},
		{"names the component a NotReady error gives", func(context.Context) error {
			return NotReady("store", errors.New("dial tcp db:3306: user=otp password=hunter2"))
		}, 503, "store: not ready"},
		{"hides the text of any other error", func(context.Context) error {
			return errors.New("open /etc/otpgate/secret.key: password=hunter2")
		}, 503, "not ready"},
		{"gives up at the deadline on a slow check", func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}, 503, "not ready: timeout"},
		{"gives up at the deadline on a check that ignores its context", func(context.Context) error {
			<-stuck
			return nil
		}, 503, "not ready: timeout"},
		{"reports a panicking check as not ready", func(context.Context) error {
			panic("boom")
		}, 503, "not ready"},
		{"passes a context with a deadline to the check", func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("no deadline")
			}
			return nil
		}, 200, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, Config{ReadyTimeout: 50 * time.Millisecond}, nil, tt.ready)
			code, body := serve(t, s, nil).get(t, "GET", "/readyz")
			if code != tt.code || strings.TrimSpace(body) != tt.body {
				t.Errorf("readyz = %d %q, want %d %q", code, body, tt.code, tt.body)
			}
		})
	}
}

func TestReadinessRecovers(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	failing.Store(true)
	s := newServer(t, Config{}, nil, func(context.Context) error {
		if failing.Load() {
			return NotReady("store", errors.New("down"))
		}
		return nil
	})
	r := serve(t, s, nil)
	if code, _ := r.get(t, "GET", "/readyz"); code != 503 {
		t.Fatalf("readyz while failing = %d, want 503", code)
	}
	failing.Store(false)
	if code, _ := r.get(t, "GET", "/readyz"); code != 200 {
		t.Fatalf("readyz after recovery = %d, want 200", code)
	}
}

func TestAllowList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		allow  []string
		remote string
		xff    string // X-Forwarded-For, which must be ignored
		code   int
	}{
		{"admits IPv4 loopback by default", nil, "127.0.0.1:5000", "", 200},
		{"admits all of 127/8 by default", nil, "127.1.2.3:5000", "", 200},
		{"admits IPv6 loopback by default", nil, "[::1]:5000", "", 200},
		{"refuses a private address by default", nil, "10.0.0.5:5000", "", 403},
		{"refuses a public address by default", nil, "203.0.113.9:5000", "", 403},
		{"ignores a forwarding header claiming loopback", nil, "203.0.113.9:5000", "127.0.0.1", 403},
		{"admits an address in a listed network", []string{"10.0.0.0/8"}, "10.0.0.5:5000", "", 200},
		{"admits a v4-mapped IPv6 peer in a listed IPv4 network", []string{"10.0.0.0/8"}, "[::ffff:10.0.0.5]:5000", "", 200},
		{"admits a link-local peer with a zone", []string{"fe80::/10"}, "[fe80::1%eth0]:5000", "", 200},
		{"refuses an address outside every listed network", []string{"10.0.0.0/8", "2001:db8::/32"}, "192.168.1.1:5000", "", 403},
		{"refuses loopback when the list does not include it", []string{"10.0.0.0/8"}, "127.0.0.1:5000", "", 403},
		{"normalises an unmasked prefix", []string{"192.168.1.77/24"}, "192.168.1.5:5000", "", 200},
		{"refuses a peer address that does not parse", nil, "@", "", 403},
		{"refuses an empty peer address", nil, "", "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cfg Config
			for _, p := range tt.allow {
				cfg.Allow = append(cfg.Allow, mustPrefix(p))
			}
			h := newServer(t, cfg, nil, nil).Handler()
			req := httptest.NewRequestWithContext(t.Context(), "GET", "/healthz", nil)
			req.RemoteAddr = tt.remote
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.code {
				t.Errorf("from %q: %d, want %d", tt.remote, w.Code, tt.code)
			}
		})
	}
}

func TestAllowListOnARealSocket(t *testing.T) {
	t.Parallel()
	t.Run("admits a loopback client by default", func(t *testing.T) {
		t.Parallel()
		if code, _ := serve(t, newServer(t, Config{}, nil, nil), nil).get(t, "GET", "/metrics"); code != 200 {
			t.Errorf("GET /metrics = %d, want 200", code)
		}
	})
	t.Run("refuses a loopback client outside the list, metrics included", func(t *testing.T) {
		t.Parallel()
		s := newServer(t, Config{Allow: []netip.Prefix{mustPrefix("10.0.0.0/8")}}, nil, nil)
		code, body := serve(t, s, nil).get(t, "GET", "/metrics")
		if code != 403 || strings.Contains(body, "otpgate_") {
			t.Errorf("GET /metrics = %d %.40q, want 403 without metrics", code, body)
		}
	})
}

func TestHandleMountsRoutesBehindTheAllowList(t *testing.T) {
	t.Parallel()
	s := newServer(t, Config{}, nil, nil)
	s.Handle("GET /wsapi/2.0/verify", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		plain(w, 200, "status=OK")
	}))
	t.Run("serves a mounted route", func(t *testing.T) {
		r := serve(t, s, nil)
		if code, body := r.get(t, "GET", "/wsapi/2.0/verify"); code != 200 || body != "status=OK\n" {
			t.Errorf("mounted route = %d %q", code, body)
		}
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("refuses a mounted route to an outside client", func(t *testing.T) {
		req := httptest.NewRequestWithContext(t.Context(), "GET", "/wsapi/2.0/verify", nil)
		req.RemoteAddr = "203.0.113.9:4000"
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		if w.Code != 403 {
			t.Errorf("from outside = %d, want 403", w.Code)
		}
	})
	t.Run("panics when a route is mounted after Serve", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("Handle after Serve did not panic")
			}
		}()
		s.Handle("GET /late", http.NotFoundHandler())
	})
}

func TestTLS(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := selfSigned(t)
	s := newServer(t, Config{TLS: serverTLS}, nil, nil)
	r := serve(t, s, clientTLS)
	t.Run("answers healthz over TLS with a self-signed certificate", func(t *testing.T) {
		t.Parallel()
		if code, body := r.get(t, "GET", "/healthz"); code != 200 || body != "ok\n" {
			t.Errorf("https healthz = %d %q", code, body)
		}
	})
	t.Run("refuses a client limited to TLS 1.1", func(t *testing.T) {
		t.Parallel()
		cfg := clientTLS.Clone()
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		conn, err := tls.Dial("tcp", r.addr, cfg)
		if err == nil {
			conn.Close()
			t.Fatal("TLS 1.1 handshake succeeded")
		}
	})
	t.Run("does not serve plain HTTP on a TLS listener", func(t *testing.T) {
		t.Parallel()
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get("http://" + r.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Error("plain HTTP answered 200")
			}
		}
	})
	t.Run("does not change the caller's TLS config", func(t *testing.T) {
		t.Parallel()
		if serverTLS.MinVersion != 0 {
			t.Errorf("caller's MinVersion changed to %x", serverTLS.MinVersion)
		}
	})
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	t.Run("returns nil and closes the listener when the context ends", func(t *testing.T) {
		t.Parallel()
		r := serve(t, newServer(t, Config{}, nil, nil), nil)
		if code, _ := r.get(t, "GET", "/healthz"); code != 200 {
			t.Fatalf("healthz = %d", code)
		}
		if err := r.stop(); err != nil {
			t.Fatalf("Serve = %v, want nil", err)
		}
		if c, err := net.Dial("tcp", r.addr); err == nil {
			c.Close()
			t.Error("listener still accepts after Serve returned")
		}
	})
	t.Run("lets an in-flight request finish", func(t *testing.T) {
		t.Parallel()
		s := newServer(t, Config{}, nil, nil)
		entered, release := make(chan struct{}), make(chan struct{})
		s.Handle("GET /slow", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			close(entered)
			<-release
			plain(w, 200, "done")
		}))
		r := serve(t, s, nil)
		got := make(chan int, 1)
		go func() {
			resp, err := r.client.Get(r.url + "/slow")
			if err != nil {
				got <- 0
				return
			}
			resp.Body.Close()
			got <- resp.StatusCode
		}()
		<-entered
		stopped := make(chan error, 1)
		go func() { stopped <- r.stop() }()
		close(release)
		if code := <-got; code != 200 {
			t.Errorf("in-flight request = %d, want 200", code)
		}
		if err := <-stopped; err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	t.Run("closes a request that outlives the shutdown timeout", func(t *testing.T) {
		t.Parallel()
		s := newServer(t, Config{ShutdownTimeout: 20 * time.Millisecond}, nil, nil)
		entered := make(chan struct{})
		s.Handle("GET /hang", http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			close(entered)
			<-r.Context().Done() // ends when the connection is closed
		}))
		r := serve(t, s, nil)
		failed := make(chan error, 1)
		go func() {
			resp, err := r.client.Get(r.url + "/hang")
			if err == nil {
				resp.Body.Close()
			}
			failed <- err
		}()
		<-entered
		if err := r.stop(); err != nil {
			t.Errorf("Serve = %v", err)
		}
		if err := <-failed; err == nil {
			t.Error("hung request completed; want a closed connection")
		}
	})
	t.Run("returns an error when the listener fails", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- newServer(t, Config{}, nil, nil).Serve(context.Background(), ln) }()
		ln.Close()
		if err := <-done; err == nil {
			t.Error("Serve = nil after its listener was closed under it")
		}
	})
}
