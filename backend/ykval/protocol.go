// Package ykval speaks the YubiKey validation protocol 2.0
// (https://developers.yubico.com/yubikey-val/Validation_Protocol_V2.0.html):
// the message signatures, a Client that asks validation servers such as
// YubiCloud whether an OTP is good, and a Server handler that lets otpgate
// answer such requests itself.
//
// Signing (protocol §"Generating signatures"): every key=value pair of the
// message except h, sorted by key byte-wise, joined as k=v with '&' over the
// raw (not URL-encoded) values, HMAC-SHA1 under the base64-decoded API key,
// standard base64 with padding. Responses are key=value lines ending in
// CRLF, signed the same way over every line except h.
package ykval

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Status is the status field of a response.
type Status string

// Statuses defined by the protocol.
const (
	StatusOK                  Status = "OK"
	StatusBadOTP              Status = "BAD_OTP"
	StatusReplayedOTP         Status = "REPLAYED_OTP"
	StatusBadSignature        Status = "BAD_SIGNATURE"
	StatusMissingParameter    Status = "MISSING_PARAMETER"
	StatusNoSuchClient        Status = "NO_SUCH_CLIENT"
	StatusOperationNotAllowed Status = "OPERATION_NOT_ALLOWED"
	StatusBackendError        Status = "BACKEND_ERROR"
	StatusNotEnoughAnswers    Status = "NOT_ENOUGH_ANSWERS"
	StatusReplayedRequest     Status = "REPLAYED_REQUEST"
)

// Class is what a status means to the caller of a validation.
type Class int

// Classes. The zero value is ClassUnavailable so that an unknown status
// never accepts or rejects.
const (
	// ClassUnavailable: no decision; try later or elsewhere (BACKEND_ERROR,
	// NOT_ENOUGH_ANSWERS, REPLAYED_REQUEST, unknown statuses).
	ClassUnavailable Class = iota
	// ClassAccept: the OTP is valid and was not seen before (OK only).
	ClassAccept
	// ClassReject: the OTP is wrong or replayed (BAD_OTP, REPLAYED_OTP).
	ClassReject
	// ClassConfig: our client id, key or request is wrong (BAD_SIGNATURE,
	// NO_SUCH_CLIENT, OPERATION_NOT_ALLOWED, MISSING_PARAMETER). The
	// caller logs loudly and treats the validation as unavailable.
	ClassConfig
)

// Classify maps a status to its class.
func Classify(s Status) Class {
	switch s {
	case StatusOK:
		return ClassAccept
	case StatusBadOTP, StatusReplayedOTP:
		return ClassReject
	case StatusBadSignature, StatusNoSuchClient, StatusOperationNotAllowed, StatusMissingParameter:
		return ClassConfig
	}
	return ClassUnavailable
}

// Known reports whether s is one of the ten statuses of the protocol.
func (s Status) Known() bool {
	switch s {
	case StatusOK, StatusBadOTP, StatusReplayedOTP, StatusBadSignature,
		StatusMissingParameter, StatusNoSuchClient, StatusOperationNotAllowed,
		StatusBackendError, StatusNotEnoughAnswers, StatusReplayedRequest:
		return true
	}
	return false
}

// signingString returns params without h, sorted by key and joined as
// k=v with '&'.
func signingString(params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "h" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k])
	}
	return b.String()
}

// Sign returns h for params under key (the base64-decoded API key; nil or
// empty is the empty key the reference server uses before it knows the
// client). A key "h" in params is ignored, so a received message can be
// passed as it is.
func Sign(key []byte, params map[string]string) string {
	mac := hmac.New(sha1.New, key)
	mac.Write([]byte(signingString(params)))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether h is the signature of params under key.
// The comparison is constant-time; any h that is not the exact canonical
// base64 of the right MAC fails.
func VerifySignature(key []byte, params map[string]string, h string) bool {
	want := Sign(key, params)
	return subtle.ConstantTimeCompare([]byte(want), []byte(h)) == 1
}

// EncodeRequest returns the query string of a request: params sorted by
// key and percent-encoded, then h (signed over the raw values) last when
// key is non-empty. params must not hold h.
func EncodeRequest(key []byte, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		appendQueryPair(&b, k, params[k])
	}
	if len(key) > 0 {
		appendQueryPair(&b, "h", Sign(key, params))
	}
	return b.String()
}

func appendQueryPair(b *strings.Builder, k, v string) {
	if b.Len() > 0 {
		b.WriteByte('&')
	}
	b.WriteString(url.QueryEscape(k))
	b.WriteByte('=')
	b.WriteString(url.QueryEscape(v))
}

// MaxResponseSize bounds a response body. Real responses are under 400
// bytes.
const MaxResponseSize = 4096

// maxKeyLen bounds a response key; the longest defined one is
// "sessioncounter".
const maxKeyLen = 32

// ErrMalformed is wrapped by every ParseResponse error.
var ErrMalformed = errors.New("malformed response")

