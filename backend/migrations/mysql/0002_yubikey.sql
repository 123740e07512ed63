-- 0002: YubiKey tokens (see migrations/sqlite/0002_yubikey.sql).
--
-- tokens.public_id is the modhex public id of yubikey and yubicloud tokens
-- ('' for other types); a yubikey token's replay state lives in last_step
-- as (use counter << 8 | session counter). Plain MySQL 8 syntax: a re-run
-- after an interrupted run skips "duplicate column/key" (see
-- alreadyApplied).

ALTER TABLE tokens ADD COLUMN public_id VARBINARY(64) NOT NULL DEFAULT '';

CREATE INDEX tokens_public_id ON tokens (public_id);
