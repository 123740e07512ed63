-- 0001: users and tokens.
--
-- Conventions (see package backend): times are unix seconds, 0 = never.
-- tokens.next_counter holds the HOTP counter (a uint64) as the int64 with the
-- same bits after flipping the top bit (stored = counter XOR 1<<63), so that
-- SQL comparisons on it order like the uint64 values; counter 0 is stored as
-- -9223372036854775808. tokens.sealed_secret is the Key and DevicePIN sealed
-- with the token id as associated data.

CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	name          TEXT    NOT NULL UNIQUE,
	password_hash TEXT    NOT NULL,
	pin_hash      BLOB,
	level         TEXT    NOT NULL DEFAULT 'off',
	fail_count    INTEGER NOT NULL DEFAULT 0,
	last_failure  INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL DEFAULT 0,
	updated_at    INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE tokens (
	id            INTEGER PRIMARY KEY,
	user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	serial        TEXT    NOT NULL UNIQUE,
	type          TEXT    NOT NULL,
	description   TEXT    NOT NULL DEFAULT '',
	pending       INTEGER NOT NULL CHECK (pending IN (0, 1)),
	enabled       INTEGER NOT NULL CHECK (enabled IN (0, 1)),
	sealed_secret BLOB    NOT NULL,
	digits        INTEGER NOT NULL DEFAULT 0,
	algorithm     TEXT    NOT NULL DEFAULT '',
	period        INTEGER NOT NULL DEFAULT 0,
	next_counter  INTEGER NOT NULL DEFAULT -9223372036854775808,
	last_step     INTEGER NOT NULL DEFAULT -1,
	last_used     INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Tokens(userID) reads by user; the rowid in the index keeps ORDER BY id free.
CREATE INDEX tokens_user_id ON tokens (user_id);
