package ykval

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testClock is a settable clock for Server.Now.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// checkRecorder is a Server.Check that answers status and records OTPs.
type checkRecorder struct {
	mu     sync.Mutex
	status Status
	otps   []string
}

func (c *checkRecorder) Check(_ context.Context, otp string) Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.otps = append(c.otps, otp)
	return c.status
}

func (c *checkRecorder) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.otps)
}

// newTestServer serves a Server that knows client 87 with testKey.
func newTestServer(t *testing.T, status Status, change func(*Server)) (*httptest.Server, *checkRecorder, *testClock) {
	t.Helper()
	check := &checkRecorder{status: status}
	clock := &testClock{now: time.Date(2026, 12, 3, 17, 0, 0, 123_000_000, time.UTC)}
	server := &Server{
		Clients: func(id string) ([]byte, bool) {
			if id == testClientID {
				return testKey, true
			}
			return nil, false
		},
		Check: check.Check,
		Now:   clock.Now,
	}
	if change != nil {
		change(server)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /wsapi/2.0/verify", server)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts, check, clock
}

func endpoint(ts *httptest.Server) string { return ts.URL + "/wsapi/2.0/verify" }

// fixedRand yields the same nonce on every Verify.
type fixedRand struct{}

func (fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i)
	}
	return len(p), nil
}

func TestClientAndServerRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status Status
	}{
		{name: "accepts an OTP the check accepts", status: StatusOK},
		{name: "rejects an OTP the check calls replayed", status: StatusReplayedOTP},
		{name: "rejects an OTP the check calls bad", status: StatusBadOTP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, check, _ := newTestServer(t, tt.status, nil)
			res, err := newTestClient(endpoint(ts)).Verify(t.Context(), testOTP)
			if err != nil || res.Status != tt.status {
				t.Fatalf("Verify = %+v, %v; want %s", res, err, tt.status)
			}
			if _, leaked := res.Fields["otp"]; leaked || res.Fields["sl"] != "100" || res.Fields["t"] != "2026-12-03T17:00:00Z0123" {
				t.Errorf("fields %v", res.Fields)
			}
			if check.calls() != 1 || check.otps[0] != testOTP {
				t.Errorf("check saw %v", check.otps)
			}
		})
	}
}

func TestServerRefusesAReusedNonce(t *testing.T) {
	t.Parallel()
	ts, check, clock := newTestServer(t, StatusOK, func(s *Server) { s.NonceWindow = time.Minute })
	client := newTestClient(endpoint(ts))
	client.Rand = fixedRand{}
	if res, err := client.Verify(t.Context(), testOTP); err != nil || !res.Accepted() {
		t.Fatalf("first Verify = %+v, %v", res, err)
	}
	_, err := client.Verify(t.Context(), testOTP)
	var statusErr *StatusError
	if !errors.As(err, &statusErr) || statusErr.Status != StatusReplayedRequest || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("second Verify err %v, want REPLAYED_REQUEST as ErrUnavailable", err)
	}
	if check.calls() != 1 {
		t.Errorf("check ran %d times, want 1", check.calls())
	}
	clock.Advance(time.Minute)
	if res, err := client.Verify(t.Context(), testOTP); err != nil || !res.Accepted() {
		t.Errorf("Verify after the window = %+v, %v", res, err)
	}
}

func TestServerAnswersConfigurationErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		change     func(*Client)
		server     func(*Server)
		wantStatus Status
	}{
		{name: "answers BAD_SIGNATURE to a client with the wrong key",
			change: func(c *Client) { c.APIKey = []byte("wrong key") }, wantStatus: StatusBadSignature},
		{name: "answers NO_SUCH_CLIENT to an unknown id",
			change: func(c *Client) { c.ClientID = "9999" }, wantStatus: StatusNoSuchClient},
		{name: "answers BAD_SIGNATURE to an unsigned request when signatures are required",
			change: func(c *Client) { c.APIKey, c.AllowUnsigned = nil, true },
			server: func(s *Server) { s.RequireSignature = true }, wantStatus: StatusBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, check, _ := newTestServer(t, StatusOK, tt.server)
			client := newTestClient(endpoint(ts))
			tt.change(client)
			_, err := client.Verify(t.Context(), testOTP)
			var statusErr *StatusError
			if !errors.As(err, &statusErr) || statusErr.Status != tt.wantStatus || !errors.Is(err, ErrConfig) {
				t.Fatalf("err %v, want %s as ErrConfig", err, tt.wantStatus)
			}
			if check.calls() != 0 {
				t.Error("check ran for a refused request")
			}
		})
	}
}

