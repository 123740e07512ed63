package manage

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/yubiotp"
)

// YubiKeyRequest describes a YubiKey to register. Local tokens (type
// yubikey) need PublicID, PrivateID and AESKey as programmed into the key;
// remote ones (yubicloud) take the public id from one OTP.
type YubiKeyRequest struct {
	Remote      bool
	PublicID    string        // modhex, local only
	PrivateID   string        // 12 hex digits, local only
	AESKey      verify.Secret // 32 hex digits, local only
	OTP         verify.Secret // remote only: one OTP of the key
	Description string
}

// AddYubiKey registers a YubiKey for the user as a pending token; a
// successful TestToken with a fresh OTP activates it. A public id already
// registered (to anyone) is refused with verify.ErrExists.
func (m *Manager) AddYubiKey(ctx context.Context, user string, req YubiKeyRequest) (TokenInfo, error) {
	t, err := newYubiKeyToken(req)
	if err != nil {
		return TokenInfo{}, err
	}
	if _, err := m.store.TokenByPublicID(ctx, t.PublicID); err == nil {
		return TokenInfo{}, fmt.Errorf("public id %s: %w", t.PublicID, verify.ErrExists)
	} else if !errors.Is(err, verify.ErrNotFound) {
		return TokenInfo{}, err
	}
	u, err := m.user(ctx, user)
	if err != nil {
		return TokenInfo{}, err
	}
	t.UserID = u.ID
	saved, err := m.createToken(ctx, t)
	if err != nil {
		return TokenInfo{}, err
	}
	info := tokenInfo(saved)
	info.User = u.Name
	return info, nil
}

func newYubiKeyToken(req YubiKeyRequest) (verify.Token, error) {
	if len(req.Description) > 200 {
		return verify.Token{}, invalidf("description must be at most 200 bytes")
	}
	t := verify.Token{Description: req.Description, Pending: true, Enabled: true, LastStep: verify.NoStep, Key: []byte{}}
	if req.Remote {
		otp := req.OTP.Reveal()
		if len(otp) <= yubiotp.TokenLen || len(otp) > yubiotp.TokenLen+yubiotp.MaxPublicIDLen {
			return t, invalidf("a YubiKey OTP has 32 to 64 modhex characters")
		}
		if _, err := yubiotp.ModhexDecode(otp); err != nil {
			return t, invalidf("a YubiKey OTP is lower-case modhex (cbdefghijklnrtuv)")
		}
		t.Type, t.PublicID = verify.TypeYubiCloud, otp[:len(otp)-yubiotp.TokenLen]
		return t, nil
	}
	if _, err := yubiotp.ModhexDecode(req.PublicID); err != nil || len(req.PublicID) < 2 || len(req.PublicID) > yubiotp.MaxPublicIDLen {
		return t, invalidf("public id must be 2 to %d lower-case modhex characters", yubiotp.MaxPublicIDLen)
	}
	priv, err := hex.DecodeString(req.PrivateID)
	if err != nil || len(priv) != yubiotp.PrivateIDSize {
		return t, invalidf("private id must be %d hex digits", 2*yubiotp.PrivateIDSize)
	}
	key, err := hex.DecodeString(req.AESKey.Reveal())
	if err != nil || len(key) != yubiotp.KeySize {
		return t, invalidf("AES key must be %d hex digits", 2*yubiotp.KeySize)
	}
	t.Type, t.PublicID, t.PrivateID, t.Key = verify.TypeYubiKey, req.PublicID, priv, key
	return t, nil
}
