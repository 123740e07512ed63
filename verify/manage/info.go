package manage

import (
	"context"
	"time"

	"github.com/otpgate/otpgate/verify"
)

// UserInfo is a user as operators see it: no hashes.
type UserInfo struct {
	Name        string      `json:"name"`
	Level       string      `json:"level"`
	PINSet      bool        `json:"pin_set"`
	FailCount   int         `json:"fail_count"`
	LockedUntil *time.Time  `json:"locked_until,omitempty"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
	Tokens      []TokenInfo `json:"tokens,omitempty"`
	// Attributes are the directory attributes (name → values).
	Attributes map[string][]string `json:"attributes,omitempty"`
}

// TokenInfo is a token as operators see it: never its secret.
type TokenInfo struct {
	Serial      string     `json:"serial"`
	User        string     `json:"user,omitempty"`
	Type        string     `json:"type"`
	State       string     `json:"state"` // pending | active | disabled
	Description string     `json:"description"`
	PublicID    string     `json:"public_id,omitempty"` // YubiKey tokens
	Digits      int        `json:"digits,omitempty"`
	Algorithm   string     `json:"algorithm,omitempty"`
	Period      int        `json:"period,omitempty"`
	LastUsed    *time.Time `json:"last_used,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

func (m *Manager) userInfo(u verify.User) UserInfo {
	info := UserInfo{Name: u.Name, Level: u.Level, PINSet: u.PINHash != nil, FailCount: u.FailCount,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
	if until := m.engine.LockedUntil(u); until.After(m.now()) {
		until = until.UTC()
		info.LockedUntil = &until
	}
	return info
}

func tokenInfo(t verify.Token) TokenInfo {
	state := "active"
	switch {
	case t.Pending:
		state = "pending"
	case !t.Enabled:
		state = "disabled"
	}
	info := TokenInfo{Serial: t.Serial, Type: string(t.Type), State: state, Description: t.Description, PublicID: t.PublicID,
		Digits: t.Digits, CreatedAt: t.CreatedAt.UTC()}
	if t.Type == verify.TypeHOTP || t.Type == verify.TypeTOTP {
		info.Algorithm = t.Algorithm
	}
	if t.Type == verify.TypeTOTP {
		info.Period = t.Period
	}
	if !t.LastUsed.IsZero() {
		lu := t.LastUsed.UTC()
		info.LastUsed = &lu
	}
	return info
}

// ShowUser returns the user with their tokens.
func (m *Manager) ShowUser(ctx context.Context, name string) (UserInfo, error) {
	u, err := m.user(ctx, name)
	if err != nil {
		return UserInfo{}, err
	}
	info := m.userInfo(u)
	if info.Tokens, err = m.tokenInfos(ctx, u); err != nil {
		return UserInfo{}, err
	}
	if info.Attributes, err = m.store.UserAttributes(ctx, u.ID); err != nil {
		return UserInfo{}, err
	}
	return info, nil
}

// ListUsers returns all users ordered by name, without tokens.
func (m *Manager) ListUsers(ctx context.Context) ([]UserInfo, error) {
	users, err := m.store.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]UserInfo, 0, len(users))
	for _, u := range users {
		out = append(out, m.userInfo(u))
	}
	return out, nil
}

// ListTokens returns the user's tokens ordered by enrollment.
func (m *Manager) ListTokens(ctx context.Context, name string) ([]TokenInfo, error) {
	u, err := m.user(ctx, name)
	if err != nil {
		return nil, err
	}
	return m.tokenInfos(ctx, u)
}

func (m *Manager) tokenInfos(ctx context.Context, u verify.User) ([]TokenInfo, error) {
	toks, err := m.store.Tokens(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	out := make([]TokenInfo, 0, len(toks))
	for _, t := range toks {
		ti := tokenInfo(t)
		ti.User = u.Name
		out = append(out, ti)
	}
	return out, nil
}
