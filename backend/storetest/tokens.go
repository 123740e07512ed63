package storetest

import (
	"context"
	"testing"

	"github.com/otpgate/otpgate/verify"
)

var tokenCases = []testCase{
	{"creates a token and reads it back by serial and by user", testCreateToken},
	{"round-trips Key, DevicePIN, public and private ids through sealing", testSealingRoundTrip},
	{"lists only the user's own tokens, ordered by id", testTokensOfUser},
	{"returns no tokens for a user without any", testNoTokens},
	{"reads a user with their tokens in one call", testUserWithTokens},
	{"refuses a duplicate serial", testDuplicateSerial},
	{"refuses a token for a missing user", testTokenForMissingUser},
	{"enables, disables, describes and activates a token", testTokenUpdates},
	{"deletes a token", testDeleteToken},
	{"returns ErrNotFound for an unknown serial", testUnknownSerial},
	{"returns ErrNotFound when changing a missing token", testMissingTokenUpdates},
}

func testCreateToken(t *testing.T, s Store) {
	u := mustUser(t, s, "alice")
	want := newHOTP(u.ID, "HOTP-0001")
	want.NextCounter, want.LastUsed = 7, t1
	got := mustToken(t, s, want)
	if got.CreatedAt.IsZero() {
		t.Fatal("CreateToken returned a zero CreatedAt")
	}
	want.ID, want.CreatedAt = got.ID, got.CreatedAt
	checkToken(t, got, want)
	checkToken(t, mustTokenBySerial(t, s, "HOTP-0001"), want)
	toks, err := s.Tokens(t.Context(), u.ID)
	if err != nil || len(toks) != 1 {
		t.Fatalf("Tokens = %d tokens, %v; want 1", len(toks), err)
	}
	checkToken(t, toks[0], want)
}

func testSealingRoundTrip(t *testing.T, s Store) {
	u := mustUser(t, s, "alice")
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	tokens := []verify.Token{
		{Serial: "MOTP-1", Type: verify.TypeMOTP, Key: []byte("0123456789abcdef"),
			DevicePIN: "1234", Digits: 6, Period: 10, Enabled: true, LastStep: verify.NoStep},
		{Serial: "TOTP-all-bytes", Type: verify.TypeTOTP, Key: allBytes,
			Digits: 8, Algorithm: "SHA512", Period: 60, Enabled: true, LastStep: verify.NoStep},
		{Serial: "YK-1", Type: verify.TypeYubiKey, Key: make([]byte, 16), // all-zero AES key
			PublicID: "cccccccbcjdi", PrivateID: []byte{0, 1, 2, 0xfd, 0xfe, 0xff}, Enabled: true, LastStep: verify.NoStep},
		{Serial: "YC-no-key", Type: verify.TypeYubiCloud, Key: []byte{}, PublicID: "vvccccfiluij", Enabled: true, LastStep: verify.NoStep},
	}
	for _, tok := range tokens {
		tok.UserID = u.ID
		created := mustToken(t, s, tok)
		tok.ID, tok.CreatedAt = created.ID, created.CreatedAt
		checkToken(t, mustTokenBySerial(t, s, tok.Serial), tok)
	}
	listed, err := s.Tokens(t.Context(), u.ID)
	if err != nil || len(listed) != len(tokens) {
		t.Fatalf("Tokens = %d tokens, %v; want %d", len(listed), err, len(tokens))
	}
	for i, got := range listed {
		want := tokens[i]
		want.ID, want.UserID, want.CreatedAt = got.ID, u.ID, got.CreatedAt
		checkToken(t, got, want)
	}
}