// ParseResponse parses a response body: at most MaxResponseSize bytes of
// "key=value" lines, each ending in CRLF, optionally followed by empty
// lines (the reference server ends with one). Keys are 1 to 32 lower-case
// ASCII letters, each at most once; values are printable ASCII without
// spaces and may contain '='. Anything else is an error wrapping
// ErrMalformed; the error text never quotes the body.
func ParseResponse(body []byte) (map[string]string, error) {
	if len(body) > MaxResponseSize {
		return nil, fmt.Errorf("ykval: parse response: %d bytes: %w", len(body), ErrMalformed)
	}
	fields := make(map[string]string)
	rest, ended := body, false
	for lineNo := 1; len(rest) > 0; lineNo++ {
		line, after, found := bytes.Cut(rest, []byte("\r\n"))
		if !found {
			return nil, fmt.Errorf("ykval: parse response: line %d: no CRLF: %w", lineNo, ErrMalformed)
		}
		rest = after
		if len(line) == 0 {
			ended = true
			continue
		}
		if ended {
			return nil, fmt.Errorf("ykval: parse response: line %d: data after an empty line: %w", lineNo, ErrMalformed)
		}
		if err := parseLine(fields, line); err != nil {
			return nil, fmt.Errorf("ykval: parse response: line %d: %w", lineNo, err)
		}
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("ykval: parse response: no fields: %w", ErrMalformed)
	}
	return fields, nil
}

func parseLine(fields map[string]string, line []byte) error {
	key, value, found := bytes.Cut(line, []byte("="))
	if !found {
		return fmt.Errorf("no '=': %w", ErrMalformed)
	}
	if len(key) == 0 || len(key) > maxKeyLen || !allBytes(key, isLowerLetter) {
		return fmt.Errorf("bad key: %w", ErrMalformed)
	}
	if !allBytes(value, isVisibleASCII) {
		return fmt.Errorf("key %s: bad value: %w", key, ErrMalformed)
	}
	if _, dup := fields[string(key)]; dup {
		return fmt.Errorf("key %s repeated: %w", key, ErrMalformed)
	}
	fields[string(key)] = string(value)
	return nil
}

func allBytes(b []byte, ok func(byte) bool) bool {
	for _, c := range b {
		if !ok(c) {
			return false
		}
	}
	return true
}

func isLowerLetter(c byte) bool  { return 'a' <= c && c <= 'z' }
func isVisibleASCII(c byte) bool { return '!' <= c && c <= '~' }
func isDigit(c byte) bool        { return '0' <= c && c <= '9' }
func isAlnum(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// FormatTime renders t as the reference server's t field: UTC
// "2006-01-02T15:04:05Z0" followed by three millisecond digits, e.g.
// 2010-05-17T14:48:15Z0355 (PHP date('Y-m-d\TH:i:s\Z0') plus the
// milliseconds of microtime()).
func FormatTime(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%sZ0%03d", t.Format("2006-01-02T15:04:05"), t.Nanosecond()/int(time.Millisecond))
}

// The request parameter formats of the protocol, shared by Client and
// Server.
const (
	minNonceLen = 16
	maxNonceLen = 40
	minOTPLen   = 32 // a public id of 0 bytes
	maxOTPLen   = 48 // a public id of 16 bytes
	modhex      = "cbdefghijklnrtuv"
)

// validOTP reports whether otp is 32 to 48 lower-case modhex characters.
// Upper case and Dvorak input are refused, as in package verify/yubiotp.
func validOTP(otp string) bool {
	if len(otp) < minOTPLen || len(otp) > maxOTPLen || len(otp)%2 != 0 {
		return false
	}
	for i := range len(otp) {
		if strings.IndexByte(modhex, otp[i]) < 0 {
			return false
		}
	}
	return true
}

// validNonce reports whether nonce is 16 to 40 ASCII letters and digits.
func validNonce(nonce string) bool {
	return len(nonce) >= minNonceLen && len(nonce) <= maxNonceLen && allBytes([]byte(nonce), isAlnum)
}

// validClientID reports whether id is a decimal number of 1 to 20 digits,
// the reference server's format.
func validClientID(id string) bool {
	return len(id) >= 1 && len(id) <= 20 && allBytes([]byte(id), isDigit)
}

// validSyncLevel reports whether sl is "fast", "secure" or 0..100.
func validSyncLevel(sl string) bool {
	if sl == "fast" || sl == "secure" {
		return true
	}
	return validDecimal(sl, 100)
}

// validDecimal reports whether s is a decimal number (no sign, no leading
// zeros except "0") not above limit.
func validDecimal(s string, limit int) bool {
	if len(s) == 0 || len(s) > 9 || !allBytes([]byte(s), isDigit) || (len(s) > 1 && s[0] == '0') {
		return false
	}
	n := 0
	for i := range len(s) {
		n = n*10 + int(s[i]-'0')
	}
	return n <= limit
}
