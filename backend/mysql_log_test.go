package backend

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDriverLoggerRateLimits(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	l := newDriverLogger(slog.New(slog.NewJSONHandler(&buf, nil)), clock)
	for range driverLogBurst + 3 {
		l.Print("packets.go:58: ", "unexpected EOF")
	}
	if got := strings.Count(buf.String(), "\n"); got != driverLogBurst {
		t.Fatalf("logged %d lines in one window, want %d", got, driverLogBurst)
	}
	now = now.Add(driverLogWindow)
	buf.Reset()
	l.Print("closing bad idle connection")
	var rec struct {
		Level, Msg, Detail string
		Suppressed         int
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	if rec.Level != "WARN" || rec.Msg != "mysql driver" || rec.Detail != "closing bad idle connection" || rec.Suppressed != 3 {
		t.Errorf("log line = %+v; want WARN, mysql driver, the detail and suppressed=3", rec)
	}
}

func TestDriverLoggerIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var buf bytes.Buffer
	l := newDriverLogger(slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &buf}, nil)), time.Now)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { l.Print("x") })
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Count(buf.String(), "\n"); got != driverLogBurst {
		t.Errorf("8 concurrent lines gave %d log lines, want %d", got, driverLogBurst)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
