-- 0005: a change counter per user for the login cache (SQLite only).
--
-- users.version goes up with every change of the user row or of any of
-- their tokens that can change a login's decision: name, password, PIN,
-- level, failure state, and a token added, deleted or changed in anything
-- but its replay state (next_counter, last_step, last_otp, last_used),
-- which the conditional writes guard themselves. The triggers run inside
-- the changing statement, so no reader sees a change without its new
-- version, whichever process made it. A login answered from the cache
-- consumes its OTP with an UPDATE that also requires the version it read.

ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER users_version AFTER UPDATE OF name, password_hash, pin_hash, level,
	fail_count, last_failure ON users
BEGIN
	UPDATE users SET version = version + 1 WHERE id = NEW.id;
END;

CREATE TRIGGER tokens_version_insert AFTER INSERT ON tokens
BEGIN
	UPDATE users SET version = version + 1 WHERE id = NEW.user_id;
END;

CREATE TRIGGER tokens_version_delete AFTER DELETE ON tokens
BEGIN
	UPDATE users SET version = version + 1 WHERE id = OLD.user_id;
END;

CREATE TRIGGER tokens_version_update AFTER UPDATE OF user_id, serial, type, pending,
	enabled, sealed_secret, digits, algorithm, period, public_id ON tokens
BEGIN
	UPDATE users SET version = version + 1 WHERE id IN (OLD.user_id, NEW.user_id);
END;
