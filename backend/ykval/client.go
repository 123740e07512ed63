package ykval

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Errors of Client.Verify. Every error it returns wraps exactly one of them.
var (
	// ErrUnavailable: no server gave a trustworthy decision (all failed,
	// answered garbage or forged-looking responses, or said BACKEND_ERROR,
	// NOT_ENOUGH_ANSWERS or REPLAYED_REQUEST). Treat as "cannot decide".
	ErrUnavailable = errors.New("validation unavailable")
	// ErrConfig: a server says our client id, key or request is wrong
	// (BAD_SIGNATURE, NO_SUCH_CLIENT, OPERATION_NOT_ALLOWED,
	// MISSING_PARAMETER), or the Client itself is misconfigured. Log it
	// loudly and treat the validation as unavailable.
	ErrConfig = errors.New("validation client misconfigured")
)

// StatusError carries the status behind an ErrConfig or ErrUnavailable. It
// unwraps to that sentinel, so callers test errors.Is(err, ErrConfig).
type StatusError struct {
	Server string // the server URL without query or credentials
	Status Status
	Err    error // ErrConfig or ErrUnavailable
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s answered %s: %v", e.Server, e.Status, e.Err)
}

func (e *StatusError) Unwrap() error { return e.Err }

// DefaultTimeout bounds one Verify call when Client.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Client asks validation servers whether an OTP is valid. Set the exported
// fields before the first Verify and do not change them afterwards; Verify
// is then safe for concurrent use. Do not copy a Client after first use.
type Client struct {
	// URLs are the full verify endpoints, e.g.
	// https://api.yubico.com/wsapi/2.0/verify. All are asked in parallel.
	URLs []string
	// ClientID is the API client id (decimal).
	ClientID string
	// APIKey is the base64-DECODED API key. It signs requests and, above
	// all, authenticates responses. Without it any on-path party could
	// forge OK, so an empty key is a configuration error unless
	// AllowUnsigned is set.
	APIKey []byte
	// AllowUnsigned permits an empty APIKey (tests, servers behind a
	// trusted TLS channel). Responses are then accepted unverified.
	AllowUnsigned bool
	// Timeout bounds the whole Verify call (DefaultTimeout when zero).
	Timeout time.Duration
	// ServerTimeout, when positive, is sent as the timeout parameter: how
	// many seconds a server may wait for its sync peers.
	ServerTimeout time.Duration
	// SyncLevel is sent as sl when not empty: "0".."100", "fast" or
	// "secure".
	SyncLevel string
	// Timestamp asks for timestamp=1 (the key's counters in the answer).
	Timestamp bool
	// HTTP sends the requests (http.DefaultClient when nil).
	HTTP *http.Client
	// Rand supplies nonce bytes (crypto/rand when nil).
	Rand io.Reader
	// Log receives ignored answers (rate-limited) and server failures
	// (discarded when nil). It never sees the OTP or the key.
	Log *slog.Logger

	limiter logLimiter
}

// Result is a trustworthy decision by one server.
type Result struct {
	// Status is StatusOK, StatusBadOTP or StatusReplayedOTP.
	Status Status
	// Server is the URL that answered, without query or credentials.
	Server string
	// Fields are the verified response fields (t, nonce, sl, and with
	// Timestamp set: timestamp, sessioncounter, sessionuse); h and otp
	// are removed. Empty for a malformed OTP refused locally.
	Fields map[string]string
}

// Accepted reports whether the OTP is valid: Status is OK. Check Verify's
// error first.
func (r Result) Accepted() bool { return r.Status == StatusOK }

// answer is what one server's goroutine reports.
type answer struct {
	server string
	fields map[string]string
	status Status
	err    error // transport, HTTP or format failure, or an ignored answer
}

// Verify validates otp with every server in parallel and returns the first
// trustworthy decision (OK, BAD_OTP, REPLAYED_OTP), cancelling the other
// requests. An answer is trustworthy when its signature verifies under
// APIKey, its status is known, and its otp and nonce equal ours (both
// must be present for OK; a reject may omit them, as yubikey-val does).
// Other answers are waited out; when no decision comes the error wraps
// ErrConfig if some server reported a configuration problem, else
// ErrUnavailable. An OTP that is not 32-48 lower-case modhex characters is
// rejected locally as BAD_OTP and never sent anywhere (it may be a
// password typed into the wrong place).
func (c *Client) Verify(ctx context.Context, otp string) (Result, error) {
	if err := c.checkConfig(); err != nil {
		return Result{}, err
	}
	if !validOTP(otp) {
		return Result{Status: StatusBadOTP}, nil
	}
	nonce, err := c.newNonce()
	if err != nil {
		return Result{}, fmt.Errorf("ykval: verify: nonce: %w: %w", ErrUnavailable, err)
	}
	query := EncodeRequest(c.APIKey, c.requestParams(otp, nonce))
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	answers := make(chan answer, len(c.URLs)) // never blocks a sender
	for _, server := range c.URLs {
		go func() { answers <- c.ask(ctx, server, query, otp, nonce) }()
	}
	return c.collect(answers, len(c.URLs))
}

// collect reads n answers and returns at the first decision.
func (c *Client) collect(answers <-chan answer, n int) (Result, error) {
	var configErr, lastErr error
	for range n {
		a := <-answers
		switch {
		case a.err != nil:
			lastErr = a.err
		case Classify(a.status) == ClassAccept || Classify(a.status) == ClassReject:
			return Result{Status: a.status, Server: a.server, Fields: a.fields}, nil
		case Classify(a.status) == ClassConfig:
			configErr = &StatusError{Server: a.server, Status: a.status, Err: ErrConfig}
		default:
			lastErr = &StatusError{Server: a.server, Status: a.status, Err: ErrUnavailable}
		}
	}
	if configErr != nil {
		return Result{}, fmt.Errorf("ykval: verify: %w", configErr)
	}
	// Every answer error wraps ErrUnavailable; n > 0, so lastErr is set.
	return Result{}, fmt.Errorf("ykval: verify: no decision from %d servers, last: %w", n, lastErr)
}

