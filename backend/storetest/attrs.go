package storetest

import (
	"errors"
	"reflect"
	"testing"

	"github.com/otpgate/otpgate/verify"
)

var attributeCases = []testCase{
	{"stores, replaces and removes directory attributes", testAttributes},
	{"finds users by an attribute value", testUsersByAttribute},
	{"refuses attributes of a missing user", testAttributesMissingUser},
	{"deletes a user's attributes with the user", testAttributesCascade},
}

func mustSetAttr(t *testing.T, s Store, id int64, name string, values ...string) {
	t.Helper()
	if err := s.SetUserAttribute(t.Context(), id, name, values); err != nil {
		t.Fatalf("SetUserAttribute(%q): %v", name, err)
	}
}

func wantAttrs(t *testing.T, s Store, id int64, want map[string][]string) {
	t.Helper()
	got, err := s.UserAttributes(t.Context(), id)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("UserAttributes = %v, %v; want %v", got, err, want)
	}
}

func testAttributes(t *testing.T, s Store) {
	u := mustUser(t, s, "alice")
	wantAttrs(t, s, u.ID, map[string][]string{})
	mustSetAttr(t, s, u.ID, "displayname", "Alice Liddell")
	mustSetAttr(t, s, u.ID, "mailalternateaddress", "b@example.org", "a@example.org", "a@example.org")
	wantAttrs(t, s, u.ID, map[string][]string{
		"displayname":          {"Alice Liddell"},
		"mailalternateaddress": {"a@example.org", "b@example.org"},
	})
	mustSetAttr(t, s, u.ID, "mailalternateaddress", "c@example.org")
	mustSetAttr(t, s, u.ID, "displayname")
	wantAttrs(t, s, u.ID, map[string][]string{"mailalternateaddress": {"c@example.org"}})
}

func testUsersByAttribute(t *testing.T, s Store) {
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	mustSetAttr(t, s, alice.ID, "mailalternateaddress", "shared@example.org", "alice@example.net")
	mustSetAttr(t, s, bob.ID, "mailalternateaddress", "shared@example.org")
	users, err := s.UsersByAttribute(t.Context(), "mailalternateaddress", "shared@example.org")
	if err != nil || len(users) != 2 || users[0].Name != "alice" || users[1].Name != "bob" {
		t.Fatalf("UsersByAttribute(shared) = %v, %v; want alice, bob", users, err)
	}
	users, err = s.UsersByAttribute(t.Context(), "mailalternateaddress", "ALICE@Example.NET")
	if err != nil || len(users) != 1 || users[0].Name != "alice" {
		t.Fatalf("UsersByAttribute does not ignore case: %v, %v", users, err)
	}
	wantAttrs(t, s, alice.ID, map[string][]string{"mailalternateaddress": {"alice@example.net", "shared@example.org"}})
}

func testAttributesMissingUser(t *testing.T, s Store) {
	err := s.SetUserAttribute(t.Context(), 4242, "displayname", []string{"x"})
	if !errors.Is(err, verify.ErrNotFound) {
		t.Fatalf("SetUserAttribute on a missing user = %v, want ErrNotFound", err)
	}
}

func testAttributesCascade(t *testing.T, s Store) {
	u := mustUser(t, s, "alice")
	mustSetAttr(t, s, u.ID, "displayname", "Alice")
	if err := s.DeleteUser(t.Context(), u.ID); err != nil {
		t.Fatal(err)
	}
	if users, err := s.UsersByAttribute(t.Context(), "displayname", "Alice"); err != nil || len(users) != 0 {
		t.Fatalf("attributes outlived their user: %v, %v", users, err)
	}
	wantAttrs(t, s, u.ID, map[string][]string{})
}
