package verify

import (
	"errors"
	"net/netip"
	"time"
)

// Protocol names the front-end a request arrived on; it only labels audit
// records and metrics.
type Protocol string

// Protocols known today.
const (
	ProtoRADIUS Protocol = "radius"
	ProtoLDAP   Protocol = "ldap"
	ProtoHTTP   Protocol = "http"
	ProtoCLI    Protocol = "cli"
)

// Request is one authentication attempt as a listener saw it.
type Request struct {
	User     string     // login name as typed
	Password Secret     // the one password field: password, PIN+OTP or password+OTP
	Service  string     // policy service name (webmail, imap, vpn, ...)
	Protocol Protocol   // label only
	Client   netip.Addr // peer address; zero for the CLI
	// Stage says what Password holds in a two-step (challenge) login.
	Stage Stage
}

// Stage is the part of a two-step login a request carries. Listeners that
// cannot challenge (LDAP, the CLI) always send StageFull.
type Stage int

// Stages.
const (
	// StageFull: the password field holds everything the mode needs.
	StageFull Stage = iota
	// StageChallengeable: like StageFull, but if the field holds only the
	// first factor of a pin+otp or password+otp mode (the PIN alone, the
	// password alone) and it is right, the engine answers Challenge
	// instead of refusing.
	StageChallengeable
	// StageOTP: the field holds only the OTP; the listener vouches that the
	// first factor was verified by an earlier Challenge for this user,
	// client and service.
	StageOTP
)

// Outcome is what a listener must answer.
type Outcome int

// Outcomes. The zero value is Reject so that a forgotten assignment refuses.
const (
	Reject Outcome = iota
	Accept
	// Unavailable means the engine could not decide (store error): RADIUS
	// sends no reply so the NAS fails over, LDAP answers 52.
	Unavailable
	// Challenge is reserved for RADIUS Access-Challenge.
	Challenge
)

func (o Outcome) String() string {
	switch o {
	case Accept:
		return "accept"
	case Reject:
		return "reject"
	case Unavailable:
		return "unavailable"
	case Challenge:
		return "challenge"
	}
	return "invalid"
}

// Reason is the internal cause of a decision. It goes to the audit log and
// metrics, never to the client.
type Reason string

// Reasons.
const (
	ReasonOK             Reason = "ok"
	ReasonBadPassword    Reason = "bad-password"
	ReasonBadPIN         Reason = "bad-pin"
	ReasonBadOTP         Reason = "bad-otp"
	ReasonReplay         Reason = "replay"
	ReasonNoToken        Reason = "no-token"
	ReasonLocked         Reason = "locked"
	ReasonThrottled      Reason = "throttled"
	ReasonDisabled       Reason = "disabled"
	ReasonServiceDenied  Reason = "service-denied"
	ReasonUnknownUser    Reason = "unknown-user"
	ReasonUnknownService Reason = "unknown-service"
	ReasonStoreError     Reason = "store-error"
	ReasonBadRequest     Reason = "bad-request"
	// ReasonChallenge: the first factor was right; ask for the OTP.
	ReasonChallenge Reason = "challenge"
)

// Decision is the engine's answer to a Request.
type Decision struct {
	Outcome     Outcome
	Reason      Reason
	Mode        Mode   // the policy mode that applied ("" when none did)
	TokenSerial string // the token that matched or was consumed, if any
}

// Mode is how a service authenticates a user at a given level.
type Mode string

// Modes of the policy table.
const (
	ModePassword    Mode = "password"
	ModePINOTP      Mode = "pin+otp"
	ModePasswordOTP Mode = "password+otp"
	ModeReject      Mode = "reject"
)

// Valid reports whether m is one of the four modes.
func (m Mode) Valid() bool {
	switch m {
	case ModePassword, ModePINOTP, ModePasswordOTP, ModeReject:
		return true
	}
	return false
}

// The built-in security levels (mailbox.org's three).
const (
	LevelOff        = "off"
	LevelWebOTP     = "web-otp"
	LevelWebOTPOnly = "web-otp-only"
)

// TokenType names a token algorithm.
type TokenType string

// Token types.
const (
	TypeHOTP      TokenType = "hotp"
	TypeTOTP      TokenType = "totp"
	TypeMOTP      TokenType = "motp"
	TypeYubiKey   TokenType = "yubikey"
	TypeYubiCloud TokenType = "yubicloud"
)

// NoStep is the LastStep of a time-based token that has never been used.
const NoStep int64 = -1

// User is a stored account as the engine needs it.
type User struct {
	ID           int64
	Name         string
	PasswordHash string // scheme-prefixed ($argon2id$, $2b$, $6$, {SSHA}, ...)
	PINHash      []byte // keyed hash with salt; nil when no PIN is set
	Level        string
	FailCount    int       // consecutive failures since the last success
	LastFailure  time.Time // time of the latest counted failure
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Version is the store's change counter of the user and their tokens
	// as read (see CachingStore); 0 from a store that keeps none.
	Version int64

	// tokens are the user's tokens when the engine read them together
	// with the user (Store.UserWithTokens); nil means not read.
	tokens *[]Token
	// confirmed: a versioned write (CachingStore) consumed an OTP at
	// Version, so what was read was current.
	confirmed bool
}

// Token is a stored token with its secret already unsealed by the store.
type Token struct {
	ID          int64
	UserID      int64
	Serial      string
	Type        TokenType
	Description string
	Pending     bool // enrolled but not yet tested; never used for logins
	Enabled     bool
	Key         []byte // HOTP/TOTP key bytes; mOTP init secret as typed
	DevicePIN   Secret // mOTP only: the PIN typed into the app
	PublicID    string // yubikey, yubicloud: the modhex public id (not secret)
	PrivateID   []byte // yubikey only: the 6-byte private id (sealed with Key)
	Digits      int    // 6 or 8 (mOTP: 6)
	Algorithm   string // SHA1, SHA256, SHA512 (HOTP/TOTP)
	Period      int    // seconds (TOTP 30 or 60, mOTP 10)
	NextCounter uint64 // HOTP: first counter not yet used
	// LastStep is the replay state of TOTP/mOTP (last accepted time step)
	// and of yubikey tokens (last accepted use counter << 8 | session
	// counter); NoStep if none.
	LastStep  int64
	LastUsed  time.Time
	CreatedAt time.Time
}

// Sentinel errors callers branch on.
var (
	// ErrNotFound: the store has no such user or token.
	ErrNotFound = errors.New("not found")
	// ErrExists: a user or token with that name or serial already exists.
	ErrExists = errors.New("already exists")
)

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
