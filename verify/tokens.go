package verify

import (
	"context"
	"slices"
	"time"

	"github.com/otpgate/otpgate/verify/otp"
	"github.com/otpgate/otpgate/verify/yubiotp"
)

// match is a dry-run result: which token and counter/step a code fits.
type match struct {
	token   *Token
	counter uint64 // HOTP
	step    int64  // TOTP, mOTP; yubikey: use counter << 8 | session counter
	replay  bool   // only already-used steps matched
	remote  bool   // yubicloud: the validation servers decide in consume
	code    string // yubicloud: the OTP to pass on
}

// splitPIN cuts pw into the first PINLength bytes and the rest.
func (e *Engine) splitPIN(pw Secret) (pin, rest Secret) {
	s := pw.Reveal()
	n := min(e.policy.PINLength, len(s))
	return Secret(s[:n]), Secret(s[n:])
}

// usable returns the tokens a login may use: enabled and not pending. It
// also reports the reason to give when there are none.
func usable(all []Token) ([]Token, Reason) {
	var out []Token
	enrolled := false
	for _, t := range all {
		if t.Pending {
			continue
		}
		enrolled = true
		if t.Enabled {
			out = append(out, t)
		}
	}
	if len(out) == 0 && enrolled {
		return nil, ReasonDisabled
	}
	if len(out) == 0 {
		return nil, ReasonNoToken
	}
	return out, ""
}

// loadTokens returns the user's usable tokens, read with the user or else
// now; a store error is reported as an Unavailable decision.
func (e *Engine) loadTokens(ctx context.Context, u *User) ([]Token, *Decision) {
	var all []Token
	if u.tokens != nil {
		all = *u.tokens
	} else {
		var err error
		if all, err = e.store.Tokens(ctx, u.ID); err != nil {
			e.log.Error("verify: token lookup failed", "user", u.Name, "err", err)
			return nil, &Decision{Outcome: Unavailable, Reason: ReasonStoreError}
		}
	}
	toks, why := usable(all)
	if why != "" {
		return nil, &Decision{Outcome: Reject, Reason: why}
	}
	return toks, nil
}

// checkPINOTP: the first PINLength characters are the PIN, the rest the
// OTP. Both are always checked so time does not tell which was wrong.
func (e *Engine) checkPINOTP(ctx context.Context, u *User, pw Secret, now time.Time) Decision {
	toks, bad := e.loadTokens(ctx, u)
	if bad != nil {
		e.spendDummy(ModePINOTP, pw)
		return *bad
	}
	pin, code := e.splitPIN(pw)
	pinOK := e.creds.CheckPIN(u.PINHash, pin)
	m, found := e.matchTokens(toks, code, now)
	switch {
	case !pinOK:
		return Decision{Outcome: Reject, Reason: ReasonBadPIN}
	case !found:
		return Decision{Outcome: Reject, Reason: ReasonBadOTP}
	}
	return e.consume(ctx, u, m, now)
}

// checkPasswordOTP: the OTP is a suffix whose length fits one of the user's
// tokens; the rest is the account password. The suffix is matched first
// (no state change), then exactly one password check runs, then the OTP is
// consumed.
func (e *Engine) checkPasswordOTP(ctx context.Context, u *User, pw Secret, challengeable bool, now time.Time) Decision {
	toks, bad := e.loadTokens(ctx, u)
	if bad != nil {
		e.spendDummy(ModePassword, pw)
		return *bad
	}
	s := pw.Reveal()
	codeMatched := false
	for _, n := range otpLengths(toks) {
		if n >= len(s) {
			continue
		}
		m, found := e.matchTokens(toks, Secret(s[len(s)-n:]), now)
		if !found {
			continue
		}
		// A 6-digit code is the tail of the same key's 8-digit code, so a
		// fitting suffix may still be the wrong split: try the next one.
		codeMatched = true
		if e.creds.CheckPassword(u.PasswordHash, Secret(s[:len(s)-n])) {
			return e.consume(ctx, u, m, now)
		}
	}
	if codeMatched {
		return Decision{Outcome: Reject, Reason: ReasonBadPassword}
	}
	if challengeable {
		// The field may be the password alone: one real check, the same
		// cost as the dummy below.
		if e.creds.CheckPassword(u.PasswordHash, pw) {
			return Decision{Outcome: Challenge, Reason: ReasonChallenge}
		}
		return Decision{Outcome: Reject, Reason: ReasonBadPassword}
	}
	// No suffix is a valid code: the same single password-hash cost as a
	// real check, against the dummy, so time does not tell which part was
	// wrong.
	e.spendDummy(ModePassword, pw)
	return Decision{Outcome: Reject, Reason: ReasonBadOTP}
}

