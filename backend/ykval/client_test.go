package ykval

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testOTP      = "ccbdlnefrtghlbrjtbrdkftfdjgcuinhrndlthutdkkh"
	testClientID = "87"
)

var testKey = []byte("0123456789abcdefghij")

// reply describes what a fake validation server answers.
type reply struct {
	status     Status
	key        []byte // signing key; nil signs with the empty key
	tamper     bool   // change the status after signing
	otp        string // echoed otp ("" echoes the request's)
	nonce      string // echoed nonce ("" echoes the request's)
	omitEcho   bool   // answer without otp and nonce
	httpStatus int    // non-zero: fail with this HTTP status
	body       string // non-empty: send this raw body
}

// fakeServer is a validation server answering every request with rep. It
// checks the request's format and signature itself and counts requests.
type fakeServer struct {
	*httptest.Server
	requests atomic.Int32
}

func newFakeServer(t *testing.T, rep reply) *fakeServer {
	t.Helper()
	fs := &fakeServer{}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.requests.Add(1)
		params, early := parseRequest(r.URL.RawQuery)
		if early != "" || !VerifySignature(testKey, params, params["h"]) {
			t.Errorf("fake server got a bad request (%s)", early)
		}
		if rep.httpStatus != 0 {
			http.Error(w, "failing", rep.httpStatus)
			return
		}
		if rep.body != "" {
			_, _ = io.WriteString(w, rep.body)
			return
		}
		_, _ = io.WriteString(w, rep.render(params))
	}))
	t.Cleanup(fs.Close)
	return fs
}

// render builds the response body for a parsed request.
func (rep reply) render(params map[string]string) string {
	fields := map[string]string{"t": FormatTime(time.Now()), "status": string(rep.status)}
	if !rep.omitEcho {
		fields["otp"], fields["nonce"] = params["otp"], params["nonce"]
		if rep.otp != "" {
			fields["otp"] = rep.otp
		}
		if rep.nonce != "" {
			fields["nonce"] = rep.nonce
		}
	}
	h := Sign(rep.key, fields)
	if rep.tamper {
		fields["status"] = string(StatusOK)
	}
	var b strings.Builder
	b.WriteString("h=" + h + "\r\n")
	for _, k := range []string{"t", "otp", "nonce", "status"} {
		if v, ok := fields[k]; ok {
			b.WriteString(k + "=" + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	return b.String()
}

func newTestClient(urls ...string) *Client {
	return &Client{URLs: urls, ClientID: testClientID, APIKey: testKey, Timeout: 20 * time.Second,
		SyncLevel: "secure", ServerTimeout: 8 * time.Second, Timestamp: true}
}

func TestClientDecidesOnTrustworthyAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		reply        reply
		wantStatus   Status
		wantAccepted bool
	}{
		{name: "accepts a signed OK that echoes otp and nonce", reply: reply{status: StatusOK, key: testKey},
			wantStatus: StatusOK, wantAccepted: true},
		{name: "rejects a signed REPLAYED_OTP", reply: reply{status: StatusReplayedOTP, key: testKey},
			wantStatus: StatusReplayedOTP},
		{name: "rejects a signed BAD_OTP without echo, as yubikey-val sends it",
			reply: reply{status: StatusBadOTP, key: testKey, omitEcho: true}, wantStatus: StatusBadOTP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			server := newFakeServer(t, tt.reply)
			res, err := newTestClient(server.URL).Verify(t.Context(), testOTP)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.Status != tt.wantStatus || res.Accepted() != tt.wantAccepted || res.Server != server.URL {
				t.Errorf("result %+v, want status %s accepted %v", res, tt.wantStatus, tt.wantAccepted)
			}
		})
	}
}

func TestClientReportsUnavailableOrConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		reply   reply
		wantErr error
	}{
		{name: "ignores an OK whose signature does not verify", reply: reply{status: StatusBadOTP, key: testKey, tamper: true}, wantErr: ErrUnavailable},
		{name: "ignores an OK signed with another key", reply: reply{status: StatusOK, key: []byte("other")}, wantErr: ErrUnavailable},
		{name: "ignores a reject signed with the empty key", reply: reply{status: StatusBadOTP}, wantErr: ErrUnavailable},
		{name: "ignores an OK with a wrong nonce", reply: reply{status: StatusOK, key: testKey, nonce: "aaaaaaaaaaaaaaaaaaaaaaaa"}, wantErr: ErrUnavailable},
		{name: "ignores an OK echoing another otp", reply: reply{status: StatusOK, key: testKey, otp: "cccccccccccc" + testOTP[12:]}, wantErr: ErrUnavailable},
		{name: "ignores an OK without echo", reply: reply{status: StatusOK, key: testKey, omitEcho: true}, wantErr: ErrUnavailable},
		{name: "ignores a REPLAYED_OTP with a wrong nonce", reply: reply{status: StatusReplayedOTP, key: testKey, nonce: "bbbbbbbbbbbbbbbbbbbbbbbb"}, wantErr: ErrUnavailable},
		{name: "ignores an unknown status", reply: reply{status: "MAYBE", key: testKey}, wantErr: ErrUnavailable},
		{name: "gives up on a malformed body", reply: reply{body: "status=OK\n"}, wantErr: ErrUnavailable},
		{name: "gives up on HTTP 500", reply: reply{httpStatus: http.StatusInternalServerError}, wantErr: ErrUnavailable},
		{name: "is unavailable on BACKEND_ERROR", reply: reply{status: StatusBackendError, key: testKey}, wantErr: ErrUnavailable},
		{name: "is unavailable on REPLAYED_REQUEST", reply: reply{status: StatusReplayedRequest, key: testKey}, wantErr: ErrUnavailable},
		{name: "reports NO_SUCH_CLIENT signed with the empty key as config", reply: reply{status: StatusNoSuchClient, omitEcho: true}, wantErr: ErrConfig},
		{name: "reports an unverifiable BAD_SIGNATURE as config", reply: reply{status: StatusBadSignature, key: []byte("server's"), omitEcho: true}, wantErr: ErrConfig},
		{name: "reports OPERATION_NOT_ALLOWED as config", reply: reply{status: StatusOperationNotAllowed, key: testKey}, wantErr: ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			client := newTestClient(newFakeServer(t, tt.reply).URL)
			client.Log = slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
			res, err := client.Verify(t.Context(), testOTP)
			if !errors.Is(err, tt.wantErr) || res.Status != "" {
				t.Fatalf("Verify = %+v, %v; want %v", res, err, tt.wantErr)
			}
			if errors.Is(err, ErrConfig) == errors.Is(err, ErrUnavailable) {
				t.Errorf("error %v must wrap exactly one sentinel", err)
			}
			for _, secret := range []string{testOTP, string(testKey)} {
				if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
					t.Errorf("a secret leaked: err %q, logs %q", err, logs.String())
				}
			}
		})
	}
}

func TestClientTakesTheFirstDecisionAmongServers(t *testing.T) {
	t.Parallel()
	t.Run("takes a valid answer over a tampered one", func(t *testing.T) {
		t.Parallel()
		forged := newFakeServer(t, reply{status: StatusBadOTP, key: testKey, tamper: true})
		honest := newFakeServer(t, reply{status: StatusReplayedOTP, key: testKey})
		res, err := newTestClient(forged.URL, honest.URL).Verify(t.Context(), testOTP)
		if err != nil || res.Status != StatusReplayedOTP || res.Server != honest.URL {
			t.Fatalf("Verify = %+v, %v", res, err)
		}
	})
	t.Run("waits past REPLAYED_REQUEST for a decision", func(t *testing.T) {
		t.Parallel()
		synced := newFakeServer(t, reply{status: StatusReplayedRequest, key: testKey})
		deciding := newFakeServer(t, reply{status: StatusOK, key: testKey})
		res, err := newTestClient(synced.URL, deciding.URL).Verify(t.Context(), testOTP)
		if err != nil || !res.Accepted() {
			t.Fatalf("Verify = %+v, %v", res, err)
		}
	})
	t.Run("is unavailable when every server fails", func(t *testing.T) {
		t.Parallel()
		failing := newFakeServer(t, reply{httpStatus: http.StatusBadGateway})
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()
		_, err := newTestClient(failing.URL, closed.URL).Verify(t.Context(), testOTP)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err %v, want ErrUnavailable", err)
		}
	})
}

