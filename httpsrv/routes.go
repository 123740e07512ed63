package httpsrv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// routes registers the built-in endpoints. Method-qualified patterns give
// 405 (with Allow) for other methods and 404 for unknown paths; GET
// patterns also answer HEAD.
func (s *Server) routes() {
	s.mux.Handle("GET /metrics", s.metrics.handler(promLogger{s}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		plain(w, http.StatusOK, "ok")
	})
	s.mux.HandleFunc("GET /readyz", s.serveReady)
}

// serveReady answers 200 "ok" when the ready callback returns nil within
// ReadyTimeout, else 503 with a short public reason (see NotReady).
func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	err := s.checkReady(r.Context())
	if err == nil {
		if !s.readyOK.Swap(true) {
			s.log.Info("http: ready again")
		}
		plain(w, http.StatusOK, "ok")
		return
	}
	if s.readyOK.Swap(false) {
		s.log.Warn("http: not ready", "err", err)
	}
	plain(w, http.StatusServiceUnavailable, publicReason(err))
}

// errReadyTimeout is the result of a check that outlived ReadyTimeout.
var errReadyTimeout = &notReadyError{reason: "not ready: timeout", err: context.DeadlineExceeded}

// checkReady runs the ready callback with a ReadyTimeout deadline. It
// returns at the deadline even if the callback ignores its context; the
// callback's goroutine then ends whenever the callback returns. A panic
// of the callback is a failed check, not a crash.
func (s *Server) checkReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReadyTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("readiness check panicked: %v", v)
			}
		}()
		done <- s.ready(ctx)
	}()
	select {
	case err := <-done:
		if err == nil && ctx.Err() != nil {
			return errReadyTimeout
		}
		return err
	case <-ctx.Done():
		return errReadyTimeout
	}
}

// NotReady wraps err, a readiness failure of component (e.g. "store"), so
// that /readyz answers "component: not ready" while the log gets err.
// Without it /readyz answers just "not ready": the text of an arbitrary
// error could carry a DSN, a path or worse to whoever can reach the port.
func NotReady(component string, err error) error {
	return &notReadyError{reason: component + ": not ready", err: err}
}

type notReadyError struct {
	reason string
	err    error
}

func (e *notReadyError) Error() string {
	if e.err == nil {
		return e.reason
	}
	return e.reason + ": " + e.err.Error()
}

func (e *notReadyError) Unwrap() error { return e.err }

// publicReason is the 503 body for err.
func publicReason(err error) string {
	if nr, ok := errors.AsType[*notReadyError](err); ok {
		return nr.reason
	}
	return "not ready"
}

// plain writes a short text/plain response that caches and sniffs
// nothing.
func plain(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, body)
}

// promLogger routes promhttp's errors to the server's log.
type promLogger struct{ s *Server }

func (l promLogger) Println(v ...any) {
	l.s.log.Warn("http: metrics: " + fmt.Sprint(v...))
}
