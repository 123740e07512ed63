package main

import (
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