func TestClientDoesNotWaitForASlowServer(t *testing.T) {
	t.Parallel()
	released := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // answers only when the client gives up on it
		close(released)
	}))
	t.Cleanup(slow.Close)
	fast := newFakeServer(t, reply{status: StatusOK, key: testKey})
	client := newTestClient(slow.URL, fast.URL)
	client.Timeout = time.Minute
	start := time.Now()
	res, err := client.Verify(t.Context(), testOTP)
	if err != nil || !res.Accepted() || res.Server != fast.URL {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	if elapsed := time.Since(start); elapsed > client.Timeout/2 {
		t.Errorf("Verify took %v: it waited for the slow server", elapsed)
	}
	select {
	case <-released: // the slow request was cancelled
	case <-t.Context().Done():
		t.Fatal("the slow request was never cancelled")
	}
}

func TestClientNeverSendsAMalformedOTP(t *testing.T) {
	t.Parallel()
	server := newFakeServer(t, reply{status: StatusOK, key: testKey})
	client := newTestClient(server.URL)
	for _, otp := range []string{"", "hunter2", strings.ToUpper(testOTP), testOTP + "c", testOTP[:31], testOTP + strings.Repeat("c", 6)} {
		res, err := client.Verify(t.Context(), otp)
		if err != nil || res.Status != StatusBadOTP || res.Accepted() {
			t.Errorf("Verify(%d chars) = %+v, %v; want a local BAD_OTP", len(otp), res, err)
		}
	}
	if n := server.requests.Load(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

func TestClientRefusesABadConfiguration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*Client)
	}{
		{name: "refuses no urls", change: func(c *Client) { c.URLs = nil }},
		{name: "refuses a non-decimal client id", change: func(c *Client) { c.ClientID = "abc" }},
		{name: "refuses an empty api key", change: func(c *Client) { c.APIKey = nil }},
		{name: "refuses a sync level of 101", change: func(c *Client) { c.SyncLevel = "101" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := newTestClient("http://127.0.0.1:1/wsapi/2.0/verify")
			tt.change(client)
			if _, err := client.Verify(t.Context(), testOTP); !errors.Is(err, ErrConfig) {
				t.Errorf("err %v, want ErrConfig", err)
			}
		})
	}
}

func TestClientIsUnavailableWithoutRandomness(t *testing.T) {
	t.Parallel()
	client := newTestClient("http://127.0.0.1:1/")
	client.Rand = strings.NewReader("short")
	if _, err := client.Verify(t.Context(), testOTP); !errors.Is(err, ErrUnavailable) {
		t.Errorf("err %v, want ErrUnavailable", err)
	}
}

func TestClientAcceptsUnsignedAnswersOnlyWhenAllowed(t *testing.T) {
	t.Parallel()
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		params, _ := parseRequest(r.URL.RawQuery)
		if _, signed := params["h"]; signed {
			t.Error("request signed without a key")
		}
		_, _ = io.WriteString(w, reply{status: StatusOK}.render(params))
	}))
	t.Cleanup(server.Close)
	client := &Client{URLs: []string{server.URL}, ClientID: "1", AllowUnsigned: true}
	if res, err := client.Verify(t.Context(), testOTP); err != nil || !res.Accepted() {
		t.Errorf("Verify = %+v, %v", res, err)
	}
}

func TestLogLimiterAllowsABurstPerPeriod(t *testing.T) {
	t.Parallel()
	var l logLimiter
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	allowed := 0
	for i := range 100 {
		if l.allow(start.Add(time.Duration(i) * time.Millisecond)) {
			allowed++
		}
	}
	if allowed != logBurst {
		t.Errorf("allowed %d in one period, want %d", allowed, logBurst)
	}
	if !l.allow(start.Add(logPeriod)) {
		t.Error("a new period does not allow logging again")
	}
}

func TestVerifyCancelsWithTheCallersContext(t *testing.T) {
	t.Parallel()
	blocked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(blocked.Close)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := newTestClient(blocked.URL).Verify(ctx, testOTP); !errors.Is(err, ErrUnavailable) {
		t.Errorf("err %v, want ErrUnavailable", err)
	}
}

// syncWriter serialises writes from the client's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
