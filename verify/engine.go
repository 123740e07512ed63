// Package verify is otpgate's decision engine: it maps a user's level and a
// service's class to a mode, splits the combined password, checks the
// password, PIN and one-time password, keeps replay and failure state
// through the Store, and writes one audit record per attempt. It knows no
// protocol and no SQL.
package verify

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"
)

// TokenOptions are the window sizes of the token checks.
type TokenOptions struct {
	HOTPWindow   int           // counters tried from next_counter on (default 10)
	ResyncWindow int           // counters searched by Resync (default 100)
	TOTPSkew     int           // steps accepted either side of now; 0 is exact (config default 1)
	MOTPSkew     time.Duration // time accepted either side of now; 0 is exact (config default 180s)
}

// BruteForceOptions configure the per-user back-off and the per-source
// throttle.
type BruteForceOptions struct {
	MaxFail       int           // failures before the back-off starts (default 10)
	Backoff       time.Duration // first back-off, doubled per further failure
	MaxBackoff    time.Duration // cap of the back-off
	SourceMaxFail int           // failures per source and window; 0 = off
	SourceWindow  time.Duration
	SourceExempt  []netip.Prefix // never throttled (e.g. the webmail server)
}

// Options configure an Engine. Store, Credentials and Policy are required.
type Options struct {
	Store        Store
	Credentials  Credentials
	Policy       Policy
	Tokens       TokenOptions
	BruteForce   BruteForceOptions
	StoreTimeout time.Duration   // deadline of each store call (default 2s)
	Remote       RemoteValidator // validation servers for yubicloud tokens; nil = none
	// Observe, when set, sees every audited decision (for metrics).
	Observe func(op string, proto Protocol, service string, dec Decision, latency time.Duration)
	// StoreObserver, when set, sees the duration and error of every store
	// call the engine makes (a missing user is not an error).
	StoreObserver func(op string, d time.Duration, err error)
	Audit         *slog.Logger     // one record per attempt; nil discards
	Log           *slog.Logger     // operational errors; nil discards
	Now           func() time.Time // nil = time.Now
	Rand          io.Reader        // nil = crypto/rand
}

// Engine decides authentication requests. It is safe for concurrent use.
type Engine struct {
	store    Store
	cache    cacheOps // the store, when it is a CachingStore; nil otherwise
	storeObs func(op string, d time.Duration, err error)
	creds    Credentials
	policy   Policy
	tokens   TokenOptions
	brute    BruteForceOptions
	audit    *slog.Logger
	log      *slog.Logger
	now      func() time.Time
	throttle *sourceThrottle
	dummy    dummyUser
	remote   RemoteValidator
	observe  func(op string, proto Protocol, service string, dec Decision, latency time.Duration)
}

// dummyUser is checked instead of a missing user so that unknown names cost
// about the same time as real ones.
type dummyUser struct {
	passwordHash string
	pinHash      []byte
	token        Token
}

// New validates opts, fills defaults and returns an Engine.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil || opts.Credentials == nil {
		return nil, errors.New("verify: store and credentials are required")
	}
	if err := opts.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	fillDefaults(&opts)
	e := &Engine{
		store: opts.Store, creds: opts.Credentials, policy: opts.Policy,
		tokens: opts.Tokens, brute: opts.BruteForce,
		audit: opts.Audit, log: opts.Log, now: opts.Now, remote: opts.Remote, observe: opts.Observe,
		throttle: newSourceThrottle(opts.BruteForce.SourceMaxFail, opts.BruteForce.SourceWindow, opts.BruteForce.SourceExempt),
	}
	if cs, ok := opts.Store.(CachingStore); ok {
		e.cache = deadlineCache{c: cs, timeout: opts.StoreTimeout}
	}
	e.store = deadlineStore{Store: e.store, timeout: opts.StoreTimeout}
	if opts.StoreObserver != nil {
		e.store = observedStore{Store: e.store, observe: opts.StoreObserver}
		e.storeObs = opts.StoreObserver
	}
	if err := e.makeDummy(opts.Rand); err != nil {
		return nil, err
	}
	return e, nil
}

func fillDefaults(o *Options) {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Tokens.HOTPWindow, 10)
	def(&o.Tokens.ResyncWindow, 100)
	if o.Tokens.TOTPSkew < 0 {
		o.Tokens.TOTPSkew = 0
	}
	if o.Tokens.MOTPSkew < 0 {
		o.Tokens.MOTPSkew = 0
	}
	def(&o.BruteForce.MaxFail, 10)
	defDur(&o.BruteForce.Backoff, 30*time.Second)
	defDur(&o.BruteForce.MaxBackoff, 15*time.Minute)
	defDur(&o.BruteForce.SourceWindow, time.Minute)
	defDur(&o.StoreTimeout, 2*time.Second)
	if o.Audit == nil {
		o.Audit = slog.New(slog.DiscardHandler)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
}