func testTokensOfUser(t *testing.T, s Store) {
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	var want []verify.Token
	for _, serial := range []string{"A-3", "A-1", "A-2"} {
		want = append(want, mustToken(t, s, newHOTP(alice.ID, serial)))
		mustToken(t, s, newHOTP(bob.ID, "B"+serial))
	}
	got, err := s.Tokens(t.Context(), alice.ID)
	if err != nil {
		t.Fatalf("Tokens: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("Tokens returned %d tokens, want %d", len(got), len(want))
	}
	for i := range want { // created in id order
		checkToken(t, got[i], want[i])
	}
}

func testUserWithTokens(t *testing.T, s Store) {
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	carol := mustUser(t, s, "carol") // no tokens
	var want []verify.Token
	for _, serial := range []string{"A-2", "A-1"} {
		want = append(want, mustToken(t, s, newHOTP(alice.ID, serial)))
		mustToken(t, s, newHOTP(bob.ID, "B"+serial))
	}
	u, got, err := s.UserWithTokens(t.Context(), "alice")
	if err != nil {
		t.Fatalf("UserWithTokens(alice): %v", err)
	}
	checkUser(t, u, alice)
	if len(got) != len(want) {
		t.Fatalf("UserWithTokens returned %d tokens, want %d", len(got), len(want))
	}
	for i := range want {
		checkToken(t, got[i], want[i])
	}
	u, got, err = s.UserWithTokens(t.Context(), "carol")
	if err != nil || len(got) != 0 {
		t.Fatalf("UserWithTokens(carol) = %d tokens, %v; want none, nil", len(got), err)
	}
	checkUser(t, u, carol)
	_, _, err = s.UserWithTokens(t.Context(), "Alice")
	wantErrIs(t, "UserWithTokens(Alice)", err, verify.ErrNotFound)
}

func testNoTokens(t *testing.T, s Store) {
	u := mustUser(t, s, "alice")
	for _, id := range []int64{u.ID, missingID} {
		toks, err := s.Tokens(t.Context(), id)
		if err != nil || len(toks) != 0 {
			t.Errorf("Tokens(%d) = %d tokens, %v; want none, nil", id, len(toks), err)
		}
	}
}

func testDuplicateSerial(t *testing.T, s Store) {
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	first := mustToken(t, s, newHOTP(alice.ID, "SAME"))
	_, err := s.CreateToken(t.Context(), newHOTP(bob.ID, "SAME"))
	wantErrIs(t, "second CreateToken(SAME)", err, verify.ErrExists)
	checkToken(t, mustTokenBySerial(t, s, "SAME"), first)
	if toks, err := s.Tokens(t.Context(), bob.ID); err != nil || len(toks) != 0 {
		t.Errorf("Tokens(bob) = %d tokens, %v; want none after the refused insert", len(toks), err)
	}
}

func testTokenForMissingUser(t *testing.T, s Store) {
	_, err := s.CreateToken(t.Context(), newHOTP(missingID, "ORPHAN"))
	wantErrIs(t, "CreateToken for a missing user", err, verify.ErrNotFound)
	_, err = s.TokenBySerial(t.Context(), "ORPHAN")
	wantErrIs(t, "TokenBySerial(ORPHAN)", err, verify.ErrNotFound)
}

func testTokenUpdates(t *testing.T, s Store) {
	ctx := t.Context()
	u := mustUser(t, s, "alice")
	want := mustToken(t, s, newHOTP(u.ID, "T1"))
	steps := []struct {
		name   string
		call   func() error
		change func(*verify.Token)
	}{
		{"disable", func() error { return s.SetTokenEnabled(ctx, want.ID, false) },
			func(t *verify.Token) { t.Enabled = false }},
		{"enable", func() error { return s.SetTokenEnabled(ctx, want.ID, true) },
			func(t *verify.Token) { t.Enabled = true }},
		{"describe", func() error { return s.DescribeToken(ctx, want.ID, "Yubikey, blue") },
			func(t *verify.Token) { t.Description = "Yubikey, blue" }},
		{"activate", func() error { return s.ActivateToken(ctx, want.ID) },
			func(t *verify.Token) { t.Pending = false }},
		{"activate again", func() error { return s.ActivateToken(ctx, want.ID) },
			func(*verify.Token) {}},
	}
	for _, st := range steps {
		if err := st.call(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		st.change(&want)
		checkToken(t, mustTokenBySerial(t, s, "T1"), want)
	}
}

func testDeleteToken(t *testing.T, s Store) {
	ctx := t.Context()
	u := mustUser(t, s, "alice")
	gone := mustToken(t, s, newHOTP(u.ID, "GONE"))
	kept := mustToken(t, s, newHOTP(u.ID, "KEPT"))
	if err := s.DeleteToken(ctx, gone.ID); err != nil {
		t.Fatalf("DeleteToken: %v", err)
	}
	_, err := s.TokenBySerial(ctx, "GONE")
	wantErrIs(t, "TokenBySerial(GONE)", err, verify.ErrNotFound)
	toks, err := s.Tokens(ctx, u.ID)
	if err != nil || len(toks) != 1 {
		t.Fatalf("Tokens = %d tokens, %v; want 1", len(toks), err)
	}
	checkToken(t, toks[0], kept)
}

func testUnknownSerial(t *testing.T, s Store) {
	u := mustUser(t, s, "alice")
	mustToken(t, s, newHOTP(u.ID, "ABC"))
	for _, serial := range []string{"NOPE", "abc", ""} {
		_, err := s.TokenBySerial(t.Context(), serial)
		wantErrIs(t, "TokenBySerial("+serial+")", err, verify.ErrNotFound)
	}
}

func testMissingTokenUpdates(t *testing.T, s Store) {
	u := mustUser(t, s, "alice")
	mustToken(t, s, newHOTP(u.ID, "T1"))
	updates := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"ActivateToken", func(ctx context.Context) error { return s.ActivateToken(ctx, missingID) }},
		{"SetTokenEnabled", func(ctx context.Context) error { return s.SetTokenEnabled(ctx, missingID, false) }},
		{"DescribeToken", func(ctx context.Context) error { return s.DescribeToken(ctx, missingID, "x") }},
		{"DeleteToken", func(ctx context.Context) error { return s.DeleteToken(ctx, missingID) }},
	}
	for _, up := range updates {
		wantErrIs(t, up.name, up.call(t.Context()), verify.ErrNotFound)
	}
}
