package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/otpgate/otpgate/verify"
)

var userCases = []testCase{
	{"creates a user and reads it back by name and by id", testCreateUser},
	{"stores an empty level as off", testEmptyLevel},
	{"lists users ordered by name", testListUsers},
	{"lists users a page at a time", testUsersAfter},
	{"refuses a duplicate user name", testDuplicateName},
	{"renames a user", testRename},
	{"refuses to rename a user to a taken name", testRenameCollision},
	{"updates password, PIN and level", testUpdateUser},
	{"returns ErrNotFound for an unknown user", testUnknownUser},
	{"returns ErrNotFound when changing a missing user", testMissingUserUpdates},
	{"deletes a user together with their tokens", testDeleteCascades},
}

func testCreateUser(t *testing.T, s Store) {
	ctx := t.Context()
	want := verify.User{
		Name:         "alice",
		PasswordHash: "$2b$10$abcdefghijklmnopqrstuv",
		PINHash:      []byte{0, 1, 2, 0xfe, 0xff},
		Level:        verify.LevelWebOTPOnly,
		FailCount:    2,
		LastFailure:  t1,
	}
	got, err := s.CreateUser(ctx, want)
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if got.ID == 0 || got.CreatedAt.IsZero() || !got.UpdatedAt.Equal(got.CreatedAt) {
		t.Fatalf("CreateUser returned ID %d, CreatedAt %v, UpdatedAt %v; want an ID and equal non-zero times",
			got.ID, got.CreatedAt, got.UpdatedAt)
	}
	want.ID, want.CreatedAt, want.UpdatedAt = got.ID, got.CreatedAt, got.UpdatedAt
	checkUser(t, got, want)
	byName, err := s.UserByName(ctx, "alice")
	if err != nil {
		t.Fatalf("UserByName: %v", err)
	}
	checkUser(t, byName, want)
	checkUser(t, mustUserByID(t, s, got.ID), want)

	noPIN := mustUser(t, s, "bob")
	if got := mustUserByID(t, s, noPIN.ID); got.PINHash != nil {
		t.Errorf("user created without PIN reads back PINHash %x, want nil", got.PINHash)
	}
}

func testEmptyLevel(t *testing.T, s Store) {
	u, err := s.CreateUser(t.Context(), verify.User{Name: "alice", PasswordHash: "x"})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if u.Level != verify.LevelOff {
		t.Errorf("CreateUser returned Level %q, want %q", u.Level, verify.LevelOff)
	}
	if got := mustUserByID(t, s, u.ID); got.Level != verify.LevelOff {
		t.Errorf("stored Level %q, want %q", got.Level, verify.LevelOff)
	}
}

func testListUsers(t *testing.T, s Store) {
	for _, name := range []string{"carol", "alice", "bob"} {
		mustUser(t, s, name)
	}
	users, err := s.ListUsers(t.Context())
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Name)
	}
	if want := []string{"alice", "bob", "carol"}; !slices.Equal(names, want) {
		t.Errorf("ListUsers names = %q, want %q", names, want)
	}
}

func testDuplicateName(t *testing.T, s Store) {
	mustUser(t, s, "alice")
	_, err := s.CreateUser(t.Context(), verify.User{Name: "alice", PasswordHash: "x"})
	wantErrIs(t, "second CreateUser(alice)", err, verify.ErrExists)
}

func testRename(t *testing.T, s Store) {
	u := mustUser(t, s, "alice")
	if err := s.RenameUser(t.Context(), u.ID, "alicia"); err != nil {
		t.Fatalf("RenameUser: %v", err)
	}
	got, err := s.UserByName(t.Context(), "alicia")
	if err != nil || got.ID != u.ID {
		t.Fatalf("UserByName(alicia) = id %d, %v; want id %d", got.ID, err, u.ID)
	}
	_, err = s.UserByName(t.Context(), "alice")
	wantErrIs(t, "UserByName(old name)", err, verify.ErrNotFound)
}

func testRenameCollision(t *testing.T, s Store) {
	alice := mustUser(t, s, "alice")
	mustUser(t, s, "bob")
	err := s.RenameUser(t.Context(), alice.ID, "bob")
	wantErrIs(t, "RenameUser(alice → bob)", err, verify.ErrExists)
	if got := mustUserByID(t, s, alice.ID); got.Name != "alice" {
		t.Errorf("after a refused rename the name is %q, want alice", got.Name)
	}
}

