-- 0003: directory attributes per user (displayName, mailAlternateAddress,
-- ...), published by the LDAP listener. Multi-valued: one row per value;
-- folded is the value lower-cased, for case-ignoring equality lookups.

CREATE TABLE user_attributes (
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name    TEXT    NOT NULL,
	value   TEXT    NOT NULL,
	folded  TEXT    NOT NULL,
	PRIMARY KEY (user_id, name, value)
) STRICT, WITHOUT ROWID;

-- UsersByAttribute (an LDAP equality filter on such an attribute).
CREATE INDEX user_attributes_value ON user_attributes (name, folded);
