package ldapsrv

import "testing"

func TestSetServiceAccountsSwapsPasswords(t *testing.T) {
	t.Parallel()
	f, s := searchFixture(t, nil)
	c := s.dial(t)
	if got := bindCode(t, c, webmailDN, webmailPW); got != 0 {
		t.Fatalf("bind before the swap = %d", got)
	}
	if err := s.srv.SetServiceAccounts([]ServiceAccount{{DN: webmailDN, PasswordHash: f.hash("rotated secret")}}); err != nil {
		t.Fatal(err)
	}
	if got := bindCode(t, c, webmailDN, webmailPW); got != 49 {
		t.Fatalf("bind with the old password after the swap = %d, want 49", got)
	}
	if got := bindCode(t, c, webmailDN, "rotated secret"); got != 0 {
		t.Fatalf("bind with the new password = %d", got)
	}
	if err := s.srv.SetServiceAccounts([]ServiceAccount{{DN: "not a dn", PasswordHash: "x"}}); err == nil {
		t.Fatal("SetServiceAccounts accepted an invalid DN")
	}
	if got := bindCode(t, c, webmailDN, "rotated secret"); got != 0 {
		t.Fatalf("a refused swap changed the accounts: bind = %d", got)
	}
}
