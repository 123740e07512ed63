-- 0002: YubiKey tokens.
--
-- tokens.public_id is the modhex public id of yubikey and yubicloud tokens
-- ('' for other types). It is not secret; the private id is sealed with the
-- AES key in sealed_secret. A yubikey token's replay state lives in
-- last_step as (use counter << 8 | session counter).

ALTER TABLE tokens ADD COLUMN public_id TEXT NOT NULL DEFAULT '';

CREATE INDEX tokens_public_id ON tokens (public_id) WHERE public_id <> '';