func testUpdateUser(t *testing.T, s Store) {
	ctx := t.Context()
	u := mustUser(t, s, "alice")
	if err := s.UpdatePassword(ctx, u.ID, "$6$salt$hash"); err != nil {
		t.Fatalf("UpdatePassword: %v", err)
	}
	if err := s.UpdatePIN(ctx, u.ID, []byte("salted-pin-hash")); err != nil {
		t.Fatalf("UpdatePIN: %v", err)
	}
	if err := s.UpdateLevel(ctx, u.ID, verify.LevelOff); err != nil {
		t.Fatalf("UpdateLevel: %v", err)
	}
	got := mustUserByID(t, s, u.ID)
	if got.PasswordHash != "$6$salt$hash" || string(got.PINHash) != "salted-pin-hash" || got.Level != verify.LevelOff {
		t.Errorf("after updates: hash %q, PIN hash %q, level %q", got.PasswordHash, got.PINHash, got.Level)
	}
	if got.UpdatedAt.Before(u.UpdatedAt) {
		t.Errorf("UpdatedAt went back from %v to %v", u.UpdatedAt, got.UpdatedAt)
	}
	if err := s.UpdatePIN(ctx, u.ID, nil); err != nil {
		t.Fatalf("UpdatePIN(nil): %v", err)
	}
	if got := mustUserByID(t, s, u.ID); got.PINHash != nil {
		t.Errorf("after UpdatePIN(nil) PINHash = %x, want nil", got.PINHash)
	}
}

func testUnknownUser(t *testing.T, s Store) {
	mustUser(t, s, "alice")
	_, err := s.UserByName(t.Context(), "mallory")
	wantErrIs(t, "UserByName(mallory)", err, verify.ErrNotFound)
	_, err = s.UserByName(t.Context(), "ALICE")
	wantErrIs(t, "UserByName(ALICE)", err, verify.ErrNotFound)
	_, err = s.UserByID(t.Context(), missingID)
	wantErrIs(t, "UserByID(missing)", err, verify.ErrNotFound)
}

func testMissingUserUpdates(t *testing.T, s Store) {
	mustUser(t, s, "alice")
	updates := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"UpdatePassword", func(ctx context.Context) error { return s.UpdatePassword(ctx, missingID, "x") }},
		{"UpdatePIN", func(ctx context.Context) error { return s.UpdatePIN(ctx, missingID, []byte("p")) }},
		{"UpdateLevel", func(ctx context.Context) error { return s.UpdateLevel(ctx, missingID, "off") }},
		{"RenameUser", func(ctx context.Context) error { return s.RenameUser(ctx, missingID, "zed") }},
		{"DeleteUser", func(ctx context.Context) error { return s.DeleteUser(ctx, missingID) }},
		{"RecordFailure", func(ctx context.Context) error { return s.RecordFailure(ctx, missingID, t0) }},
	}
	for _, u := range updates {
		wantErrIs(t, u.name, u.call(t.Context()), verify.ErrNotFound)
	}
}

func testDeleteCascades(t *testing.T, s Store) {
	ctx := t.Context()
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	mustToken(t, s, newHOTP(alice.ID, "A1"))
	mustToken(t, s, newHOTP(alice.ID, "A2"))
	kept := mustToken(t, s, newHOTP(bob.ID, "B1"))
	if err := s.DeleteUser(ctx, alice.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, err := s.UserByID(ctx, alice.ID)
	wantErrIs(t, "UserByID(deleted)", err, verify.ErrNotFound)
	if toks, err := s.Tokens(ctx, alice.ID); err != nil || len(toks) != 0 {
		t.Errorf("Tokens(deleted user) = %d tokens, %v; want none", len(toks), err)
	}
	_, err = s.TokenBySerial(ctx, "A1")
	wantErrIs(t, "TokenBySerial(A1) after deleting its user", err, verify.ErrNotFound)
	checkToken(t, mustTokenBySerial(t, s, "B1"), kept)
}

func testUsersAfter(t *testing.T, s Store) {
	for _, name := range []string{"dave", "carol", "alice", "bob", "Eve"} {
		mustUser(t, s, name)
	}
	var pages [][]string
	after := ""
	for {
		users, err := s.UsersAfter(t.Context(), after, 2)
		if err != nil {
			t.Fatalf("UsersAfter(%q): %v", after, err)
		}
		var names []string
		for _, u := range users {
			names = append(names, u.Name)
		}
		pages = append(pages, names)
		if len(users) < 2 {
			break
		}
		after = users[len(users)-1].Name
	}
	// Byte-wise order: upper case first.
	want := [][]string{{"Eve", "alice"}, {"bob", "carol"}, {"dave"}}
	if !slices.EqualFunc(pages, want, slices.Equal) {
		t.Errorf("pages = %q, want %q", pages, want)
	}
}
