package verify

import (
	"fmt"
	"log/slog"
)

// Secret carries a password, PIN, OTP or key through the program. Every way
// of printing it (fmt verbs, slog, %#v) yields "***"; only Reveal returns the
// value, so a secret cannot reach a log or an error text by accident.
type Secret string

const redacted = "***"

// Reveal returns the secret's value. Call it only where the value is used
// (hashing, comparing), never to build log or error text.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer and always returns "***".
func (Secret) String() string { return redacted }

// GoString implements fmt.GoStringer and always returns "***".
func (Secret) GoString() string { return redacted }

// LogValue implements slog.LogValuer and always logs "***".
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Format implements fmt.Formatter so that no verb (%s, %q, %x, %v) leaks it.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalText keeps encoding/json and friends from writing the value.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Len reports the secret's length in bytes.
func (s Secret) Len() int { return len(s) }
