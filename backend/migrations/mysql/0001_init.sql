-- 0001: users and tokens (MySQL 8 / MariaDB 10.5 and later, InnoDB).
--
-- Same meaning as migrations/sqlite/0001_init.sql (see package backend):
-- times are unix seconds, 0 = never; tokens.sealed_secret is the Key and
-- DevicePIN sealed with the token id as associated data. Differences:
--   * tokens.next_counter is BIGINT UNSIGNED and holds the HOTP counter
--     as is (SQLite stores it XOR 1<<63 in a signed INTEGER).
--   * users.name and tokens.serial are VARBINARY, so lookups, uniqueness
--     and ORDER BY are byte-wise exactly as in SQLite: no case folding and
--     no PAD SPACE ('alice ' and 'alice' are different names).
--
-- MySQL commits DDL implicitly, so a migration cannot be rolled back: every
-- statement here must be safe to run again (IF NOT EXISTS). Migrate splits
-- this file into statements at lines ending in ';'; no literal may contain
-- a semicolon.

CREATE TABLE IF NOT EXISTS users (
	id            BIGINT          NOT NULL AUTO_INCREMENT,
	name          VARBINARY(255)  NOT NULL,
	password_hash TEXT            NOT NULL,
	pin_hash      BLOB            NULL,
	level         VARCHAR(64)     NOT NULL DEFAULT 'off',
	fail_count    INT             NOT NULL DEFAULT 0,
	last_failure  BIGINT          NOT NULL DEFAULT 0,
	created_at    BIGINT          NOT NULL DEFAULT 0,
	updated_at    BIGINT          NOT NULL DEFAULT 0,
	PRIMARY KEY (id),
	UNIQUE KEY users_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- tokens_user_id serves Tokens(userID); InnoDB appends the primary key to
-- every secondary index, so ORDER BY id needs no sort.
CREATE TABLE IF NOT EXISTS tokens (
	id            BIGINT          NOT NULL AUTO_INCREMENT,
	user_id       BIGINT          NOT NULL,
	serial        VARBINARY(255)  NOT NULL,
	type          VARCHAR(32)     NOT NULL,
	description   TEXT            NOT NULL,
	pending       TINYINT         NOT NULL,
	enabled       TINYINT         NOT NULL,
	sealed_secret BLOB            NOT NULL,
	digits        INT             NOT NULL DEFAULT 0,
	algorithm     VARCHAR(16)     NOT NULL DEFAULT '',
	period        INT             NOT NULL DEFAULT 0,
	next_counter  BIGINT UNSIGNED NOT NULL DEFAULT 0,
	last_step     BIGINT          NOT NULL DEFAULT -1,
	last_used     BIGINT          NOT NULL DEFAULT 0,
	created_at    BIGINT          NOT NULL DEFAULT 0,
	PRIMARY KEY (id),
	UNIQUE KEY tokens_serial (serial),
	KEY tokens_user_id (user_id),
	CONSTRAINT tokens_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
	CONSTRAINT tokens_pending_bool CHECK (pending IN (0, 1)),
	CONSTRAINT tokens_enabled_bool CHECK (enabled IN (0, 1))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