func (e *Engine) makeDummy(r io.Reader) error {
	var seed [20]byte
	if _, err := io.ReadFull(r, seed[:]); err != nil {
		return fmt.Errorf("verify: dummy secret: %w", err)
	}
	var err error
	if e.dummy.passwordHash, err = e.creds.HashPassword(Secret(fmt.Sprintf("%x", seed))); err != nil {
		return fmt.Errorf("verify: dummy password: %w", err)
	}
	if e.dummy.pinHash, err = e.creds.HashPIN(Secret(fmt.Sprintf("%x", seed[:4]))); err != nil {
		return fmt.Errorf("verify: dummy pin: %w", err)
	}
	e.dummy.token = Token{Serial: "", Type: TypeTOTP, Enabled: true, Key: seed[:], Digits: 6, Algorithm: "SHA1", Period: 30, LastStep: NoStep}
	return nil
}

// Verify decides one request. It never returns Accept unless the password
// or PIN and OTP were checked and, for an OTP, the replay state was advanced
// by this very request. Store errors give Unavailable.
func (e *Engine) Verify(ctx context.Context, req Request) (dec Decision) {
	start := e.now()
	defer func() { e.record("verify", req, dec, start) }()

	class, ok := e.policy.Services[req.Service]
	if !ok {
		return Decision{Outcome: Reject, Reason: ReasonUnknownService}
	}
	if e.throttle.blocked(req.Client, start) {
		return Decision{Outcome: Reject, Reason: ReasonThrottled}
	}
	u, cached, err := e.loadUser(ctx, req.User)
	switch {
	case errors.Is(err, ErrNotFound):
		e.spendDummy(e.policy.mode(LevelOff, class), req.Password)
		e.throttle.fail(req.Client, start)
		return Decision{Outcome: Reject, Reason: ReasonUnknownUser}
	case err != nil:
		e.log.Error("verify: user lookup failed", "user", req.User, "err", err)
		return Decision{Outcome: Unavailable, Reason: ReasonStoreError}
	}
	dec = e.decideUser(ctx, &u, class, req, start)
	if cached && !u.confirmed {
		dec = e.confirm(ctx, &u, class, req, start, dec)
	}
	e.settle(ctx, &u, req, dec, start)
	return dec
}

// loadUser reads the user with their tokens, from the store's cache when it
// has one (cached reports that).
func (e *Engine) loadUser(ctx context.Context, name string) (u User, cached bool, err error) {
	var toks []Token
	if e.cache != nil {
		u, toks, cached = e.cache.CachedUserWithTokens(name)
	}
	if !cached {
		u, toks, err = e.store.UserWithTokens(ctx, name)
	}
	u.tokens = &toks
	return u, cached, err
}

// confirm checks a decision made on a cached read that no versioned write
// confirmed: against a fresh read it stands if the user, their tokens and
// the tokens' replay state are unchanged, and is made again on the fresh
// read otherwise (then *u is the fresh user).
func (e *Engine) confirm(ctx context.Context, u *User, class string, req Request, now time.Time, dec Decision) Decision {
	fresh, toks, err := e.store.UserWithTokens(ctx, req.User)
	switch {
	case errors.Is(err, ErrNotFound):
		return Decision{Outcome: Reject, Reason: ReasonUnknownUser}
	case err != nil:
		e.log.Error("verify: user lookup failed", "user", req.User, "err", err)
		return Decision{Outcome: Unavailable, Reason: ReasonStoreError}
	}
	fresh.tokens = &toks
	if sameLogin(u, &fresh) {
		return dec
	}
	*u = fresh
	return e.decideUser(ctx, u, class, req, now)
}

// sameLogin reports whether a and b hold the same version of the user and
// the same tokens in the same replay state.
func sameLogin(a, b *User) bool {
	if a.ID != b.ID || a.Version != b.Version || (a.tokens == nil) != (b.tokens == nil) {
		return false
	}
	if a.tokens == nil {
		return true
	}
	at, bt := *a.tokens, *b.tokens
	if len(at) != len(bt) {
		return false
	}
	for i := range at {
		if at[i].ID != bt[i].ID || at[i].NextCounter != bt[i].NextCounter || at[i].LastStep != bt[i].LastStep {
			return false
		}
	}
	return true
}

// decideUser decides the request for the user read: back-off, then the
// check the policy's mode asks for.
func (e *Engine) decideUser(ctx context.Context, u *User, class string, req Request, now time.Time) Decision {
	if e.lockedOut(*u, now) {
		return Decision{Outcome: Reject, Reason: ReasonLocked}
	}
	mode := e.policy.mode(u.Level, class)
	if !e.policy.HasLevel(u.Level) {
		e.log.Warn("verify: user has a level the policy lacks", "user", u.Name, "level", u.Level)
	}
	dec := e.decide(ctx, u, mode, req, now)
	dec.Mode = mode
	return dec
}

// observeStore reports a store call made outside the observed Store.
func (e *Engine) observeStore(op string, start time.Time, err error) {
	if e.storeObs == nil {
		return
	}
	if isNotFound(err) {
		err = nil
	}
	e.storeObs(op, time.Since(start), err)
}

