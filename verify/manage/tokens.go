package manage

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/otpgate/otpgate/verify"
)

// EnrollRequest describes a new token. Zero Digits/Algorithm/Period take
// the configured defaults.
type EnrollRequest struct {
	Type        verify.TokenType
	Digits      int
	Algorithm   string
	Period      int
	Description string
	// mOTP only: the init secret shown by the app and the PIN typed into it.
	MOTPSecret verify.Secret
	MOTPPIN    verify.Secret
}

// Enrollment is a new pending token and, for HOTP/TOTP, its otpauth URI.
// The URI holds the secret: show it once, never log it.
type Enrollment struct {
	Token TokenInfo
	URI   verify.Secret
}

const secretSize = 20 // bytes; RFC 4226 asks for at least 128 bits

// Enroll creates a pending token for the user. It becomes usable after a
// successful TestToken.
func (m *Manager) Enroll(ctx context.Context, name string, req EnrollRequest) (Enrollment, error) {
	t, err := m.newToken(req)
	if err != nil {
		return Enrollment{}, err
	}
	u, err := m.user(ctx, name)
	if err != nil {
		return Enrollment{}, err
	}
	t.UserID = u.ID
	saved, err := m.createToken(ctx, t)
	if err != nil {
		return Enrollment{}, err
	}
	uri, err := m.uri(u.Name, saved)
	if err != nil {
		return Enrollment{}, err
	}
	info := tokenInfo(saved)
	info.User = u.Name
	return Enrollment{Token: info, URI: uri}, nil
}

// createToken stores t under a fresh random serial (retrying a taken one)
// and returns it as stored (ID and serial set, secret as given).
func (m *Manager) createToken(ctx context.Context, t verify.Token) (verify.Token, error) {
	for attempt := 0; ; attempt++ {
		var err error
		if t.Serial, err = m.newSerial(t.Type); err != nil {
			return verify.Token{}, err
		}
		saved, err := m.store.CreateToken(ctx, t)
		if errors.Is(err, verify.ErrExists) && attempt < 3 {
			continue
		}
		if err != nil {
			return verify.Token{}, fmt.Errorf("create token: %w", err)
		}
		return saved, nil
	}
}

// newToken validates req and builds the token with a fresh secret.
func (m *Manager) newToken(req EnrollRequest) (verify.Token, error) {
	if len(req.Description) > 200 {
		return verify.Token{}, invalidf("description must be at most 200 bytes")
	}
	t := verify.Token{Type: req.Type, Description: req.Description, Pending: true, Enabled: true, LastStep: verify.NoStep}
	switch req.Type {
	case verify.TypeHOTP, verify.TypeTOTP:
		return m.newOATHToken(t, req)
	case verify.TypeMOTP:
		return newMOTPToken(t, req)
	}
	return verify.Token{}, invalidf("token type must be hotp, totp or motp")
}

func (m *Manager) newOATHToken(t verify.Token, req EnrollRequest) (verify.Token, error) {
	t.Digits, t.Algorithm, t.Period = cmp(req.Digits, m.def.Digits), strings.ToUpper(req.Algorithm), cmp(req.Period, m.def.Period)
	if t.Algorithm == "" {
		t.Algorithm = m.def.Algorithm
	}
	if t.Digits != 6 && t.Digits != 8 {
		return t, invalidf("digits must be 6 or 8")
	}
	if t.Algorithm != "SHA1" && t.Algorithm != "SHA256" && t.Algorithm != "SHA512" {
		return t, invalidf("algorithm must be SHA1, SHA256 or SHA512")
	}
	if t.Type == verify.TypeTOTP && t.Period != 30 && t.Period != 60 {
		return t, invalidf("period must be 30 or 60 seconds")
	}
	if t.Type == verify.TypeHOTP {
		t.Period = 0
	}
	t.Key = make([]byte, secretSize)
	if _, err := io.ReadFull(m.rand, t.Key); err != nil {
		return t, fmt.Errorf("enroll: random secret: %w", err)
	}
	return t, nil
}

func newMOTPToken(t verify.Token, req EnrollRequest) (verify.Token, error) {
	secret, pin := req.MOTPSecret.Reveal(), req.MOTPPIN.Reveal()
	// Apps show 16 hex digits; the secret is hashed as typed (see
	// testdata/vectors/README.md), so its case is kept.
	if len(secret) < 8 || len(secret) > 64 || strings.IndexFunc(secret, notPrintable) >= 0 {
		return t, invalidf("mOTP secret must be 8 to 64 printable characters")
	}
	if len(pin) < 4 || len(pin) > 8 || strings.IndexFunc(pin, notDigit) >= 0 {
		return t, invalidf("mOTP PIN must be 4 to 8 digits")
	}
	t.Key, t.DevicePIN, t.Digits, t.Period = []byte(secret), req.MOTPPIN, 6, 10
	return t, nil
}

