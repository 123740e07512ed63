package manage

import (
	"context"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// attrNameRE is an LDAP attribute descriptor (RFC 4512 §1.4 keystring).
var attrNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,63}$`)

// reservedAttrs are computed by the LDAP listener and cannot be stored.
var reservedAttrs = map[string]bool{"uid": true, "cn": true, "mail": true, "objectclass": true, "userpassword": true}

// Limits of stored attribute values.
const (
	maxAttrValues   = 64
	maxAttrValueLen = 1024
)

// SetAttribute replaces the values of a directory attribute of the user
// (published over LDAP when listed in ldap.attributes); no values removes
// it. Names are LDAP descriptors, stored lower-case; uid, cn, mail,
// objectClass and userPassword are reserved.
func (m *Manager) SetAttribute(ctx context.Context, user, name string, values []string) error {
	if !attrNameRE.MatchString(name) {
		return invalidf("attribute name must be a letter followed by up to 63 letters, digits or '-'")
	}
	name = strings.ToLower(name)
	if reservedAttrs[name] {
		return invalidf("attribute %s is computed by otpgate and cannot be set", name)
	}
	if len(values) > maxAttrValues {
		return invalidf("at most %d values", maxAttrValues)
	}
	for _, v := range values {
		if v == "" || len(v) > maxAttrValueLen || !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return invalidf("values must be 1 to %d bytes of UTF-8 without control characters", maxAttrValueLen)
		}
	}
	u, err := m.user(ctx, user)
	if err != nil {
		return err
	}
	return m.store.SetUserAttribute(ctx, u.ID, name, values)
}
