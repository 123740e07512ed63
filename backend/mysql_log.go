package backend

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Rate limit for the driver's log lines: at most driverLogBurst lines per
// driverLogWindow; the rest are counted and the count is reported on the
// next line let through. An outage makes the driver log one line per
// broken connection, which must not flood the log.
const (
	driverLogBurst  = 5
	driverLogWindow = 10 * time.Second
)

// driverLogger adapts log/slog to the driver's Logger interface
// (Print(v ...any)), rate-limited. Safe for concurrent use.
type driverLogger struct {
	log *slog.Logger
	now func() time.Time

	mu          sync.Mutex
	windowStart time.Time
	inWindow    int // lines let through since windowStart
	suppressed  int // lines dropped since the last one let through
}

func newDriverLogger(log *slog.Logger, now func() time.Time) *driverLogger {
	return &driverLogger{log: log, now: now}
}

// Print logs the driver's message at warning level unless the rate limit
// is exhausted. The driver's messages name network errors and protocol
// problems, never credentials.
func (l *driverLogger) Print(v ...any) {
	dropped, ok := l.admit()
	if !ok {
		return
	}
	attrs := []any{slog.String("detail", fmt.Sprint(v...))}
	if dropped > 0 {
		attrs = append(attrs, slog.Int("suppressed", dropped))
	}
	l.log.Warn("mysql driver", attrs...)
}

// admit decides whether one more line may be logged now and, if so,
// returns how many lines were dropped before it.
func (l *driverLogger) admit() (dropped int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.windowStart) >= driverLogWindow || now.Before(l.windowStart) {
		l.windowStart, l.inWindow = now, 0
	}
	if l.inWindow >= driverLogBurst {
		l.suppressed++
		return 0, false
	}
	l.inWindow++
	dropped, l.suppressed = l.suppressed, 0
	return dropped, true
}