// getFields sends a raw query and returns the parsed, signature-checked
// answer.
func getFields(t *testing.T, ts *httptest.Server, query string, key []byte) map[string]string {
	t.Helper()
	resp, err := http.Get(endpoint(ts) + "?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	fields, err := ParseResponse(body)
	if err != nil {
		t.Fatalf("ParseResponse(%q): %v", body, err)
	}
	if !VerifySignature(key, fields, fields["h"]) {
		t.Errorf("answer %q not signed with the expected key", body)
	}
	return fields
}

func TestServerChecksParametersBeforeTheClient(t *testing.T) {
	t.Parallel()
	ts, check, _ := newTestServer(t, StatusOK, nil)
	good := url.Values{"id": {testClientID}, "otp": {testOTP}, "nonce": {"abcdefghijklmnop"}}
	with := func(k, v string) string {
		q := url.Values{}
		for key, vals := range good {
			q[key] = vals
		}
		if v == "" {
			delete(q, k)
		} else {
			q.Set(k, v)
		}
		return q.Encode()
	}
	tests := []struct {
		name       string
		query      string
		wantStatus Status
	}{
		{name: "answers MISSING_PARAMETER without otp", query: with("otp", ""), wantStatus: StatusMissingParameter},
		{name: "answers MISSING_PARAMETER without id", query: with("id", ""), wantStatus: StatusMissingParameter},
		{name: "answers MISSING_PARAMETER without nonce", query: with("nonce", ""), wantStatus: StatusMissingParameter},
		{name: "answers MISSING_PARAMETER to a 15-character nonce", query: with("nonce", "abcdefghijklmno"), wantStatus: StatusMissingParameter},
		{name: "answers MISSING_PARAMETER to a 41-character nonce", query: with("nonce", strings.Repeat("a", 41)), wantStatus: StatusMissingParameter},
		{name: "answers MISSING_PARAMETER to a nonce with a dash", query: with("nonce", "abcdefgh-jklmnop"), wantStatus: StatusMissingParameter},
		{name: "answers MISSING_PARAMETER to a sync level of 101", query: with("sl", "101"), wantStatus: StatusMissingParameter},
		{name: "answers MISSING_PARAMETER to a negative timeout", query: with("timeout", "-1"), wantStatus: StatusMissingParameter},
		{name: "answers MISSING_PARAMETER to timestamp=2", query: with("timestamp", "2"), wantStatus: StatusMissingParameter},
		{name: "answers MISSING_PARAMETER to a repeated id", query: with("id", "") + "&id=87&id=88", wantStatus: StatusMissingParameter},
		{name: "answers MISSING_PARAMETER to a bad query", query: "id=%zz", wantStatus: StatusMissingParameter},
		{name: "answers BAD_OTP to an upper-case otp", query: with("otp", strings.ToUpper(testOTP)), wantStatus: StatusBadOTP},
		{name: "answers BAD_OTP to a 31-character otp", query: with("otp", testOTP[:31]), wantStatus: StatusBadOTP},
		{name: "answers NO_SUCH_CLIENT to an unknown id", query: with("id", "88"), wantStatus: StatusNoSuchClient},
	}
	t.Run("refusals", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				fields := getFields(t, ts, tt.query, nil) // the empty key
				if Status(fields["status"]) != tt.wantStatus || len(fields) != 3 || fields["t"] == "" {
					t.Errorf("answer %v, want only h, t and status %s", fields, tt.wantStatus)
				}
			})
		}
	})
	if check.calls() != 0 {
		t.Errorf("check ran %d times for refused requests", check.calls())
	}
	fields := getFields(t, ts, with("sl", "fast"), testKey) // unsigned but well-formed
	if fields["status"] != string(StatusOK) || fields["otp"] != testOTP || fields["nonce"] != "abcdefghijklmnop" {
		t.Errorf("well-formed unsigned request answered %v", fields)
	}
}

func TestServerAnswersBackendErrorForAnUnexpectedCheckStatus(t *testing.T) {
	t.Parallel()
	ts, _, _ := newTestServer(t, StatusNoSuchClient, nil)
	_, err := newTestClient(endpoint(ts)).Verify(t.Context(), testOTP)
	var statusErr *StatusError
	if !errors.As(err, &statusErr) || statusErr.Status != StatusBackendError || !errors.Is(err, ErrUnavailable) {
		t.Errorf("err %v, want BACKEND_ERROR as ErrUnavailable", err)
	}
}

func TestServerFailsClosedWhenTheNonceCacheIsFull(t *testing.T) {
	t.Parallel()
	ts, check, clock := newTestServer(t, StatusOK, func(s *Server) { s.MaxNonces, s.NonceWindow = 2, time.Minute })
	client := newTestClient(endpoint(ts))
	for range 2 {
		if res, err := client.Verify(t.Context(), testOTP); err != nil || !res.Accepted() {
			t.Fatalf("Verify = %+v, %v", res, err)
		}
	}
	_, err := client.Verify(t.Context(), testOTP)
	var statusErr *StatusError
	if !errors.As(err, &statusErr) || statusErr.Status != StatusBackendError {
		t.Fatalf("err %v, want BACKEND_ERROR", err)
	}
	clock.Advance(time.Minute)
	if res, err := client.Verify(t.Context(), testOTP); err != nil || !res.Accepted() {
		t.Errorf("Verify after expiry = %+v, %v", res, err)
	}
	if check.calls() != 3 {
		t.Errorf("check ran %d times, want 3", check.calls())
	}
}

func TestServerRefusesOtherMethods(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	(&Server{}).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/wsapi/2.0/verify", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST answered %d", rec.Code)
	}
}

func TestNonceCacheExpiresInArrivalOrder(t *testing.T) {
	t.Parallel()
	var c nonceCache
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3000 {
		now := start.Add(time.Duration(i) * time.Second)
		if got := c.remember(strconv.Itoa(i), now, 10*time.Second, 20); got != nonceFresh {
			t.Fatalf("entry %d: %v", i, got)
		}
	}
	if len(c.expires) > 11 || len(c.order)-c.head > 11 {
		t.Errorf("cache holds %d keys, %d queued; want at most 11", len(c.expires), len(c.order)-c.head)
	}
	if len(c.order) > 2100 {
		t.Errorf("queue was never compacted: %d", len(c.order))
	}
}
