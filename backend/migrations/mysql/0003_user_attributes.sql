-- 0003: directory attributes per user (see migrations/sqlite/0003_user_attributes.sql).
-- VARBINARY keeps matching byte-exact as in SQLite.

CREATE TABLE IF NOT EXISTS user_attributes (
	user_id BIGINT          NOT NULL,
	name    VARBINARY(64)   NOT NULL,
	value   VARBINARY(1024) NOT NULL,
	folded  VARBINARY(1024) NOT NULL,
	PRIMARY KEY (user_id, name, value),
	KEY user_attributes_value (name, folded),
	CONSTRAINT user_attributes_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
