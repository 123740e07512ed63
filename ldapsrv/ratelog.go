package ldapsrv

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"sync"
	"time"
)

// rateLimiter is a token bucket: rate tokens per second up to burst. The
// guard logs through it so that a flood of bad input cannot flood the log.
type rateLimiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	tokens  float64
	last    time.Time
	now     func() time.Time
	dropped int
}

func newRateLimiter(rate, burst float64, now func() time.Time) *rateLimiter {
	return &rateLimiter{rate: rate, burst: burst, tokens: burst, now: now, last: now()}
}

// allow reports whether an event may pass and how many were dropped since
// the last one that passed.
func (r *rateLimiter) allow() (ok bool, dropped int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.tokens = min(r.burst, r.tokens+now.Sub(r.last).Seconds()*r.rate)
	r.last = now
	if r.tokens < 1 {
		r.dropped++
		return false, 0
	}
	r.tokens--
	dropped, r.dropped = r.dropped, 0
	return true, dropped
}

func (s *Server) logLimited(level slog.Level, msg string, args ...any) {
	if !s.log.Enabled(context.Background(), level) {
		return
	}
	ok, dropped := s.limit.allow()
	if !ok {
		return
	}
	if dropped > 0 {
		args = append(args, "suppressed", dropped)
	}
	s.log.Log(context.Background(), level, msg, args...)
}

func (s *Server) warn(msg string, args ...any)  { s.logLimited(slog.LevelWarn, msg, args...) }
func (s *Server) debug(msg string, args ...any) { s.logLimited(slog.LevelDebug, msg, args...) }

// LibraryLogWriter returns a writer for the standard library's global
// logger that turns each line into a Warn record on l, at most perSecond
// lines per second (excess lines are counted and reported with the next
// one that passes). nmcclain/ldap logs through the global logger.
func LibraryLogWriter(l *slog.Logger, perSecond int) io.Writer {
	return &libraryLog{log: l, limit: newRateLimiter(float64(perSecond), float64(perSecond), time.Now)}
}

// RouteLibraryLog sends the process-wide standard logger (which
// nmcclain/ldap uses) to l through LibraryLogWriter at 10 lines per
// second. It changes global state: call it once, from main.
func RouteLibraryLog(l *slog.Logger) {
	log.SetFlags(0)
	log.SetOutput(LibraryLogWriter(l, 10))
}

type libraryLog struct {
	log   *slog.Logger
	limit *rateLimiter
}

func (w *libraryLog) Write(p []byte) (int, error) {
	ok, dropped := w.limit.allow()
	if !ok {
		return len(p), nil
	}
	args := []any{"source", "nmcclain/ldap"}
	if dropped > 0 {
		args = append(args, "suppressed", dropped)
	}
	w.log.Warn(string(bytes.TrimSpace(p)), args...)
	return len(p), nil
}
