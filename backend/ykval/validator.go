package ykval

import (
	"context"
	"errors"
	"fmt"

	"github.com/otpgate/otpgate/verify"
)

// Validator adapts a Client to the engine's verify.RemoteValidator.
type Validator struct{ Client *Client }

var _ verify.RemoteValidator = Validator{}

// ValidateOTP asks the validation servers. OK, BAD_OTP and REPLAYED_OTP are
// verdicts; a configuration error wraps verify.ErrRemoteConfig; anything
// else is an error (the engine answers Unavailable).
func (v Validator) ValidateOTP(ctx context.Context, otp string) (verify.RemoteResult, error) {
	res, err := v.Client.Verify(ctx, otp)
	switch {
	case errors.Is(err, ErrConfig):
		return 0, fmt.Errorf("%w: %w", verify.ErrRemoteConfig, err)
	case err != nil:
		return 0, err
	case res.Status == StatusOK:
		return verify.RemoteOK, nil
	case res.Status == StatusReplayedOTP:
		return verify.RemoteReplayed, nil
	}
	return verify.RemoteBadOTP, nil
}
