-- 0004: the last OTP accepted for a yubicloud token, checked and set by a
-- conditional UPDATE before the OTP is sent to the validation servers, so
-- one OTP is passed on at most once whatever the servers say.

ALTER TABLE tokens ADD COLUMN last_otp TEXT NOT NULL DEFAULT '';