// checkConfig reports a misconfigured Client as ErrConfig.
func (c *Client) checkConfig() error {
	switch {
	case len(c.URLs) == 0:
		return fmt.Errorf("ykval: verify: no server urls: %w", ErrConfig)
	case !validClientID(c.ClientID):
		return fmt.Errorf("ykval: verify: client id must be decimal: %w", ErrConfig)
	case len(c.APIKey) == 0 && !c.AllowUnsigned:
		return fmt.Errorf("ykval: verify: empty api key: %w", ErrConfig)
	case c.SyncLevel != "" && !validSyncLevel(c.SyncLevel):
		return fmt.Errorf("ykval: verify: sync level %q: %w", c.SyncLevel, ErrConfig)
	}
	return nil
}

// newNonce returns 32 hex characters from 16 random bytes.
func (c *Client) newNonce() (string, error) {
	r := c.Rand
	if r == nil {
		r = rand.Reader
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

func (c *Client) requestParams(otp, nonce string) map[string]string {
	params := map[string]string{"id": c.ClientID, "otp": otp, "nonce": nonce}
	if c.Timestamp {
		params["timestamp"] = "1"
	}
	if c.SyncLevel != "" {
		params["sl"] = c.SyncLevel
	}
	if secs := int(c.ServerTimeout / time.Second); secs > 0 {
		params["timeout"] = strconv.Itoa(secs)
	}
	return params
}

// ask sends one request and checks the answer. Ignored answers come back
// with err set and are logged here (rate-limited).
func (c *Client) ask(ctx context.Context, server, query, otp, nonce string) answer {
	a := answer{server: redactURL(server)}
	a.fields, a.err = c.fetch(ctx, server, query)
	if a.err == nil {
		a.status, a.err = c.check(a.fields, otp, nonce)
	}
	if a.err != nil && ctx.Err() == nil && c.limiter.allow(time.Now()) {
		c.logger().Warn("ykval: ignoring answer", "server", a.server, "err", a.err)
	}
	return a
}

// fetch performs the GET and parses the body.
func (c *Client) fetch(ctx context.Context, server, query string) (map[string]string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return nil, fmt.Errorf("ykval: verify: server url: %w: %w", ErrUnavailable, err)
	}
	u.RawQuery = query
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("ykval: verify: %w: %w", ErrUnavailable, err)
	}
	httpClient := c.HTTP
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ykval: verify: %w: %w", ErrUnavailable, scrubURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ykval: verify: http status %d: %w", resp.StatusCode, ErrUnavailable)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("ykval: verify: read body: %w: %w", ErrUnavailable, err)
	}
	fields, err := ParseResponse(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fields, nil
}

// check decides whether parsed response fields can be trusted.
func (c *Client) check(fields map[string]string, otp, nonce string) (Status, error) {
	status := Status(fields["status"])
	if !status.Known() {
		return "", fmt.Errorf("ykval: verify: unknown status: %w", ErrUnavailable)
	}
	if !c.signedForUs(fields, status) {
		return "", fmt.Errorf("ykval: verify: bad response signature (status %s): %w", status, ErrUnavailable)
	}
	if !echoes(fields, "otp", otp, status == StatusOK) || !echoes(fields, "nonce", nonce, status == StatusOK) {
		return "", fmt.Errorf("ykval: verify: otp or nonce not echoed (status %s): %w", status, ErrUnavailable)
	}
	delete(fields, "h")
	delete(fields, "otp") // checked; keep it out of anything a caller might log
	return status, nil
}

// signedForUs reports whether the answer is signed with APIKey. Answers
// of ClassConfig are taken without a valid signature: the reference server
// signs NO_SUCH_CLIENT and MISSING_PARAMETER with the empty key, and a
// wrong APIKey makes its BAD_SIGNATURE unverifiable for us. Such an answer
// can only turn "unavailable" into "misconfigured", never into an accept
// or a reject, so trusting it gains an attacker nothing.
func (c *Client) signedForUs(fields map[string]string, status Status) bool {
	if len(c.APIKey) == 0 || Classify(status) == ClassConfig {
		return true // an empty key needs AllowUnsigned (checkConfig)
	}
	h, ok := fields["h"]
	return ok && VerifySignature(c.APIKey, fields, h)
}

// echoes reports whether fields[name] equals want, or is absent when it
// need not be present.
func echoes(fields map[string]string, name, want string, required bool) bool {
	got, ok := fields[name]
	if !ok {
		return !required
	}
	return got == want
}

func (c *Client) logger() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

// redactURL drops the query and any password from a server URL for logs.
func redactURL(server string) string {
	u, err := url.Parse(server)
	if err != nil {
		return "(unparsable url)"
	}
	u.RawQuery, u.Fragment = "", ""
	return u.Redacted()
}

// scrubURLError removes the request URL (which holds the OTP) from a
// transport error.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// logLimiter allows logBurst messages per logPeriod.
type logLimiter struct {
	mu     sync.Mutex
	start  time.Time
	logged int
}

const (
	logBurst  = 10
	logPeriod = time.Minute
)

func (l *logLimiter) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= logPeriod || now.Before(l.start) {
		l.start, l.logged = now, 0
	}
	l.logged++
	return l.logged <= logBurst
}
