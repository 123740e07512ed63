package adminapi

import (
	"net/http"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// yubiKeyRequest registers a YubiKey. A local key (type yubikey, checked
// by otpgate itself) gives PublicID, PrivateID and AESKey as programmed
// into the key; a remote one (type yubicloud, checked by the configured
// validation servers) gives Remote and one OTP, from which the public id
// is taken. The two sets of fields do not mix.
type yubiKeyRequest struct {
	Remote      bool          `json:"remote"`
	PublicID    string        `json:"public_id"`
	PrivateID   string        `json:"private_id"`
	AESKey      verify.Secret `json:"aes_key"`
	OTP         verify.Secret `json:"otp"`
	Description string        `json:"description"`
}

// check refuses a request that mixes the local and the remote fields, so
// a forgotten "remote" never silently drops a key and vice versa. Texts
// name fields, never values.
func (req yubiKeyRequest) check() error {
	if req.Remote {
		if req.PublicID != "" || req.PrivateID != "" || req.AESKey.Len() > 0 {
			return badRequest(`a remote YubiKey takes only "otp" and "description" (no public_id, private_id or aes_key)`)
		}
		return nil
	}
	if req.OTP.Len() > 0 {
		return badRequest(`field "otp" is only for a remote YubiKey ("remote": true)`)
	}
	return nil
}

// addYubiKey registers a pending YubiKey token (manage.AddYubiKey); a
// successful test with a fresh OTP activates it. 201 with the token as
// listed (public id, never the AES key or the private id); 409 when the
// public id is registered already, to anyone.
func (a *api) addYubiKey(r *http.Request) (reply, error) {
	var req yubiKeyRequest
	if err := decode(r, &req, false); err != nil {
		return reply{}, err
	}
	if err := req.check(); err != nil {
		return reply{}, err
	}
	name := r.PathValue("name")
	info, err := a.manager.AddYubiKey(r.Context(), name, manage.YubiKeyRequest{Remote: req.Remote,
		PublicID: req.PublicID, PrivateID: req.PrivateID, AESKey: req.AESKey, OTP: req.OTP, Description: req.Description})
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusCreated, location: userLocation(name) + "/tokens", body: info}, nil
}
