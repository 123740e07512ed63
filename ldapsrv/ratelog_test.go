package ldapsrv

import (
	"bytes"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLibraryLogWriterIsRateLimited(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := LibraryLogWriter(slog.New(slog.NewJSONHandler(&buf, nil)), 5)
	lg := log.New(w, "", 0) // a private logger: the global one is not ours to change in tests
	for i := range 1000 {
		lg.Printf("handleConnection ber.ReadPacket ERROR: %d", i)
	}
	lines := strings.Count(buf.String(), "\n")
	if lines < 1 || lines > 6 {
		t.Fatalf("%d records for 1000 lines at 5/s", lines)
	}
	if !strings.Contains(buf.String(), `"source":"nmcclain/ldap"`) {
		t.Fatalf("records: %s", buf.String())
	}
}

func TestRateLimiterRefillsAndReportsSuppressed(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	r := newRateLimiter(1, 2, func() time.Time { return now })
	var got []string
	for range 5 {
		ok, dropped := r.allow()
		got = append(got, fmt.Sprint(ok, dropped))
	}
	now = now.Add(time.Second)
	ok, dropped := r.allow()
	got = append(got, fmt.Sprint(ok, dropped))
	want := "true 0,true 0,false 0,false 0,false 0,true 3"
	if strings.Join(got, ",") != want {
		t.Fatalf("got %s, want %s", strings.Join(got, ","), want)
	}
}
