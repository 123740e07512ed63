-- 0004: the last OTP accepted for a yubicloud token (see
-- migrations/sqlite/0004_last_otp.sql).

ALTER TABLE tokens ADD COLUMN last_otp VARBINARY(64) NOT NULL DEFAULT '';
