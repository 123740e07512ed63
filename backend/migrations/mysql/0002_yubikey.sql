-- 0002: YubiKey tokens (see migrations/sqlite/0002_yubikey.sql).
--
-- tokens.public_id is the modhex public id of yubikey and yubicloud tokens
-- ('' for other types); a yubikey token's replay state lives in last_step
-- as (use counter << 8 | session counter). IF NOT EXISTS keeps the step
-- safe to run again (MariaDB syntax).

ALTER TABLE tokens ADD COLUMN IF NOT EXISTS public_id VARBINARY(64) NOT NULL DEFAULT '';

CREATE INDEX IF NOT EXISTS tokens_public_id ON tokens (public_id);