// challengePIN handles a pin+otp field that holds only the PIN: a right
// PIN with a usable token earns a Challenge, anything else the refusal a
// full attempt would get.
func (e *Engine) challengePIN(ctx context.Context, u *User, pin Secret) Decision {
	if _, bad := e.loadTokens(ctx, u); bad != nil {
		e.spendDummy(ModePINOTP, pin)
		return *bad
	}
	if !e.creds.CheckPIN(u.PINHash, pin) {
		return Decision{Outcome: Reject, Reason: ReasonBadPIN}
	}
	return Decision{Outcome: Challenge, Reason: ReasonChallenge}
}

// checkOTPOnly is the second step of a challenge: the field is the OTP.
func (e *Engine) checkOTPOnly(ctx context.Context, u *User, code Secret, now time.Time) Decision {
	toks, bad := e.loadTokens(ctx, u)
	if bad != nil {
		return *bad
	}
	m, found := e.matchTokens(toks, code, now)
	if !found {
		return Decision{Outcome: Reject, Reason: ReasonBadOTP}
	}
	return e.consume(ctx, u, m, now)
}

// otpLengths returns the distinct OTP lengths of toks, ascending.
func otpLengths(toks []Token) []int {
	var out []int
	for _, t := range toks {
		if n := otpLength(&t); n > 0 && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func otpLength(t *Token) int {
	switch t.Type {
	case TypeHOTP, TypeTOTP:
		return t.Digits
	case TypeMOTP:
		return 6
	case TypeYubiKey, TypeYubiCloud:
		return len(t.PublicID) + yubiotp.TokenLen
	}
	return 0
}

// fits reports whether code has the shape of t's codes.
func fits(t *Token, code string) bool {
	if t.Type == TypeYubiKey || t.Type == TypeYubiCloud {
		return fitsYubiKey(t, code)
	}
	if len(code) != otpLength(t) {
		return false
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		digit := c >= '0' && c <= '9'
		hex := digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
		if (t.Type == TypeMOTP && !hex) || (t.Type != TypeMOTP && !digit) {
			return false
		}
	}
	return true
}

// matchTokens tries code against every token whose format fits and returns
// the first fresh match; failing that, a replay match.
func (e *Engine) matchTokens(toks []Token, code Secret, now time.Time) (match, bool) {
	var replay *match
	for i := range toks {
		t := &toks[i]
		if !fits(t, code.Reveal()) {
			continue
		}
		m, ok := e.matchToken(t, code.Reveal(), now)
		if ok && !m.replay {
			return m, true
		}
		if ok && replay == nil {
			replay = &m
		}
	}
	if replay != nil {
		return *replay, true
	}
	return match{}, false
}

// matchToken checks one token without changing state.
func (e *Engine) matchToken(t *Token, code string, now time.Time) (match, bool) {
	switch t.Type {
	case TypeHOTP:
		g, err := otp.NewGenerator(t.Key, otp.Algorithm(t.Algorithm), t.Digits)
		if err != nil {
			e.log.Error("verify: bad token parameters", "token", t.Serial, "err", err)
			return match{}, false
		}
		c, ok := g.MatchCounter([]byte(code), t.NextCounter, e.tokens.HOTPWindow)
		return match{token: t, counter: c}, ok
	case TypeTOTP:
		g, err := otp.NewGenerator(t.Key, otp.Algorithm(t.Algorithm), t.Digits)
		if err != nil || t.Period <= 0 {
			e.log.Error("verify: bad token parameters", "token", t.Serial, "err", err)
			return match{}, false
		}
		center := otp.TOTPStep(now.Unix(), t.Period)
		codeAt := func(s int64) []byte { return g.Code(uint64(s)) }
		step, r := otp.MatchSteps(codeAt, []byte(code), center, e.tokens.TOTPSkew, t.LastStep)
		return stepMatch(t, step, r)
	case TypeMOTP:
		lower := []byte(code)
		for i, c := range lower {
			if c >= 'A' && c <= 'F' {
				lower[i] = c + ('a' - 'A')
			}
		}
		pin := t.DevicePIN.Reveal()
		codeAt := func(s int64) []byte { return []byte(otp.MOTP(s, t.Key, pin)) }
		skew := int(e.tokens.MOTPSkew / (10 * time.Second))
		step, r := otp.MatchSteps(codeAt, lower, now.Unix()/10, skew, t.LastStep)
		return stepMatch(t, step, r)
	case TypeYubiKey:
		return e.matchYubiKey(t, code)
	case TypeYubiCloud:
		// Checked remotely, and only in consume: after the PIN or
		// password, so a wrong first factor never reaches the servers.
		return match{token: t, remote: true, code: code}, true
	}
	return match{}, false
}

func stepMatch(t *Token, step int64, r otp.StepResult) (match, bool) {
	if r == otp.NoMatch {
		return match{}, false
	}
	return match{token: t, step: step, replay: r == otp.Replayed}, true
}

// consume advances the token's replay state with a conditional update; only
// the request whose update changed the row may accept.
func (e *Engine) consume(ctx context.Context, u *User, m match, now time.Time) Decision {
	serial := m.token.Serial
	if m.replay {
		return Decision{Outcome: Reject, Reason: ReasonReplay, TokenSerial: serial}
	}
	if m.remote {
		return e.consumeRemote(ctx, m, now)
	}
	won, err := e.advance(ctx, u, m, now)
	switch {
	case err != nil:
		// The update may have committed after a timeout: never accept on doubt.
		e.log.Error("verify: replay guard update failed", "token", serial, "err", err)
		return Decision{Outcome: Unavailable, Reason: ReasonStoreError, TokenSerial: serial}
	case !won:
		return Decision{Outcome: Reject, Reason: ReasonReplay, TokenSerial: serial}
	}
	return Decision{Outcome: Accept, Reason: ReasonOK, TokenSerial: serial}
}

// advance writes the replay state of the matched token. For a user read
// from a CachingStore the write also requires the user's version as read,
// and marks u confirmed when it succeeds. A nil u (a token read on its
// own, fresh) gets the plain write.
func (e *Engine) advance(ctx context.Context, u *User, m match, now time.Time) (won bool, err error) {
	if e.cache == nil || u == nil {
		if m.token.Type == TypeHOTP {
			return e.store.AdvanceCounter(ctx, m.token.ID, m.counter, now)
		}
		return e.store.AdvanceStep(ctx, m.token.ID, m.step, now)
	}
	start := time.Now()
	if m.token.Type == TypeHOTP {
		won, err = e.cache.AdvanceCounterAt(ctx, m.token.ID, u.Version, m.counter, now)
		e.observeStore("advance_counter", start, err)
	} else {
		won, err = e.cache.AdvanceStepAt(ctx, m.token.ID, u.Version, m.step, now)
		e.observeStore("advance_step", start, err)
	}
	u.confirmed = won
	return won, err
}
