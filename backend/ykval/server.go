package ykval

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Defaults of Server.
const (
	DefaultNonceWindow = 10 * time.Minute
	DefaultMaxNonces   = 100_000
)

// Server answers GET /wsapi/2.0/verify requests as yubikey-val does. The
// caller mounts it on a path and supplies Clients and Check; the zero
// values of the other fields are usable. A Server must not be copied after
// its first request; ServeHTTP is safe for concurrent use.
//
// Order of checks (that of ykval-verify.php): required parameters present
// and well-formed (MISSING_PARAMETER; a malformed otp is BAD_OTP), client
// known (NO_SUCH_CLIENT), request signature when h is sent or required
// (BAD_SIGNATURE), nonce not seen for this client within NonceWindow
// (REPLAYED_REQUEST), then Check. Answers given before the client's key is
// known are signed with the empty key, the others with the client's key.
type Server struct {
	// Clients returns the base64-decoded API key of a client id.
	Clients func(id string) (key []byte, ok bool)
	// Check validates the OTP and records its use. It must return
	// StatusOK, StatusBadOTP, StatusReplayedOTP or StatusBackendError;
	// anything else is answered as BACKEND_ERROR.
	Check func(ctx context.Context, otp string) Status
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// NonceWindow is how long an id+nonce pair is remembered
	// (DefaultNonceWindow when zero). Past it, Check's own replay guard
	// still refuses the OTP.
	NonceWindow time.Duration
	// MaxNonces bounds the remembered pairs (DefaultMaxNonces when zero).
	// When it is reached, new requests get BACKEND_ERROR until old pairs
	// expire: forgetting a nonce early would let a request be replayed.
	MaxNonces int
	// RequireSignature refuses unsigned requests with BAD_SIGNATURE.
	RequireSignature bool
	// Log receives failures (discarded when nil); never OTPs or keys.
	Log *slog.Logger

	nonces nonceCache
}

// field is one response line.
type field struct{ key, value string }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	key, fields := s.answer(r.Context(), r.URL.RawQuery)
	s.write(w, key, fields)
}

// answer runs the checks and returns the signing key and the fields (t
// and h are added by write).
func (s *Server) answer(ctx context.Context, rawQuery string) ([]byte, []field) {
	params, status := parseRequest(rawQuery)
	if status != "" {
		return nil, []field{{"status", string(status)}}
	}
	key, ok := s.Clients(params["id"])
	if !ok {
		return nil, []field{{"status", string(StatusNoSuchClient)}}
	}
	h, signed := params["h"]
	if (signed && !VerifySignature(key, params, h)) || (!signed && s.RequireSignature) {
		return key, []field{{"status", string(StatusBadSignature)}}
	}
	echo := []field{{"otp", params["otp"]}, {"nonce", params["nonce"]}}
	switch s.rememberNonce(params["id"], params["nonce"]) {
	case nonceReplayed:
		return key, append(echo, field{"status", string(StatusReplayedRequest)})
	case nonceCacheFull:
		s.logger().Error("ykval server: nonce cache full, answering BACKEND_ERROR", "max", s.maxNonces())
		return key, append(echo, field{"status", string(StatusBackendError)})
	}
	status = s.Check(ctx, params["otp"])
	switch status {
	case StatusOK, StatusBadOTP, StatusReplayedOTP, StatusBackendError:
	default:
		s.logger().Error("ykval server: check returned an unexpected status", "status", status)
		status = StatusBackendError
	}
	return key, append(echo, field{"sl", "100"}, field{"status", string(status)})
}

// parseRequest decodes the query and checks every parameter's presence
// and format. A non-empty status is the early answer.
func parseRequest(rawQuery string) (map[string]string, Status) {
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, StatusMissingParameter
	}
	params := make(map[string]string, len(values))
	for k, v := range values {
		if len(v) != 1 { // a repeated parameter is ambiguous
			return nil, StatusMissingParameter
		}
		params[k] = v[0]
	}
	otp, hasOTP := params["otp"]
	switch {
	case !hasOTP || otp == "":
		return nil, StatusMissingParameter
	case !validOTP(otp):
		return nil, StatusBadOTP
	case !validClientID(params["id"]) || !validNonce(params["nonce"]):
		return nil, StatusMissingParameter
	case !optionalValid(params, "sl", validSyncLevel),
		!optionalValid(params, "timeout", func(v string) bool { return validDecimal(v, 3600) }),
		!optionalValid(params, "timestamp", func(v string) bool { return v == "0" || v == "1" }):
		return nil, StatusMissingParameter
	}
	return params, ""
}

// optionalValid reports whether params[name] is absent or passes valid.
func optionalValid(params map[string]string, name string, valid func(string) bool) bool {
	v, ok := params[name]
	return !ok || valid(v)
}

// write sends the response: h, t, then fields in order, CRLF line ends and
// a final empty line, as the reference server does.
func (s *Server) write(w http.ResponseWriter, key []byte, fields []field) {
	fields = append([]field{{"t", FormatTime(s.now())}}, fields...)
	signed := make(map[string]string, len(fields))
	for _, f := range fields {
		signed[f.key] = f.value
	}
	body := make([]byte, 0, 256)
	body = append(body, "h="+Sign(key, signed)+"\r\n"...)
	for _, f := range fields {
		body = append(body, f.key+"="+f.value+"\r\n"...)
	}
	body = append(body, "\r\n"...)
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

func (s *Server) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Server) logger() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Server) maxNonces() int {
	if s.MaxNonces <= 0 {
		return DefaultMaxNonces
	}
	return s.MaxNonces
}

func (s *Server) rememberNonce(id, nonce string) nonceResult {
	window := s.NonceWindow
	if window <= 0 {
		window = DefaultNonceWindow
	}
	return s.nonces.remember(id+"\x00"+nonce, s.now(), window, s.maxNonces())
}

// nonceResult is the outcome of nonceCache.remember.
type nonceResult int

const (
	nonceFresh nonceResult = iota
	nonceReplayed
	nonceCacheFull
)

// nonceCache remembers keys until they expire. Expiries are appended in
// arrival order, so with a clock that does not go backwards the oldest
// entry is always at the head and expiring is amortised O(1).
type nonceCache struct {
	mu      sync.Mutex
	expires map[string]time.Time
	order   []nonceEntry
	head    int
}

type nonceEntry struct {
	key     string
	expires time.Time
}

// remember records key until now+window. It reports nonceReplayed when the
// key is still remembered and nonceCacheFull when max keys are live.
func (c *nonceCache) remember(key string, now time.Time, window time.Duration, limit int) nonceResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expires == nil {
		c.expires = make(map[string]time.Time)
	}
	c.expireBefore(now)
	if exp, ok := c.expires[key]; ok && now.Before(exp) {
		return nonceReplayed
	}
	if len(c.expires) >= limit {
		return nonceCacheFull
	}
	c.expires[key] = now.Add(window)
	c.order = append(c.order, nonceEntry{key: key, expires: now.Add(window)})
	return nonceFresh
}

// expireBefore drops the entries at the head that expired by now.
func (c *nonceCache) expireBefore(now time.Time) {
	for c.head < len(c.order) && !now.Before(c.order[c.head].expires) {
		e := c.order[c.head]
		if c.expires[e.key].Equal(e.expires) {
			delete(c.expires, e.key)
		}
		c.order[c.head] = nonceEntry{}
		c.head++
	}
	if c.head > 1024 && c.head > len(c.order)/2 {
		c.order = append([]nonceEntry(nil), c.order[c.head:]...)
		c.head = 0
	}
}
