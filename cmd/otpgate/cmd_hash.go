package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/otpgate/otpgate/backend/passwd"
)

// cmdHashPassword prints an argon2id hash of the password on stdin, with
// the configured parameters, for [[ldap.service_accounts]] password_hash.
func cmdHashPassword(e *env, args []string) error {
	if len(args) != 0 {
		return usageErr("usage: otpgate hash-password  (password on stdin)")
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	pw, err := e.stdin.readConfirmed("password")
	if err != nil {
		return err
	}
	if pw.Len() == 0 {
		return usageErr("hash-password: empty password")
	}
	hash, err := passwd.Hash([]byte(pw.Reveal()), passwd.Argon2Params{Time: cfg.Passwords.Argon2Time,
		Memory: cfg.Passwords.Argon2Memory, Threads: cfg.Passwords.Argon2Threads}, nil)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.stdout, hash)
	return err
}

// cmdAdminToken prints a new random bearer token for the admin API and the
// SHA-256 digest to list in http.admin.token_sha256 (the config never
// holds the token itself).
func cmdAdminToken(e *env, args []string) error {
	if len(args) != 0 {
		return usageErr("usage: otpgate admin-token")
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return err
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(token))
	_, err := fmt.Fprintf(e.stdout, "token: %s\ntoken_sha256 = [%q]\n", token, hex.EncodeToString(sum[:]))
	return err
}