// decide runs the check that mode asks for.
func (e *Engine) decide(ctx context.Context, u *User, mode Mode, req Request, now time.Time) Decision {
	pw := req.Password
	if req.Stage == StageOTP {
		if mode != ModePINOTP && mode != ModePasswordOTP {
			e.spendDummy(ModePassword, pw)
			return Decision{Outcome: Reject, Reason: ReasonServiceDenied}
		}
		return e.checkOTPOnly(ctx, u, pw, now)
	}
	challengeable := req.Stage == StageChallengeable
	switch mode {
	case ModePassword:
		if e.creds.CheckPassword(u.PasswordHash, pw) {
			return Decision{Outcome: Accept, Reason: ReasonOK}
		}
		return Decision{Outcome: Reject, Reason: ReasonBadPassword}
	case ModePINOTP:
		if challengeable && pw.Len() == e.policy.PINLength {
			return e.challengePIN(ctx, u, pw)
		}
		return e.checkPINOTP(ctx, u, pw, now)
	case ModePasswordOTP:
		return e.checkPasswordOTP(ctx, u, pw, challengeable, now)
	}
	e.spendDummy(ModePassword, pw)
	return Decision{Outcome: Reject, Reason: ReasonServiceDenied}
}

// settle updates failure state after a decision: failures of a checked
// credential count, a success clears the count.
func (e *Engine) settle(ctx context.Context, u *User, req Request, dec Decision, now time.Time) {
	switch {
	case dec.Outcome == Accept:
		if u.FailCount > 0 {
			if err := e.store.ResetFailures(ctx, u.ID); err != nil {
				e.log.Error("verify: reset failures", "user", u.Name, "err", err)
			}
		}
	case dec.Outcome == Reject && countsAsFailure(dec.Reason):
		e.throttle.fail(req.Client, now)
		if err := e.store.RecordFailure(ctx, u.ID, now); err != nil {
			e.log.Error("verify: record failure", "user", u.Name, "err", err)
		}
	case dec.Outcome == Reject:
		e.throttle.fail(req.Client, now)
	}
}

// countsAsFailure: a guess at a credential was checked and was wrong.
func countsAsFailure(r Reason) bool {
	switch r {
	case ReasonBadPassword, ReasonBadPIN, ReasonBadOTP, ReasonReplay:
		return true
	}
	return false
}

// lockedOut reports whether u is inside a back-off: after MaxFail failures
// the user is refused for Backoff, doubling per further failure up to
// MaxBackoff, counted from the last failure.
func (e *Engine) lockedOut(u User, now time.Time) bool {
	if u.FailCount < e.brute.MaxFail {
		return false
	}
	return now.Before(u.LastFailure.Add(e.backoff(u.FailCount)))
}

func (e *Engine) backoff(fails int) time.Duration {
	n := fails - e.brute.MaxFail
	d := e.brute.Backoff
	for i := 0; i < n && d < e.brute.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, e.brute.MaxBackoff)
}

// LockedUntil reports when u's back-off ends (zero when not backing off).
func (e *Engine) LockedUntil(u User) time.Time {
	if u.FailCount < e.brute.MaxFail {
		return time.Time{}
	}
	return u.LastFailure.Add(e.backoff(u.FailCount))
}

// spendDummy does the work a real user's check in mode would do, against
// dummy secrets, and throws the result away.
func (e *Engine) spendDummy(mode Mode, pw Secret) {
	switch mode {
	case ModePINOTP:
		pin, otpPart := e.splitPIN(pw)
		e.creds.CheckPIN(e.dummy.pinHash, pin)
		e.matchTokens([]Token{e.dummy.token}, otpPart, e.now())
	default:
		e.creds.CheckPassword(e.dummy.passwordHash, pw)
	}
}

func (e *Engine) record(op string, req Request, dec Decision, start time.Time) {
	latency := e.now().Sub(start)
	if e.observe != nil {
		e.observe(op, req.Protocol, req.Service, dec, latency)
	}
	attrs := []slog.Attr{
		slog.String("op", op),
		slog.String("proto", string(req.Protocol)),
		slog.String("service", req.Service),
		slog.String("user", req.User),
		slog.String("decision", dec.Outcome.String()),
		slog.String("reason", string(dec.Reason)),
		slog.Float64("latency_ms", float64(latency.Microseconds())/1000),
	}
	if req.Client.IsValid() {
		attrs = append(attrs, slog.String("client", req.Client.String()))
	}
	if dec.Mode != "" {
		attrs = append(attrs, slog.String("mode", string(dec.Mode)))
	}
	if dec.TokenSerial != "" {
		attrs = append(attrs, slog.String("token", dec.TokenSerial))
	}
	e.audit.LogAttrs(context.Background(), slog.LevelInfo, "auth", attrs...)
}

// Policy returns the policy the engine decides by.
func (e *Engine) Policy() Policy { return e.policy }