func notPrintable(r rune) bool { return r <= ' ' || r > '~' }
func notDigit(r rune) bool     { return r < '0' || r > '9' }

func cmp(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// newSerial returns e.g. "TOTP3F9A1C2E": the type and 8 random hex digits.
func (m *Manager) newSerial(t verify.TokenType) (string, error) {
	var b [4]byte
	if _, err := io.ReadFull(m.rand, b[:]); err != nil {
		return "", fmt.Errorf("enroll: random serial: %w", err)
	}
	return strings.ToUpper(string(t)) + strings.ToUpper(hex.EncodeToString(b[:])), nil
}

func otpAlgorithm(a string) otp.Algorithm {
	switch a {
	case "SHA256":
		return otp.AlgorithmSHA256
	case "SHA512":
		return otp.AlgorithmSHA512
	}
	return otp.AlgorithmSHA1
}

// uri builds the Key-URI (otpauth://) for an HOTP or TOTP token with
// pquerna/otp, adding the counter= parameter HOTP needs and the library
// leaves out. mOTP has no URI: the app made the secret.
func (m *Manager) uri(user string, t verify.Token) (verify.Secret, error) {
	var (
		key *otp.Key
		err error
	)
	switch t.Type {
	case verify.TypeHOTP:
		key, err = hotp.Generate(hotp.GenerateOpts{Issuer: m.issuer, AccountName: user, SecretSize: secretSize,
			Secret: t.Key, Digits: otp.Digits(t.Digits), Algorithm: otpAlgorithm(t.Algorithm)})
	case verify.TypeTOTP:
		key, err = totp.Generate(totp.GenerateOpts{Issuer: m.issuer, AccountName: user, SecretSize: secretSize,
			Secret: t.Key, Digits: otp.Digits(t.Digits), Algorithm: otpAlgorithm(t.Algorithm), Period: uint(t.Period)})
	default:
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("enroll: uri: %w", err)
	}
	u, err := url.Parse(key.URL())
	if err != nil {
		return "", fmt.Errorf("enroll: uri: %w", err)
	}
	if t.Type == verify.TypeHOTP {
		q := u.Query()
		q.Set("counter", strconv.FormatUint(t.NextCounter, 10))
		u.RawQuery = q.Encode()
	}
	return verify.Secret(u.String()), nil
}

// token loads a token by serial.
func (m *Manager) token(ctx context.Context, serial string) (verify.Token, error) {
	t, err := m.store.TokenBySerial(ctx, serial)
	if err != nil {
		return verify.Token{}, fmt.Errorf("token %s: %w", serial, err)
	}
	return t, nil
}

// SetTokenEnabled enables or disables a token.
func (m *Manager) SetTokenEnabled(ctx context.Context, serial string, enabled bool) error {
	t, err := m.token(ctx, serial)
	if err != nil {
		return err
	}
	return m.store.SetTokenEnabled(ctx, t.ID, enabled)
}

// DescribeToken sets the token's description.
func (m *Manager) DescribeToken(ctx context.Context, serial, text string) error {
	if len(text) > 200 || strings.ContainsFunc(text, func(r rune) bool { return r < ' ' }) {
		return invalidf("description must be at most 200 bytes without control characters")
	}
	t, err := m.token(ctx, serial)
	if err != nil {
		return err
	}
	return m.store.DescribeToken(ctx, t.ID, text)
}

// DeleteToken deletes a token.
func (m *Manager) DeleteToken(ctx context.Context, serial string) error {
	t, err := m.token(ctx, serial)
	if err != nil {
		return err
	}
	return m.store.DeleteToken(ctx, t.ID)
}

// TestToken checks a code against one token of the user, consuming it, and
// activates a pending token on success (see verify.Engine.TestToken).
func (m *Manager) TestToken(ctx context.Context, tr verify.TokenRequest, code verify.Secret) verify.Decision {
	return m.engine.TestToken(ctx, tr, code)
}

// Resync re-aligns an HOTP token with two consecutive codes.
func (m *Manager) Resync(ctx context.Context, serial string, first, second verify.Secret, proto verify.Protocol) (verify.Decision, error) {
	t, err := m.token(ctx, serial)
	if err != nil {
		return verify.Decision{}, err
	}
	if t.Type != verify.TypeHOTP {
		return verify.Decision{}, invalidf("only HOTP tokens can be resynchronised")
	}
	u, err := m.store.UserByID(ctx, t.UserID)
	if err != nil {
		return verify.Decision{}, err
	}
	return m.engine.Resync(ctx, verify.TokenRequest{User: u.Name, Serial: serial, Protocol: proto}, first, second), nil
}
